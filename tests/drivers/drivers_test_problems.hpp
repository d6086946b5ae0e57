// Test problems shared by the driver tests (tests/drivers/, tests/torch/).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <string>
#include <utility>

#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "support/error_message.hpp"

namespace bomf::test {

/// The message of the `Exception` that `f()` throws, or a note that none was thrown (tests check
/// that error messages name the argument, the value and what was expected).
template <class Exception = bomf::invalid_argument, class F>
std::string message_of(F&& f) {
  return error_message<Exception>(std::forward<F>(f));
}

/// GoogleTest check that the message `text` contains `fragment`.
#define EXPECT_MESSAGE(text, fragment) \
  EXPECT_NE(std::string(text).find(fragment), std::string::npos) << (text)

/// A fusion problem whose loss and metric landscapes over δ disagree, as the BOMF paper
/// observes for language models:
///   loss(δ)     = 0.3 + ‖δ − b‖²                      (b the barycentre: SWA is loss-optimal),
///   accuracy(δ) = 0.6 + 0.3 exp(−‖δ − p‖² / width)     (a peak at p on a face of the simplex),
/// with p = (0.7, 0, 0.3, 0, …) by default. Every member has the loss 0.3 + (1 − 1/N)² + (N−1)/N²;
/// uniform subset averages (SWA, greedy soups) stay far from p. ∂loss/∂δ = 2(δ − b).
class DisagreeingProblem final : public FusionProblem {
 public:
  explicit DisagreeingProblem(int n = 5, double width = 0.1) : n_(n), width_(width) {
    peak_ = Eigen::VectorXd::Zero(n);
    peak_(0) = 0.7;
    peak_(2) = 0.3;
  }
  [[nodiscard]] int num_members() const override { return n_; }
  [[nodiscard]] FusionObjectives objectives() const override {
    FusionObjectives o;
    o.metrics.push_back({"accuracy", Direction::maximize});
    return o;
  }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    ++calls;
    if (hook)
      hook(delta);
    FusionEvaluation e;
    e.loss = loss(delta);
    e.metrics = Eigen::VectorXd::Constant(1, accuracy(delta));
    return e;
  }
  [[nodiscard]] bool has_loss_gradient() const override { return true; }
  double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) override {
    ++gradient_calls;
    gradient = 2.0 * (delta - barycentre());
    return loss(delta);
  }
  [[nodiscard]] std::string fingerprint() const override {
    return fingerprint_override.empty() ? "disagreeing-" + std::to_string(n_)
                                        : fingerprint_override;
  }

  [[nodiscard]] Eigen::VectorXd barycentre() const {
    return Eigen::VectorXd::Constant(n_, 1.0 / n_);
  }
  [[nodiscard]] double loss(const Eigen::VectorXd& delta) const {
    return 0.3 + (delta - barycentre()).squaredNorm();
  }
  [[nodiscard]] double accuracy(const Eigen::VectorXd& delta) const {
    return 0.6 + 0.3 * std::exp(-(delta - peak_).squaredNorm() / width_);
  }
  [[nodiscard]] const Eigen::VectorXd& peak() const { return peak_; }

  long calls = 0;
  long gradient_calls = 0;
  std::function<void(const Eigen::VectorXd&)> hook;  ///< runs inside every evaluation
  std::string fingerprint_override;                  ///< replaces the fingerprint when set

 private:
  int n_;
  double width_;
  Eigen::VectorXd peak_;
};

/// Members taken from one training trajectory whose loss and metric disagree (paper §3): member
/// i (i = 0 … N−1, in step order) has loss L_i = 0.30 + 0.03 i (the earliest is the lowest-loss
/// member) and metric M_i = 0.70 + 0.01 i (the last is the best-metric member). Fusing helps
/// both a little:
///   loss(δ)   = Σ δ_i L_i − 0.02 (1 − ‖δ‖²),   metric(δ) = Σ δ_i M_i + 0.02 (1 − ‖δ‖²).
/// No δ beats the lowest-loss member's loss AND the best-metric member's metric at once (that
/// needs Σ δ_i i < 0.53 and > 2.4 together for N = 5), so with the best member as reference
/// point the hypervolume stays 0; the metric is largest at an interior δ on the face of the last
/// members (not at a vertex).
class TrajectoryMembersProblem final : public FusionProblem {
 public:
  explicit TrajectoryMembersProblem(int n = 5) : n_(n) {}
  [[nodiscard]] int num_members() const override { return n_; }
  [[nodiscard]] FusionObjectives objectives() const override {
    FusionObjectives o;
    o.metrics.push_back({"f1", Direction::maximize});
    return o;
  }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    ++calls;
    FusionEvaluation e;
    e.loss = loss(delta);
    e.metrics = Eigen::VectorXd::Constant(1, metric(delta));
    return e;
  }
  [[nodiscard]] std::string fingerprint() const override {
    return "trajectory-" + std::to_string(n_);
  }
  [[nodiscard]] double loss(const Eigen::VectorXd& delta) const {
    return delta.dot(Eigen::VectorXd::LinSpaced(n_, 0.30, 0.30 + 0.03 * (n_ - 1))) -
           0.02 * (1.0 - delta.squaredNorm());
  }
  [[nodiscard]] double metric(const Eigen::VectorXd& delta) const {
    return delta.dot(Eigen::VectorXd::LinSpaced(n_, 0.70, 0.70 + 0.01 * (n_ - 1))) +
           0.02 * (1.0 - delta.squaredNorm());
  }
  long calls = 0;

 private:
  int n_;
};

/// Options that keep a fusion search fast in tests: few QMC samples, raw samples and restarts.
inline FusionSearchOptions fast_fusion_options(int num_initial, int num_iterations,
                                               std::uint64_t seed = 0) {
  FusionSearchOptions o;
  o.num_initial = num_initial;
  o.num_iterations = num_iterations;
  o.seed = seed;
  o.acquisition.num_samples = 32;
  o.acquisition.prune_num_samples = 256;
  o.acquisition_optimizer.raw_samples = 128;
  o.acquisition_optimizer.num_restarts = 3;
  o.acquisition_optimizer.num_near_best = 16;
  o.acquisition_optimizer.num_face_points = 16;
  o.gp.num_starts = 2;
  return o;
}

}  // namespace bomf::test
