// A synthetic fine-tuning problem for the stage-1 tests: the validation accuracy along a run rises
// and saturates at a peak that depends smoothly on log10(learning rate) (optimum 10^-4.5), on
// the batch size 2^k (integer k, optimum k = 4: batch 16), on the warm-up fraction (optimum 0.1)
// and slightly on the scheduler (cosine +0.005). The batch size also sets the run's length
// (4 epochs of 4096 examples), as in real training. Two metrics: accuracy (maximize) and error
// rate (minimize, 1 − accuracy), so the score is 2·accuracy − 1.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/drivers/training_problem.hpp"

namespace bomf_test {

inline bomf::SearchSpace synthetic_space() {
  bomf::SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-2, bomf::Scale::log)
      .add_integer("log2_batch_size", 3, 6)
      .add_continuous("warmup", 0.0, 0.3)
      .add_categorical("scheduler", {"linear", "cosine"});
  return space;
}

inline std::vector<bomf::MetricSpec> synthetic_metrics() {
  return {{"accuracy", bomf::Direction::maximize}, {"error_rate", bomf::Direction::minimize}};
}

/// Saturation accuracy of a setting.
inline double synthetic_peak(double learning_rate, int log2_batch_size, double warmup,
                             bool cosine) {
  const double dl = std::log10(learning_rate) + 4.5;
  const double db = log2_batch_size - 4.0;
  return 0.92 - 0.05 * dl * dl - 0.03 * db * db - 0.3 * (warmup - 0.1) * (warmup - 0.1) +
         (cosine ? 0.0 : -0.005);
}

/// The trajectory of a setting: evaluations 4 times per epoch.
inline bomf::TrainingTrajectory synthetic_trajectory(double learning_rate, int log2_batch_size,
                                                     double warmup, bool cosine) {
  const long long steps_per_epoch = 4096 >> log2_batch_size;
  bomf::TrainingTrajectory t;
  t.total_steps = 4 * steps_per_epoch;
  const double peak = synthetic_peak(learning_rate, log2_batch_size, warmup, cosine);
  const long long every = steps_per_epoch / 4;
  for (long long step = every; step <= t.total_steps; step += every) {
    const double x = static_cast<double>(step) / static_cast<double>(t.total_steps);
    const double accuracy = peak * (1.0 - std::exp(-4.0 * x)) - 0.02 * x * x;
    t.add(step, 1.1 - accuracy, {accuracy, 1.0 - accuracy});
  }
  return t;
}

inline bomf::TrainingTrajectory synthetic_trajectory(const bomf::Hyperparameters& h) {
  return synthetic_trajectory(h.value("learning_rate"),
                              static_cast<int>(h.integer("log2_batch_size")), h.value("warmup"),
                              h.label("scheduler") == "cosine");
}

/// The best score reachable (at the optimum setting).
inline double synthetic_optimum() {
  const bomf::TrainingTrajectory t = synthetic_trajectory(std::pow(10.0, -4.5), 4, 0.1, true);
  double best = -1e300;
  for (const auto& p : t.points) {
    best = std::max(best, p.metrics(0) - p.metrics(1));
  }
  return best;
}

}  // namespace bomf_test
