#include "training_log.h"

#ifdef ALLOY_HAVE_CAIRO
#include <cairo.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace alloy::examples {

void TrainingLog::add(double x, const std::map<std::string, double>& values) {
  if (xs_.empty()) {
    for (const auto& [name, v] : values) columns_.push_back(name);
  } else if (values.size() != columns_.size()) {
    throw std::invalid_argument("[TrainingLog] every row must have the same columns");
  }
  for (const auto& [name, v] : values) values_[name].push_back(v);
  xs_.push_back(x);
}

void TrainingLog::write_csv(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("[TrainingLog] cannot write " + path);
  out << x_name_;
  for (const auto& c : columns_) out << "," << c;
  out << "\n";
  for (size_t i = 0; i < xs_.size(); ++i) {
    out << xs_[i];
    for (const auto& c : columns_) out << "," << values_.at(c)[i];
    out << "\n";
  }
}

#ifndef ALLOY_HAVE_CAIRO
void TrainingLog::write_png(const std::string& path, const std::string&,
                            const std::vector<std::vector<std::string>>&) const {
  throw std::runtime_error("[TrainingLog] " + path + " not drawn: built without cairo (apt-get install libcairo2-dev)");
}
#else
void TrainingLog::write_png(const std::string& path, const std::string& title,
                            const std::vector<std::vector<std::string>>& panels) const {
  const int panel_w = 480, panel_h = 340, top = 40;
  const int width = panel_w * int(std::max<size_t>(panels.size(), 1)), height = panel_h + top;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 16);
  cairo_move_to(cr, 12, 26);
  cairo_show_text(cr, title.c_str());
  const double colors[][3] = {{0.12, 0.47, 0.71}, {1.0, 0.5, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}};

  for (size_t p = 0; p < panels.size(); ++p) {
    // Plot area in this panel, with room for the axis labels.
    const double x0 = double(p) * panel_w + 60, x1 = double(p + 1) * panel_w - 20;
    const double y0 = top + 20, y1 = height - 40;
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& c : panels[p]) {
      if (!values_.count(c)) throw std::invalid_argument("[TrainingLog] no column '" + c + "'");
      for (double v : values_.at(c)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (xs_.empty() || !std::isfinite(lo)) continue;
    if (hi - lo < 1e-12) hi = lo + 1;
    const double pad = 0.05 * (hi - lo);
    lo -= pad, hi += pad;
    const double xlo = xs_.front(), xhi = xs_.size() > 1 ? xs_.back() : xs_.front() + 1;
    auto px = [&](double x) { return x0 + (x - xlo) / (xhi - xlo) * (x1 - x0); };
    auto py = [&](double y) { return y1 - (y - lo) / (hi - lo) * (y1 - y0); };

    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    char label[64];
    for (int t = 0; t <= 4; ++t) {  // y ticks
      double v = lo + (hi - lo) * t / 4;
      std::snprintf(label, sizeof(label), "%.3g", v);
      cairo_move_to(cr, x0 - 52, py(v) + 4);
      cairo_show_text(cr, label);
      cairo_move_to(cr, x0, py(v));
      cairo_line_to(cr, x0 + 4, py(v));
      cairo_stroke(cr);
    }
    for (int t = 0; t <= 4; ++t) {  // x ticks
      double v = xlo + (xhi - xlo) * t / 4;
      std::snprintf(label, sizeof(label), "%.4g", v);
      cairo_move_to(cr, px(v) - 8, y1 + 16);
      cairo_show_text(cr, label);
    }
    cairo_move_to(cr, (x0 + x1) / 2 - 20, y1 + 32);
    cairo_show_text(cr, x_name_.c_str());

    for (size_t k = 0; k < panels[p].size(); ++k) {
      const auto& ys = values_.at(panels[p][k]);
      const double* c = colors[k % 4];
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 2);
      for (size_t i = 0; i < ys.size(); ++i) {
        if (i == 0) cairo_move_to(cr, px(xs_[i]), py(ys[i]));
        else cairo_line_to(cr, px(xs_[i]), py(ys[i]));
      }
      if (ys.size() == 1) cairo_arc(cr, px(xs_[0]), py(ys[0]), 3, 0, 2 * M_PI);
      cairo_stroke(cr);
      // Legend, top right of the panel.
      cairo_move_to(cr, x1 - 150, y0 + 16 + 16 * double(k));
      cairo_show_text(cr, panels[p][k].c_str());
    }
  }
  cairo_destroy(cr);
  cairo_status_t status = cairo_surface_write_to_png(surface, path.c_str());
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error("[TrainingLog] cannot write " + path);
}
#endif

}  // namespace alloy::examples
