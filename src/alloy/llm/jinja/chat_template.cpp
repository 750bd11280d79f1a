// ChatTemplate: parse once, then render with Hugging Face's globals (raise_exception,
// strftime_now) and jinja2's (range, dict, namespace) over the caller's context.
#include <ctime>

#include "alloy/llm/jinja/parser.h"
#include "alloy/llm/jinja/render.h"
#include "alloy/llm/jinja/template.h"

namespace alloy::llm {

using namespace jinja;

namespace {

// jinja2 resolves filter and test names when it compiles a template, so a misspelled filter
// fails at load even in a branch that never runs.
void check_names(const Expr* e) {
  if (!e) return;
  if (e->kind == ExprKind::Filter && !has_filter(e->name))
    throw template_error(e->line, "No filter named '" + e->name + "'.");
  if (e->kind == ExprKind::Test && !has_test(e->name))
    throw template_error(e->line, "No test named '" + e->name + "'.");
  for (const auto& c : e->children) check_names(c.get());
  for (const auto& kv : e->kwargs) check_names(kv.second.get());
}

void check_names(const Body& body) {
  for (const auto& s : body) {
    check_names(s->expr.get());
    check_names(s->filter.get());
    for (const auto& d : s->defaults) check_names(d.get());
    for (const auto& [test, b] : s->branches) {
      check_names(test.get());
      check_names(b);
    }
    check_names(s->body);
    check_names(s->else_body);
  }
}

std::string local_strftime(const std::string& fmt) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[256];
  size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return std::string(buf, n);
}

Value builtin(const char* name, Function fn) { return Value::function(name, std::move(fn)); }

std::shared_ptr<Frame> make_globals(const std::function<std::string(const std::string&)>& strftime_now) {
  auto g = std::make_shared<Frame>();
  g->vars["raise_exception"] = builtin("raise_exception", [](const CallArgs& a) -> Value {
    throw eval_error(a.positional.empty() ? std::string() : a.positional[0].str());
  });
  g->vars["strftime_now"] = builtin("strftime_now", [strftime_now](const CallArgs& a) -> Value {
    const Value* f = a.get(0, "format");
    if (!f || !f->is_string()) throw eval_error("strftime_now() needs a format string");
    return Value(strftime_now ? strftime_now(f->as_string()) : local_strftime(f->as_string()));
  });
  g->vars["range"] = builtin("range", [](const CallArgs& a) -> Value {
    int64_t start = 0, stop = 0, step = 1;
    for (const auto& v : a.positional)
      if (v.kind() != Kind::Int && v.kind() != Kind::Bool)
        throw eval_error("'" + v.type_name() + "' object cannot be interpreted as an integer");
    if (a.positional.size() == 1) stop = a.positional[0].as_int();
    else if (a.positional.size() >= 2) {
      start = a.positional[0].as_int();
      stop = a.positional[1].as_int();
      if (a.positional.size() == 3) step = a.positional[2].as_int();
    }
    if (a.positional.empty() || a.positional.size() > 3) throw eval_error("range expected 1 to 3 arguments");
    if (step == 0) throw eval_error("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 100000)
        throw eval_error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      out.emplace_back(i);
    }
    return Value::list(std::move(out));
  });
  auto dict_of = [](const CallArgs& a, bool ns) {
    Dict d;
    if (!a.positional.empty()) {
      if (a.positional.size() > 1 || a.positional[0].kind() != Kind::Dict)
        throw eval_error("only a single mapping may be passed as a positional argument");
      d = a.positional[0].as_dict();
    }
    for (const auto& kv : a.keyword) d.set(kv.first, kv.second);
    return Value::dict(std::move(d), ns);
  };
  g->vars["namespace"] = builtin("namespace", [dict_of](const CallArgs& a) { return dict_of(a, true); });
  g->vars["dict"] = builtin("dict", [dict_of](const CallArgs& a) { return dict_of(a, false); });
  return g;
}

template <class Json>
std::string render_with(const Program& program, const Json& context,
                        const std::function<std::string(const std::string&)>& strftime_now) {
  if (!context.is_object()) throw template_error(0, "the render context must be a JSON object");
  auto globals = make_globals(strftime_now);
  auto ctx = std::make_shared<Frame>();
  ctx->parent = globals;
  for (auto it = context.begin(); it != context.end(); ++it) {
    try {
      ctx->vars[it.key()] = Value::from_json(it.value());
    } catch (const eval_error& e) {
      throw template_error(0, std::string("context key '") + it.key() + "': " + e.what());
    }
  }
  Renderer r(program, ctx);
  return r.render();
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source) : program_(parse_template(source)) { check_names(program_->body); }
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return render_with(*program_, context, strftime_now_);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render_with(*program_, context, strftime_now_);
}

void ChatTemplate::set_strftime_now(std::function<std::string(const std::string&)> fn) {
  strftime_now_ = std::move(fn);
}

}  // namespace alloy::llm
