// bomf/drivers/training_problem.hpp — what a user implements for BOMF's first stage, the
// hyperparameter search (paper §4.2, Algorithm 1 lines 1–10), and for the run that collects the
// fusion members (§4.1, Algorithm 1 lines 11–18).
//
// A training problem has
//  * a hyperparameter `SearchSpace` (bomf/optim/search_space.hpp): continuous (linear or
//    log-scaled, e.g. the learning rate), integer and categorical dimensions;
//  * K ≥ 1 validation metrics (names and directions, `MetricSpec` of objectives.hpp);
//  * `train(hyperparameters, context)`: trains a model from its initial (pre-trained) weights
//    with the given `Hyperparameters` and returns the `TrainingTrajectory`: the validation loss
//    and the K metrics at the steps where it evaluated, and the total number of steps.
//
// Checkpoints. The library never holds model weights (the core is libtorch-free): the training
// loop keeps them itself, in memory (a libtorch loop cloning its state dict at the planned steps)
// or on disk (one file per kept step). The `TrainingContext` passed to `train` says whether this
// run should collect fusion members and which steps to keep: call
// `context.plan_members(total_steps)` once the run's length is known (it may depend on the
// hyperparameters, e.g. on the batch size), then `context.is_member_step(step)` inside the loop,
// and record the steps actually kept in `TrainingTrajectory::checkpoint_steps`:
//
//   bomf::TrainingTrajectory train(const bomf::Hyperparameters& h,
//                                  bomf::TrainingContext& context) override {
//     const long long total = epochs_ * batches_per_epoch(h.integer("batch_size"));
//     context.plan_members(total);               // no-op plan unless members are collected
//     bomf::TrainingTrajectory trajectory;
//     trajectory.total_steps = total;
//     for (long long step = 1; step <= total; ++step) {
//       optimizer_step(h.value("learning_rate"));
//       if (context.is_member_step(step)) {      // keep exactly the planned checkpoints
//         members_.push_back(clone_state_dict(model_));   // or save to a file
//         trajectory.checkpoint_steps.push_back(step);
//       }
//       if (step % eval_every_ == 0 || step == total) {
//         const auto [loss, accuracy, f1] = validate(model_);
//         trajectory.add(step, loss, {accuracy, f1});
//       }
//     }
//     return trajectory;
//   }
//
// Provide a problem by deriving from `TrainingProblem`, or wrap a callable with
// `make_training_problem(space, metrics, train [, fingerprint])`, whose signature is checked at
// compile time.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/objectives.hpp"
#include "bomf/optim/hyperparameters.hpp"
#include "bomf/optim/search_space.hpp"

namespace bomf {

/// One evaluation of the model during training.
struct TrajectoryPoint {
  long long step = 0;  ///< optimizer updates done (0 = the initial model)
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< validation loss (NaN if unknown)
  Eigen::VectorXd metrics;  ///< the K metric values, in the order of the problem's metrics
};

/// What a training run reports: its evaluations in step order, its length and the checkpoints it
/// kept. Non-finite metric values are allowed (a diverged run): such points never count as the
/// best point of the run (see bomf/drivers/hyperparameter_search.hpp).
struct TrainingTrajectory {
  /// Total optimizer steps of the run (the T of the member policy). 0 = the step of the last
  /// point (the drivers fill it in).
  long long total_steps = 0;
  /// Evaluations, steps strictly increasing in 0 … total_steps.
  std::vector<TrajectoryPoint> points;
  /// Steps whose checkpoint the training loop kept (strictly increasing), e.g. those planned by
  /// TrainingContext::plan_members. Only recorded (and journaled) by the drivers.
  std::vector<long long> checkpoint_steps;

  /// Appends an evaluation at `step` (must exceed the previous point's step; checked by
  /// `validate`).
  void add(long long step, double loss, Eigen::VectorXd metrics) {
    points.push_back(TrajectoryPoint{step, loss, std::move(metrics)});
  }
  /// As above, metrics given as a list: `trajectory.add(100, 0.41, {0.87, 0.79})`.
  void add(long long step, double loss, std::initializer_list<double> metrics) {
    Eigen::VectorXd m(static_cast<Eigen::Index>(metrics.size()));
    Eigen::Index k = 0;
    for (const double v : metrics) {
      m(k++) = v;
    }
    add(step, loss, std::move(m));
  }

  /// Number of points.
  [[nodiscard]] std::size_t size() const noexcept { return points.size(); }
  /// True without points.
  [[nodiscard]] bool empty() const noexcept { return points.empty(); }
  /// The steps of the points.
  [[nodiscard]] std::vector<long long> steps() const {
    std::vector<long long> s;
    s.reserve(points.size());
    for (const TrajectoryPoint& p : points) {
      s.push_back(p.step);
    }
    return s;
  }
  /// total_steps, or the last point's step when total_steps is 0 (0 when also empty).
  [[nodiscard]] long long effective_total_steps() const noexcept {
    if (total_steps > 0 || points.empty()) {
      return total_steps;
    }
    return points.back().step;
  }

  /// Throws bomf::invalid_argument (prefixed by `where`) for a programming error: a point with a
  /// number of metric values other than `num_metrics` (naming the point, expected and actual
  /// counts), negative or non-increasing steps, steps beyond total_steps, total_steps outside
  /// 0 … 2^50, or checkpoint steps that are not strictly increasing within 0 … total steps.
  void validate(std::size_t num_metrics, const char* where) const {
    detail::require(total_steps >= 0 && total_steps <= max_training_steps, where,
                    "trajectory total_steps is ", total_steps, ", expected 0 … 2^50");
    for (std::size_t i = 0; i < points.size(); ++i) {
      const TrajectoryPoint& p = points[i];
      detail::require(static_cast<std::size_t>(p.metrics.size()) == num_metrics, where,
                      "trajectory point ", i, " (step ", p.step, ") has ", p.metrics.size(),
                      " metric values, expected ", num_metrics,
                      " (one per metric of the problem, in its order)");
      detail::require(p.step >= 0 && p.step <= max_training_steps, where, "trajectory point ", i,
                      " has step ", p.step, ", expected 0 … 2^50");
      detail::require(i == 0 || p.step > points[i - 1].step, where, "trajectory point ", i,
                      " has step ", p.step, " after step ", i == 0 ? 0 : points[i - 1].step,
                      ", expected strictly increasing steps");
      detail::require(total_steps == 0 || p.step <= total_steps, where, "trajectory point ", i,
                      " has step ", p.step, ", beyond total_steps = ", total_steps);
    }
    const long long total = effective_total_steps();
    for (std::size_t i = 0; i < checkpoint_steps.size(); ++i) {
      const long long s = checkpoint_steps[i];
      detail::require(s >= 0 && (total == 0 || s <= total), where, "checkpoint_steps[", i, "] is ",
                      s, ", expected a step in 0 … ", total);
      detail::require(i == 0 || s > checkpoint_steps[i - 1], where, "checkpoint_steps[", i, "] is ",
                      s, ", expected strictly increasing steps");
    }
  }
};

/// What a training run is asked to do besides training: whether to collect fusion members, and
/// which steps to keep (the member policy of bomf/drivers/member_selection.hpp). Created by the
/// drivers; users may build one to call `train` themselves.
class TrainingContext {
 public:
  /// `run_index` of the final run that collects the members (`train_members`).
  static constexpr int final_run = -1;

  /// A context that collects no members (run index 0).
  TrainingContext() = default;

  /// Run `run_index` (0-based position in the search, `final_run` for the member run);
  /// `collect_members`: whether the loop should keep the planned checkpoints; `options` and
  /// `anchor_step` (no value = the run's total steps): the member policy. Throws
  /// bomf::invalid_argument for invalid options or a negative anchor.
  TrainingContext(int run_index, bool collect_members, MemberSelectionOptions options = {},
                  std::optional<long long> anchor_step = {})
      : run_index_(run_index),
        collect_(collect_members),
        options_(options),
        anchor_step_(anchor_step) {
    const std::string error = options_.validate();
    detail::require(error.empty(), "bomf::TrainingContext", "invalid member options: ", error);
    detail::require(!anchor_step || *anchor_step >= 0, "bomf::TrainingContext",
                    "argument 'anchor_step' is ", anchor_step.value_or(0),
                    ", expected >= 0 (or no value: the run's total steps)");
  }

  /// Position of this run in the search (0, 1, …; the journal's "index"), or `final_run`. Handy
  /// for naming checkpoint files.
  [[nodiscard]] int run_index() const noexcept { return run_index_; }
  /// Whether this run should keep the checkpoints of its member steps.
  [[nodiscard]] bool collect_members() const noexcept { return collect_; }
  /// The member policy.
  [[nodiscard]] const MemberSelectionOptions& member_options() const noexcept { return options_; }
  /// The anchor of the member window (no value = the run's total steps).
  [[nodiscard]] std::optional<long long> anchor_step() const noexcept { return anchor_step_; }

  /// Plans the member steps of a run of `total_steps` steps in which any step can be kept:
  /// `select_member_steps(total_steps, member_options(), anchor_step())` when collecting
  /// members, else nothing. Returns (and remembers, for `is_member_step`) the plan.
  /// Throws bomf::invalid_argument as select_member_steps.
  const std::vector<long long>& plan_members(long long total_steps) {
    plan_.clear();
    if (collect_) {
      plan_ = select_member_steps(total_steps, options_, anchor_step_);
    }
    return plan_;
  }

  /// As above when only `available_steps` can be kept (e.g. checkpoints saved every epoch).
  const std::vector<long long>& plan_members(const std::vector<long long>& available_steps,
                                             long long total_steps) {
    plan_.clear();
    if (collect_) {
      plan_ = select_member_steps(available_steps, total_steps, options_, anchor_step_);
    }
    return plan_;
  }

  /// The last plan (empty before `plan_members` or when not collecting).
  [[nodiscard]] const std::vector<long long>& member_steps() const noexcept { return plan_; }

  /// True when `step` is in the last plan. \b Cost: O(log count).
  [[nodiscard]] bool is_member_step(long long step) const {
    return std::binary_search(plan_.begin(), plan_.end(), step);
  }

 private:
  int run_index_ = 0;
  bool collect_ = false;
  MemberSelectionOptions options_;
  std::optional<long long> anchor_step_;
  std::vector<long long> plan_;
};

/// The interface the stage-1 driver calls (bomf/drivers/hyperparameter_search.hpp). Need not be
/// thread-safe: the drivers call it from one thread.
class TrainingProblem {
 public:
  virtual ~TrainingProblem() = default;

  /// The hyperparameters searched (at least one dimension).
  [[nodiscard]] virtual SearchSpace search_space() const = 0;

  /// The K ≥ 1 validation metrics (names, directions), in the order of every
  /// TrajectoryPoint::metrics.
  [[nodiscard]] virtual std::vector<MetricSpec> metrics() const = 0;

  /// Trains from the initial weights with `hyperparameters` (a valid setting of search_space())
  /// and returns the trajectory. May throw, or return a trajectory without a finite point: the
  /// driver records the run as failed and keeps it out of the surrogate. A trajectory whose points
  /// have the wrong number of metric values is a programming error (bomf::invalid_argument).
  virtual TrainingTrajectory train(const Hyperparameters& hyperparameters,
                                   TrainingContext& context) = 0;

  /// A short string identifying the problem (model, data, schedule), written into journal
  /// headers so that a journal of another problem is refused. Default: empty.
  [[nodiscard]] virtual std::string fingerprint() const { return {}; }
};

namespace detail {

template <class F, class = void>
struct is_contextual_trainer : std::false_type {};
template <class F>
struct is_contextual_trainer<
    F, std::void_t<decltype(std::declval<F&>()(std::declval<const Hyperparameters&>(),
                                               std::declval<TrainingContext&>()))>>
    : std::is_convertible<decltype(std::declval<F&>()(std::declval<const Hyperparameters&>(),
                                                      std::declval<TrainingContext&>())),
                          TrainingTrajectory> {};

template <class F, class = void>
struct is_plain_trainer : std::false_type {};
template <class F>
struct is_plain_trainer<
    F, std::void_t<decltype(std::declval<F&>()(std::declval<const Hyperparameters&>()))>>
    : std::is_convertible<decltype(std::declval<F&>()(std::declval<const Hyperparameters&>())),
                          TrainingTrajectory> {};

}  // namespace detail

/// A `TrainingProblem` made of a callable (see `make_training_problem`).
template <class Train>
class FunctionTrainingProblem final : public TrainingProblem {
  static_assert(detail::is_contextual_trainer<Train>::value ||
                    detail::is_plain_trainer<Train>::value,
                "bomf::make_training_problem: the training callable must be invocable as "
                "`TrainingTrajectory train(const Hyperparameters& h, TrainingContext& context)` "
                "or `TrainingTrajectory train(const Hyperparameters& h)` (see "
                "bomf/drivers/training_problem.hpp and docs/tutorial.md)");

 public:
  FunctionTrainingProblem(SearchSpace space, std::vector<MetricSpec> metrics, Train train,
                          std::string fingerprint = {})
      : space_(std::move(space)),
        metrics_(std::move(metrics)),
        train_(std::move(train)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::make_training_problem";
    space_.require_nonempty(where);
    validate_metric_specs(metrics_, where);
  }

  [[nodiscard]] SearchSpace search_space() const override { return space_; }
  [[nodiscard]] std::vector<MetricSpec> metrics() const override { return metrics_; }
  TrainingTrajectory train(const Hyperparameters& hyperparameters,
                           TrainingContext& context) override {
    if constexpr (detail::is_contextual_trainer<Train>::value) {
      return train_(hyperparameters, context);
    } else {
      (void)context;
      return train_(hyperparameters);
    }
  }
  [[nodiscard]] std::string fingerprint() const override { return fingerprint_; }

 private:
  SearchSpace space_;
  std::vector<MetricSpec> metrics_;
  Train train_;
  std::string fingerprint_;
};

/// A training problem from a callable `TrainingTrajectory(const Hyperparameters&,
/// TrainingContext&)` (or without the context, when the run never keeps members). Throws
/// bomf::invalid_argument for an empty space, no metric, or empty/duplicate metric names.
template <class Train>
FunctionTrainingProblem<std::decay_t<Train>> make_training_problem(SearchSpace space,
                                                                   std::vector<MetricSpec> metrics,
                                                                   Train&& train,
                                                                   std::string fingerprint = {}) {
  return FunctionTrainingProblem<std::decay_t<Train>>(
      std::move(space), std::move(metrics), std::forward<Train>(train), std::move(fingerprint));
}

}  // namespace bomf
