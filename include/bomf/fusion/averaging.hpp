// bomf/fusion/averaging.hpp — baseline weight averages: uniform (SWA) and exponential moving.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "bomf/fusion/state_dict.hpp"

namespace bomf {

/// Uniform average (1/N) Σ_i w_i of N ≥ 1 members: stochastic weight averaging over saved
/// checkpoints (Izmailov et al., "Averaging Weights Leads to Wider Optima", UAI 2018), the
/// "SWA" baseline of BOMF. Same checks and single-pass kernel as `WeightFuser`.
[[nodiscard]] StateDict uniform_average(const std::vector<StateDict>& members);

/// Coefficients δ (length n ≥ 1) such that Σ_i δ_i w_i equals the exponential moving average
/// of checkpoints w_0, …, w_{n−1} started at w_0: e_0 = w_0, e_t = β e_{t−1} + (1 − β) w_t.
/// δ_0 = β^{n−1}, δ_t = (1 − β) β^{n−1−t} for t ≥ 1; they sum to 1. Throws
/// `bomf::invalid_argument` unless n ≥ 1 and 0 ≤ β ≤ 1 (`decay`).
[[nodiscard]] Eigen::VectorXd ema_coefficients(std::size_t n, double decay);

/// An exponential moving average of weights maintained during training (Polyak averaging):
/// the first `update` copies the state dict, later ones compute e ← β e + (1 − β) w in place.
/// Floating tensors are averaged in at least fp32: a bf16 or fp16 update is folded into an fp32
/// shadow of the average (a 16-bit average stalls: with β = 0.999 the step (1 − β)(w − e) stays
/// below half an ulp of a bf16 e until |w − e| exceeds about 2 to 4 |e|), f32 and f64 updates
/// into an average of their own dtype (through the fusion kernel: one pass, fp32 or fp64
/// accumulation). Non-floating tensors follow the latest update.
class ExponentialMovingAverage {
 public:
  /// β = `decay` in [0, 1]; throws `bomf::invalid_argument` otherwise.
  explicit ExponentialMovingAverage(double decay);

  /// Folds `current` into the average. Throws `bomf::invalid_argument` when its names, shapes
  /// or dtypes differ from the first update's (naming the tensor), or a tensor is not on the CPU.
  void update(const StateDict& current);

  /// The current average in its accumulation dtypes: fp32 for bf16/fp16 updates, else the
  /// updates' dtype (empty before the first update).
  [[nodiscard]] const StateDict& average() const noexcept { return average_; }
  /// The current average in the updates' dtypes (bf16/fp16 tensors rounded to nearest from the
  /// fp32 shadow; the others are the tensors of `average()`, shared, not copied).
  [[nodiscard]] StateDict rounded_average() const;
  /// Number of updates so far.
  [[nodiscard]] std::size_t num_updates() const noexcept { return updates_; }
  /// β.
  [[nodiscard]] double decay() const noexcept { return decay_; }

 private:
  double decay_;
  std::size_t updates_ = 0;
  StateDict average_;
  std::vector<at::ScalarType> update_dtypes_;  ///< per tensor of average_, the updates' dtype
};

}  // namespace bomf
