// bomf/drivers/fusion_problem.hpp — what a user implements for BOMF's fusion stage.
//
// A fusion problem has N ≥ 2 member checkpoints w_1 … w_N and evaluates the fused model
// w(δ) = Σ_i δ_i w_i for coefficients δ on the probability simplex (δ ≥ 0, Σ δ = 1): it returns
// the validation loss (minimized) and K ≥ 1 metrics (each maximized or minimized, e.g. accuracy,
// F1, BLEU, error rate), all in their natural units. The drivers (bomf/drivers/fusion_search.hpp,
// bomf/drivers/baselines.hpp) take care of normalization, the surrogate models, the journal and
// the choice of δ; the problem only evaluates.
//
// Two ways to provide one:
//  * derive from `FusionProblem` (the compiler checks the pure virtual members), or
//  * wrap callables with `make_fusion_problem(N, objectives, evaluate [, loss_and_gradient]
//    [, fingerprint])`, whose signatures are checked at compile time with messages that say
//    what is missing.
// libtorch users get a ready-made implementation in bomf/torch/torch_fusion_problem.hpp.
//
// The fingerprint. A journal (journal.hpp) lets a killed search resume without repeating an
// evaluation — which is only right if the journal's evaluations come from the same members, the
// same model and the same validation data. The drivers compare N and the objectives' names and
// directions; `fingerprint()` is how a problem says the rest. Return a short string that changes
// whenever the numbers would: the member files (paths with sizes and modification times, or a
// hash of sampled values), the validation set, the metric code version. With an empty
// fingerprint, a journal of another model or data set with the same N and metric names is
// reused silently — its evaluations then describe other models.
#pragma once

#include <Eigen/Core>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/drivers/objectives.hpp"

namespace bomf {

/// The largest magnitude of a usable loss or metric value, and of a normalization anchor or range
/// override (normalization.hpp). An evaluation with a value beyond it is recorded as failed
/// (fusion_record.hpp: a diverged model): its normalized value (value − anchor) / range would
/// otherwise swamp every other evaluation's in the GPs, or overflow the hypervolume.
inline constexpr double kFusionValueLimit = 1e15;

/// One evaluation of a fused model, in natural units (usable when finite and within
/// ±kFusionValueLimit).
struct FusionEvaluation {
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< validation loss.
  Eigen::VectorXd metrics;  ///< K values, in the order of FusionObjectives::metrics.
};

/// The interface the fusion drivers call. Implementations need not be thread-safe: the drivers
/// call them from one thread (ask/tell users may call their own copies from several workers).
class FusionProblem {
 public:
  virtual ~FusionProblem() = default;

  /// Number of members N ≥ 2 (length of every δ).
  [[nodiscard]] virtual int num_members() const = 0;

  /// The loss name and the K ≥ 1 metrics (names, directions).
  [[nodiscard]] virtual FusionObjectives objectives() const = 0;

  /// Validation loss and metrics of the model fused with coefficients `delta` (length N, on the
  /// simplex: δ ≥ 0, Σ δ = 1 within 1e-12). May throw, or return non-finite values: the drivers
  /// record such an evaluation as failed and keep it out of the surrogate models.
  virtual FusionEvaluation evaluate(const Eigen::VectorXd& delta) = 0;

  /// True when `loss_and_gradient` is implemented (needed by Learned SWA only).
  [[nodiscard]] virtual bool has_loss_gradient() const { return false; }

  /// The validation loss at `delta` and its gradient ∂loss/∂δ (resized to N). For weights fused
  /// linearly, ∂loss/∂δ_i = ⟨∇_w loss(w(δ)), w_i⟩. The default throws bomf::invalid_argument.
  virtual double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) {
    (void)delta;
    (void)gradient;
    detail::throw_invalid_argument("bomf::FusionProblem::loss_and_gradient",
                                   "this problem does not provide the loss gradient "
                                   "(has_loss_gradient() is false)");
  }

  /// A short string that identifies the problem (members, data, model), written into journal
  /// headers so that a journal from a different problem is refused on resume. Default: empty
  /// (only N and the objectives are then compared).
  [[nodiscard]] virtual std::string fingerprint() const { return {}; }
};

namespace detail {

template <class F, class = void>
struct is_fusion_evaluator : std::false_type {};
template <class F>
struct is_fusion_evaluator<
    F, std::void_t<decltype(std::declval<F&>()(std::declval<const Eigen::VectorXd&>()))>>
    : std::is_convertible<decltype(std::declval<F&>()(std::declval<const Eigen::VectorXd&>())),
                          FusionEvaluation> {};

template <class G, class = void>
struct is_loss_gradient_function : std::false_type {};
template <class G>
struct is_loss_gradient_function<
    G, std::void_t<decltype(std::declval<G&>()(std::declval<const Eigen::VectorXd&>(),
                                               std::declval<Eigen::VectorXd&>()))>>
    : std::is_convertible<decltype(std::declval<G&>()(std::declval<const Eigen::VectorXd&>(),
                                                      std::declval<Eigen::VectorXd&>())),
                          double> {};

struct no_loss_gradient {};

}  // namespace detail

/// A `FusionProblem` made of callables (see `make_fusion_problem`).
template <class Evaluate, class LossGradient = detail::no_loss_gradient>
class FunctionFusionProblem final : public FusionProblem {
  static_assert(detail::is_fusion_evaluator<Evaluate>::value,
                "bomf::make_fusion_problem: the evaluation callable must be invocable as "
                "`FusionEvaluation evaluate(const Eigen::VectorXd& delta)` (see "
                "bomf/drivers/fusion_problem.hpp and docs/tutorial.md)");
  static_assert(std::is_same<LossGradient, detail::no_loss_gradient>::value ||
                    detail::is_loss_gradient_function<LossGradient>::value,
                "bomf::make_fusion_problem: the loss-gradient callable must be invocable as "
                "`double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& "
                "gradient)`");

 public:
  FunctionFusionProblem(int num_members, FusionObjectives objectives, Evaluate evaluate,
                        LossGradient loss_gradient = {}, std::string fingerprint = {})
      : num_members_(num_members),
        objectives_(std::move(objectives)),
        evaluate_(std::move(evaluate)),
        loss_gradient_(std::move(loss_gradient)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::make_fusion_problem";
    detail::require(num_members >= 2, where, "argument 'num_members' is ", num_members,
                    ", expected at least 2 members to fuse");
    objectives_.validate(where);
  }

  [[nodiscard]] int num_members() const override { return num_members_; }
  [[nodiscard]] FusionObjectives objectives() const override { return objectives_; }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override { return evaluate_(delta); }
  [[nodiscard]] bool has_loss_gradient() const override {
    return !std::is_same<LossGradient, detail::no_loss_gradient>::value;
  }
  double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) override {
    if constexpr (std::is_same<LossGradient, detail::no_loss_gradient>::value) {
      return FusionProblem::loss_and_gradient(delta, gradient);
    } else {
      return loss_gradient_(delta, gradient);
    }
  }
  [[nodiscard]] std::string fingerprint() const override { return fingerprint_; }

 private:
  int num_members_;
  FusionObjectives objectives_;
  Evaluate evaluate_;
  LossGradient loss_gradient_;
  std::string fingerprint_;
};

/// A fusion problem from an evaluation callable `FusionEvaluation(const Eigen::VectorXd& δ)`
/// and an optional `fingerprint` identifying members, model and data (see the file comment).
/// Throws bomf::invalid_argument for N < 2 or invalid objectives.
template <class Evaluate>
FunctionFusionProblem<std::decay_t<Evaluate>> make_fusion_problem(int num_members,
                                                                  FusionObjectives objectives,
                                                                  Evaluate&& evaluate,
                                                                  std::string fingerprint = {}) {
  return FunctionFusionProblem<std::decay_t<Evaluate>>(num_members, std::move(objectives),
                                                       std::forward<Evaluate>(evaluate), {},
                                                       std::move(fingerprint));
}

/// As above, with the loss gradient `double(const Eigen::VectorXd& δ, Eigen::VectorXd& grad)`
/// (enables Learned SWA).
template <class Evaluate, class LossGradient,
          class = std::enable_if_t<!std::is_convertible_v<LossGradient, std::string>>>
FunctionFusionProblem<std::decay_t<Evaluate>, std::decay_t<LossGradient>> make_fusion_problem(
    int num_members, FusionObjectives objectives, Evaluate&& evaluate,
    LossGradient&& loss_and_gradient, std::string fingerprint = {}) {
  return FunctionFusionProblem<std::decay_t<Evaluate>, std::decay_t<LossGradient>>(
      num_members, std::move(objectives), std::forward<Evaluate>(evaluate),
      std::forward<LossGradient>(loss_and_gradient), std::move(fingerprint));
}

}  // namespace bomf
