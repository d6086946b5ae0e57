// bomf/drivers/baselines.hpp — the fusion baselines BOMF is compared with (Jang et al., NeurIPS
// 2024, Sec. 5): best single member, last checkpoint, uniform averaging (SWA), Greedy SWA,
// Learned SWA.
//
// Each takes a `FusionEvaluator` (fusion_evaluator.hpp) and returns the same `FusionResult` as the
// fusion search. Evaluations go through the evaluator's ledger, so a δ already evaluated — by
// another baseline, by the fusion search (the members, the barycentre), or in an earlier run
// with the same journal — is never evaluated again:
//
//   bomf::FusionEvaluator evaluator(problem, "run.journal");
//   const auto bomf_result = bomf::solve(options, evaluator);
//   const auto best = bomf::best_single_member(evaluator);  // the members: all reused
//   const auto last = bomf::last_checkpoint(evaluator);     // member N − 1: reused
//   const auto swa = bomf::uniform_average(evaluator);
//   const auto greedy = bomf::greedy_swa(evaluator);         // members reused, subsets new
//   const auto learned = bomf::learned_swa(evaluator);       // needs the loss gradient
//
// The baselines work on the plain simplex (members are the vertices e_i, SWA the barycentre),
// whatever bounds a fusion search used. Failed evaluations: a failed member is skipped (an
// error if all fail), a failed Greedy-SWA candidate is not added, a failed SWA or Learned-SWA
// evaluation throws bomf::evaluation_error.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_evaluator.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_record.hpp"
#include "bomf/drivers/normalization.hpp"
#include "bomf/optim/simplex.hpp"

namespace bomf {

/// How `best_single_member` ranks the members.
enum class MemberRanking {
  metric,                 ///< by one metric (BestMemberOptions::metric), in its direction.
  normalized_metric_sum,  ///< by the sum of normalized metrics (normalization.hpp).
};

/// Settings of `best_single_member`.
struct BestMemberOptions {
  MemberRanking by = MemberRanking::metric;  ///< ranking rule.
  int metric = 0;                            ///< metric index k for MemberRanking::metric.
  NormalizationOptions normalization;        ///< for MemberRanking::normalized_metric_sum.
};

/// Progress of a baseline that takes several steps (Greedy SWA's candidate soups, Learned SWA's
/// gradient steps), handed to its `progress` callback after each step.
struct BaselineProgress {
  int step = 0;   ///< 1-based step just done
  int total = 0;  ///< steps planned
  /// Learned SWA: the validation loss at this step; Greedy SWA: the candidate soup's metric
  /// (NaN when its evaluation failed).
  double value = std::numeric_limits<double>::quiet_NaN();
  bool accepted = false;  ///< Greedy SWA: the candidate member joined the soup
};

/// Settings of `greedy_swa`.
struct GreedySwaOptions {
  int metric = 0;  ///< the validation metric k that orders members and accepts additions.
  /// Called after each candidate soup (N − 1 of them, after the members); may be empty.
  std::function<void(const BaselineProgress&)> progress;
};

/// Settings of `learned_swa`: Adam (Kingma & Ba, ICLR 2015) on θ ∈ R^N with δ = softmax(θ),
/// from θ = 0 (the uniform average). Defaults: 100 steps of learning rate 0.1 — logits move by
/// at most about 0.1 per step, so 100 steps can concentrate δ on a face (e^10 ratios) while each
/// step costs one forward/backward pass over the validation set.
struct LearnedSwaOptions {
  int steps = 100;             ///< gradient steps (≥ 0; 0 returns the uniform average).
  double learning_rate = 0.1;  ///< Adam step size (> 0).
  double beta1 = 0.9;          ///< first-moment decay, in [0, 1).
  double beta2 = 0.999;        ///< second-moment decay, in [0, 1).
  double epsilon = 1e-8;       ///< Adam's denominator offset (> 0).
  /// Called after each gradient step with its loss (`steps` calls); may be empty. Learned SWA
  /// is the slowest baseline on a real model: one forward and backward pass per step.
  std::function<void(const BaselineProgress&)> progress;

  /// Empty when valid, else the first invalid setting.
  [[nodiscard]] std::string validate() const {
    if (steps < 0)
      return detail::concat("steps is ", steps, ", expected >= 0");
    if (!(std::isfinite(learning_rate) && learning_rate > 0.0))
      return detail::concat("learning_rate is ", learning_rate, ", expected a finite value > 0");
    if (!(beta1 >= 0.0 && beta1 < 1.0))
      return detail::concat("beta1 is ", beta1, ", expected a value in [0, 1)");
    if (!(beta2 >= 0.0 && beta2 < 1.0))
      return detail::concat("beta2 is ", beta2, ", expected a value in [0, 1)");
    if (!(std::isfinite(epsilon) && epsilon > 0.0))
      return detail::concat("epsilon is ", epsilon, ", expected a finite value > 0");
    return {};
  }
};

namespace detail {

/// Counts evaluations of one baseline and builds its result.
class BaselineRun {
 public:
  BaselineRun(FusionEvaluator& evaluator, std::string method, std::string source)
      : evaluator_(evaluator), method_(std::move(method)), source_(std::move(source)) {}

  FusionRecord evaluate(const Eigen::VectorXd& delta) {
    FusionRecord r = evaluator_.evaluate(delta, source_);
    ++evaluations_;
    new_evaluations_ += r.reused ? 0 : 1;
    return r;
  }

  FusionResult result(const FusionRecord& record) const {
    FusionResult out;
    out.method = method_;
    out.delta = record.delta;
    out.evaluation = record.evaluation;
    out.evaluations = evaluations_;
    out.new_evaluations = new_evaluations_;
    out.seconds = clock_.seconds();
    return out;
  }

  FusionEvaluator& evaluator() { return evaluator_; }

 private:
  FusionEvaluator& evaluator_;
  std::string method_;
  std::string source_;
  int evaluations_ = 0;
  int new_evaluations_ = 0;
  Stopwatch clock_;
};

inline void require_metric_index(int metric, const FusionObjectives& objectives,
                                 const char* where) {
  const auto k = static_cast<int>(objectives.metrics.size());
  require(metric >= 0 && metric < k, where, "options.metric is ", metric,
          ", expected a metric index in [0, ", k, ")");
}

/// True when metric value a is at least as good as b (direction-aware).
inline bool not_worse(double a, double b, Direction direction) {
  return direction == Direction::maximize ? a >= b : a <= b;
}

/// The uniform average over `members` (indices), as a point of the plain simplex.
inline Eigen::VectorXd uniform_over(const std::vector<int>& members, int num_members) {
  Eigen::VectorXd delta = Eigen::VectorXd::Zero(num_members);
  for (const int i : members) {
    delta(i) = 1.0 / static_cast<double>(members.size());
  }
  return Simplex(num_members).repair(delta);
}

/// Evaluates the N members (vertices e_i); failed ones are returned with ok = false.
inline std::vector<FusionRecord> evaluate_members(BaselineRun& run, int num_members) {
  std::vector<FusionRecord> members;
  for (int i = 0; i < num_members; ++i) {
    Eigen::VectorXd e = Eigen::VectorXd::Zero(num_members);
    e(i) = 1.0;
    members.push_back(run.evaluate(e));
  }
  return members;
}

}  // namespace detail

/// The best single member (a simplex vertex), ranked by one metric (default metric 0) or by the
/// sum of normalized metrics. Evaluates the N members through the ledger (free when the fusion
/// search already did). Throws bomf::invalid_argument for a bad metric index or normalization
/// options, bomf::evaluation_error when every member fails.
inline FusionResult best_single_member(FusionEvaluator& evaluator,
                                       const BestMemberOptions& options = {}) {
  constexpr const char* where = "bomf::best_single_member";
  const FusionObjectives& objectives = evaluator.ledger().objectives();
  const int n = evaluator.ledger().num_members();
  if (options.by == MemberRanking::metric)
    detail::require_metric_index(options.metric, objectives, where);
  const std::string norm_error = options.normalization.validate(objectives.size());
  detail::require(norm_error.empty(), where, "invalid options.normalization: ", norm_error);
  detail::BaselineRun run(evaluator, "best member", "baseline:best_member");
  const std::vector<FusionRecord> members = detail::evaluate_members(run, n);
  // Natural values of the members, NaN rows for failed ones.
  Eigen::MatrixXd values =
      Eigen::MatrixXd::Constant(n, objectives.size(), std::numeric_limits<double>::quiet_NaN());
  for (int i = 0; i < n; ++i) {
    const FusionRecord& r = members[static_cast<std::size_t>(i)];
    if (r.ok)
      values.row(i) = natural_values(r.evaluation).transpose();
  }
  int best = -1;
  double best_score = -std::numeric_limits<double>::infinity();
  std::optional<Normalization> normalization;
  for (int i = 0; i < n; ++i) {
    if (!members[static_cast<std::size_t>(i)].ok)
      continue;
    double score = 0.0;
    if (options.by == MemberRanking::metric) {
      const Direction d = objectives.metrics[static_cast<std::size_t>(options.metric)].direction;
      score = (d == Direction::maximize ? 1.0 : -1.0) * values(i, 1 + options.metric);
    } else {
      if (!normalization)
        normalization = Normalization::from_members(objectives, values, options.normalization);
      const Eigen::VectorXd y = normalization->normalize(values.row(i).transpose());
      score = y.tail(y.size() - 1).sum();
    }
    if (score > best_score) {
      best = i;
      best_score = score;
    }
  }
  if (best < 0)
    throw evaluation_error(detail::concat(where, ": all ", n, " member evaluations failed"));
  return run.result(members[static_cast<std::size_t>(best)]);
}

/// The last checkpoint of the fine-tuning run: member N − 1 (the drivers and member_selection.hpp
/// order members by training step, so the last member is the final one), i.e. what plain
/// fine-tuning without any fusion returns. Free when the fusion search evaluated the members.
/// Throws bomf::evaluation_error when its evaluation fails.
inline FusionResult last_checkpoint(FusionEvaluator& evaluator) {
  const int n = evaluator.ledger().num_members();
  detail::BaselineRun run(evaluator, "last checkpoint", "baseline:last_checkpoint");
  const FusionRecord r = run.evaluate(Eigen::VectorXd::Unit(n, n - 1));
  if (!r.ok) {
    throw evaluation_error(
        detail::concat("bomf::last_checkpoint: the evaluation of the last "
                       "checkpoint (the last of the ",
                       n, " members) failed: ", r.error));
  }
  return run.result(r);
}

/// Uniform averaging of all N members (stochastic weight averaging, Izmailov et al., UAI 2018):
/// δ = (1/N, …, 1/N). Throws bomf::evaluation_error when its evaluation fails.
inline FusionResult uniform_average(FusionEvaluator& evaluator) {
  const int n = evaluator.ledger().num_members();
  detail::BaselineRun run(evaluator, "SWA", "baseline:swa");
  // Simplex::barycentre, the exact point the simplex optimizer offers the fusion search.
  const FusionRecord r = run.evaluate(Simplex(n).barycentre());
  if (!r.ok) {
    throw evaluation_error(
        detail::concat("bomf::uniform_average: the uniform average failed: ", r.error));
  }
  return run.result(r);
}

/// Greedy SWA, as the greedy soup of Wortsman et al., "Model soups", ICML 2022, Alg. 1: members
/// sorted by the validation metric (best first; failed members dropped), the soup starts with the
/// best one, and each next member is added only if the uniform average of the enlarged soup has
/// a metric at least as good as the current soup's. N − 1 evaluations besides the members.
/// Throws bomf::invalid_argument for a bad metric index, bomf::evaluation_error when every
/// member fails.
inline FusionResult greedy_swa(FusionEvaluator& evaluator, const GreedySwaOptions& options = {}) {
  constexpr const char* where = "bomf::greedy_swa";
  const FusionObjectives& objectives = evaluator.ledger().objectives();
  const int n = evaluator.ledger().num_members();
  detail::require_metric_index(options.metric, objectives, where);
  const Direction direction =
      objectives.metrics[static_cast<std::size_t>(options.metric)].direction;
  detail::BaselineRun run(evaluator, "Greedy SWA", "baseline:greedy_swa");
  const std::vector<FusionRecord> members = detail::evaluate_members(run, n);
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    if (members[static_cast<std::size_t>(i)].ok)
      order.push_back(i);
  }
  if (order.empty())
    throw evaluation_error(detail::concat(where, ": all ", n, " member evaluations failed"));
  const auto metric_of = [&](int i) {
    return members[static_cast<std::size_t>(i)].evaluation.metrics(options.metric);
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return direction == Direction::maximize ? metric_of(a) > metric_of(b)
                                            : metric_of(a) < metric_of(b);
  });
  std::vector<int> soup{order.front()};
  FusionRecord current = members[static_cast<std::size_t>(order.front())];
  for (std::size_t j = 1; j < order.size(); ++j) {
    std::vector<int> candidate = soup;
    candidate.push_back(order[j]);
    const FusionRecord r = run.evaluate(detail::uniform_over(candidate, n));
    const bool accepted =
        r.ok && detail::not_worse(r.evaluation.metrics(options.metric),
                                  current.evaluation.metrics(options.metric), direction);
    if (accepted) {
      soup = std::move(candidate);
      current = r;
    }
    if (options.progress) {
      BaselineProgress p;
      p.step = static_cast<int>(j);
      p.total = static_cast<int>(order.size()) - 1;
      p.value =
          r.ok ? r.evaluation.metrics(options.metric) : std::numeric_limits<double>::quiet_NaN();
      p.accepted = accepted;
      options.progress(p);
    }
  }
  return run.result(current);
}

/// Learned SWA (the "learned soup" of Wortsman et al., ICML 2022): δ = softmax(θ), θ ∈ R^N
/// from 0, trained by Adam on the differentiable validation loss through
/// problem.loss_and_gradient with the softmax chain rule ∂L/∂θ_i = δ_i (g_i − δᵀg), g = ∂L/∂δ.
/// The gradient steps are not journaled; the final δ is evaluated (and journaled) through the
/// ledger. \b Cost: options.steps calls of loss_and_gradient + 1 evaluation.
/// Throws bomf::invalid_argument when the problem has no loss gradient (has_loss_gradient() is
/// false) or for invalid options; bomf::numerical_error when the loss or gradient is not finite
/// or the gradient has the wrong length; bomf::evaluation_error when the final evaluation fails.
inline FusionResult learned_swa(FusionEvaluator& evaluator, const LearnedSwaOptions& options = {}) {
  constexpr const char* where = "bomf::learned_swa";
  FusionProblem& problem = evaluator.problem();
  detail::require(problem.has_loss_gradient(), where,
                  "Learned SWA needs the differentiable validation loss, but the problem's "
                  "has_loss_gradient() is false (implement FusionProblem::loss_and_gradient, or "
                  "pass a loss-gradient callable to make_fusion_problem)");
  const std::string error = options.validate();
  detail::require(error.empty(), where, "invalid options: ", error);
  const int n = evaluator.ledger().num_members();
  detail::BaselineRun run(evaluator, "Learned SWA", "baseline:learned_swa");
  const auto softmax = [](const Eigen::VectorXd& theta) {
    const Eigen::VectorXd e = (theta.array() - theta.maxCoeff()).exp().matrix();
    return Eigen::VectorXd(e / e.sum());
  };
  Eigen::VectorXd theta = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd first = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd second = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd gradient(n);
  const Simplex simplex(n);
  for (int step = 1; step <= options.steps; ++step) {
    const Eigen::VectorXd delta = simplex.repair(softmax(theta));
    gradient.setZero();
    const double loss = problem.loss_and_gradient(delta, gradient);
    if (gradient.size() != n) {
      throw numerical_error(detail::concat(where, ": loss_and_gradient returned a gradient of ",
                                           gradient.size(), " entries at step ", step,
                                           ", expected N = ", n));
    }
    if (!std::isfinite(loss) || !gradient.allFinite()) {
      throw numerical_error(detail::concat(where, ": the loss (", loss,
                                           ") or its gradient is not finite at step ", step,
                                           ", δ = ", delta.transpose()));
    }
    const Eigen::VectorXd g_theta =
        (delta.array() * (gradient.array() - delta.dot(gradient))).matrix();
    first = options.beta1 * first + (1.0 - options.beta1) * g_theta;
    second = options.beta2 * second + (1.0 - options.beta2) * g_theta.cwiseAbs2();
    const double c1 = 1.0 - std::pow(options.beta1, step);
    const double c2 = 1.0 - std::pow(options.beta2, step);
    theta.array() -= options.learning_rate * (first.array() / c1) /
                     ((second.array() / c2).sqrt() + options.epsilon);
    if (options.progress) {
      BaselineProgress p;
      p.step = step;
      p.total = options.steps;
      p.value = loss;
      options.progress(p);
    }
  }
  const FusionRecord r = run.evaluate(simplex.repair(softmax(theta)));
  if (!r.ok) {
    throw evaluation_error(
        detail::concat(where, ": the evaluation of the learned coefficients failed: ", r.error));
  }
  return run.result(r);
}

/// Convenience overloads on a problem (an in-memory ledger of their own: nothing is shared).
inline FusionResult best_single_member(FusionProblem& problem,
                                       const BestMemberOptions& options = {}) {
  FusionEvaluator evaluator(problem);
  return best_single_member(evaluator, options);
}
inline FusionResult last_checkpoint(FusionProblem& problem) {
  FusionEvaluator evaluator(problem);
  return last_checkpoint(evaluator);
}
inline FusionResult uniform_average(FusionProblem& problem) {
  FusionEvaluator evaluator(problem);
  return uniform_average(evaluator);
}
inline FusionResult greedy_swa(FusionProblem& problem, const GreedySwaOptions& options = {}) {
  FusionEvaluator evaluator(problem);
  return greedy_swa(evaluator, options);
}
inline FusionResult learned_swa(FusionProblem& problem, const LearnedSwaOptions& options = {}) {
  FusionEvaluator evaluator(problem);
  return learned_swa(evaluator, options);
}

}  // namespace bomf
