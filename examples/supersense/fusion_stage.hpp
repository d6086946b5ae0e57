// supersense/fusion_stage.hpp — the pieces of stage 2 that the flagship's run_stage2 and the
// study program (study.cpp) share: the fusion problem on the task, the baselines, and scoring a
// chosen δ on a held-out split. Includes the fusion drivers, so it must not be included together
// with hyperparameter_search.hpp (see workflow.hpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bomf/drivers/fusion_evaluator.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"
#include "workflow.hpp"

namespace supersense {

/// The objectives of the fusion search: the validation loss (minimized), the task's metric
/// (`SupersenseTask::metric`: macro-F1, or one class's F1; metric 0 — the metric of best
/// member and Greedy SWA) and accuracy (maximized).
[[nodiscard]] bomf::FusionObjectives fusion_objectives(const SupersenseTask& task);

/// Forwards every call to a FusionProblem and reports progress: `on_gradient` after each
/// loss_and_gradient (Learned SWA's steps). Everything else is the wrapped problem's.
class ReportingProblem final : public bomf::FusionProblem {
 public:
  explicit ReportingProblem(bomf::FusionProblem& inner) : inner_(inner) {}

  [[nodiscard]] int num_members() const override { return inner_.num_members(); }
  [[nodiscard]] bomf::FusionObjectives objectives() const override { return inner_.objectives(); }
  bomf::FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    return inner_.evaluate(delta);
  }
  [[nodiscard]] bool has_loss_gradient() const override { return inner_.has_loss_gradient(); }
  double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) override {
    const double loss = inner_.loss_and_gradient(delta, gradient);
    if (on_gradient) {
      on_gradient(loss);
    }
    return loss;
  }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }

  std::function<void(double)> on_gradient;

 private:
  bomf::FusionProblem& inner_;
};

/// Stage 2's problem on a task: the members fused into one reused state dict that the model
/// function reads (a `bomf::TorchFusionProblem` in its weights form). `problem()` is what the
/// evaluators use: evaluate() scores the validation split (loss, task metric, accuracy) without
/// a graph; loss_and_gradient() (Learned SWA) returns the differentiable loss over the whole
/// validation split. `score` fuses a δ once more and scores another split. Not copyable or
/// movable (the wrapper refers to the torch problem).
class FusionStageProblem {
 public:
  /// Consumes the members; `task` must outlive the object.
  FusionStageProblem(const SupersenseTask& task, Members members);
  FusionStageProblem(const FusionStageProblem&) = delete;
  FusionStageProblem& operator=(const FusionStageProblem&) = delete;

  [[nodiscard]] ReportingProblem& problem() { return reporting_; }
  [[nodiscard]] const SupersenseTask& task() const { return task_; }
  [[nodiscard]] int num_members() const { return torch_.num_members(); }
  /// Loss, accuracy and the task's metric (in Scores::macro_f1) of the fused model at δ on
  /// `split` (test or decision: never used by any search or baseline). Throws like
  /// SupersenseTask::evaluate.
  [[nodiscard]] Scores score(const std::vector<double>& delta, Split split);

 private:
  const SupersenseTask& task_;
  bomf::TorchFusionProblem torch_;
  ReportingProblem reporting_;
};

/// Loss, accuracy and metric 0 (Scores::macro_f1) of an evaluation of the fusion objectives.
[[nodiscard]] Scores scores_of(const bomf::FusionEvaluation& e);

/// A method's row from its result (validation scores, δ, evaluations, seconds).
[[nodiscard]] MethodRow row_of(const bomf::FusionResult& r, std::string method, std::string how);

/// One line: the method's validation values, evaluations and time.
void print_method(const MethodRow& m);

/// The baselines, in the flagship's order — best single member (by validation metric 0), last
/// checkpoint, SWA, Greedy SWA (by metric 0), Learned SWA (options.learned_swa_steps Adam steps,
/// shown on `progress`) — on `evaluator`, whose problem must be `stage.problem()`. Prints and
/// returns their rows.
std::vector<MethodRow> run_baselines(const WorkflowOptions& options, FusionStageProblem& stage,
                                     bomf::FusionEvaluator& evaluator, Progress& progress);

}  // namespace supersense
