// Learning-rate schedules, as mlx.optimizers' schedulers: a function of the step, which counts
// from 0 (the first update uses schedule(0)). A warmup is a linear schedule joined to the rest:
//
//   auto lr = optim::join_schedules({optim::linear_schedule(0.0, 1e-3, 100),
//                                    optim::cosine_decay(1e-3, 1000)}, {100});
//   optim::AdamW opt({.lr = lr});
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace alloy::optim {

using Schedule = std::function<double(int64_t step)>;

// end + (init - end) * 0.5 (1 + cos(pi min(step, decay_steps) / decay_steps)).
Schedule cosine_decay(double init, int64_t decay_steps, double end = 0.0);
// init * decay_rate^step.
Schedule exponential_decay(double init, double decay_rate);
// init * decay_rate^floor(step / step_size).
Schedule step_decay(double init, double decay_rate, int64_t step_size);
// From init to end in `steps` steps, then end.
Schedule linear_schedule(double init, double end, int64_t steps);
// schedules[0] until boundaries[0], then schedules[1] with its own step counted from
// boundaries[0] (it sees step - boundaries[0]), and so on. boundaries: increasing, one fewer
// than the schedules.
Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int64_t> boundaries);

}  // namespace alloy::optim
