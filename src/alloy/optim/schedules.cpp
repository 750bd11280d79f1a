#include "alloy/optim/schedules.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace alloy::optim {

Schedule cosine_decay(double init, int64_t decay_steps, double end) {
  if (decay_steps <= 0) {
    throw std::invalid_argument("[cosine_decay] decay_steps must be positive, got " +
                                std::to_string(decay_steps));
  }
  return [=](int64_t step) {
    double s = double(std::min(step, decay_steps));
    double decay = 0.5 * (1.0 + std::cos(M_PI / double(decay_steps) * s));
    return end + decay * (init - end);
  };
}

Schedule exponential_decay(double init, double decay_rate) {
  return [=](int64_t step) { return init * std::pow(decay_rate, double(step)); };
}

Schedule step_decay(double init, double decay_rate, int64_t step_size) {
  if (step_size <= 0) {
    throw std::invalid_argument("[step_decay] step_size must be positive, got " +
                                std::to_string(step_size));
  }
  return [=](int64_t step) {
    // Floor division, so that a negative step does not round toward 0.
    int64_t k = step >= 0 ? step / step_size : -((-step + step_size - 1) / step_size);
    return init * std::pow(decay_rate, double(k));
  };
}

Schedule linear_schedule(double init, double end, int64_t steps) {
  if (steps < 1) {
    throw std::invalid_argument("[linear_schedule] steps must be at least 1, got " +
                                std::to_string(steps));
  }
  return [=](int64_t step) {
    return double(std::min(step, steps)) * ((end - init) / double(steps)) + init;
  };
}

Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int64_t> boundaries) {
  if (schedules.empty()) throw std::invalid_argument("[join_schedules] needs at least one schedule");
  if (schedules.size() != boundaries.size() + 1) {
    throw std::invalid_argument("[join_schedules] needs one boundary fewer than schedules, got " +
                                std::to_string(schedules.size()) + " schedules and " +
                                std::to_string(boundaries.size()) + " boundaries");
  }
  for (size_t i = 0; i < schedules.size(); ++i) {
    if (!schedules[i]) throw std::invalid_argument("[join_schedules] schedule " + std::to_string(i) + " is empty");
  }
  for (size_t i = 0; i < boundaries.size(); ++i) {
    if (boundaries[i] < 0 || (i > 0 && boundaries[i] <= boundaries[i - 1])) {
      throw std::invalid_argument("[join_schedules] boundaries must be non-negative and increasing");
    }
  }
  return [schedules = std::move(schedules), boundaries = std::move(boundaries)](int64_t step) {
    size_t i = size_t(std::upper_bound(boundaries.begin(), boundaries.end(), step) - boundaries.begin());
    return schedules[i](i == 0 ? step : step - boundaries[i - 1]);
  };
}

}  // namespace alloy::optim
