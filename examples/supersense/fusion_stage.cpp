// supersense/fusion_stage.cpp — stage 2 (BOMF fusion search), the baselines and the test
// evaluation (see workflow.hpp).
#include <ATen/core/grad_mode.h>
#include <ATen/ops/scalar_tensor.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_evaluator.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"
#include "workflow.hpp"

namespace supersense {

namespace {

/// Objective 0 is the loss, 1 macro-F1 (metric 0: the metric of best member and Greedy SWA),
/// 2 accuracy.
bomf::FusionObjectives fusion_objectives() {
  return bomf::FusionObjectives{
      "loss", {{"macro_f1", bomf::Direction::maximize}, {"accuracy", bomf::Direction::maximize}}};
}

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

Scores scores_of(const bomf::FusionEvaluation& e) {
  Scores s;
  s.loss = e.loss;
  if (e.metrics.size() == 2) {
    s.macro_f1 = e.metrics(0);
    s.accuracy = e.metrics(1);
  }
  return s;
}

std::vector<double> to_vector(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

MethodRow row_of(const bomf::FusionResult& r, std::string method, std::string how) {
  MethodRow row;
  row.method = std::move(method);
  row.how = std::move(how);
  row.delta = to_vector(r.delta);
  row.validation = scores_of(r.evaluation);
  row.evaluations = r.evaluations;
  row.new_evaluations = r.new_evaluations;
  row.seconds = r.seconds;
  return row;
}

void print_method(const MethodRow& m) {
  std::printf("  %-16s val loss %.4f  acc %.4f  F1 %.4f  (%d evaluations, %d new, %.1f s)\n",
              m.method.c_str(), m.validation.loss, m.validation.accuracy, m.validation.macro_f1,
              m.evaluations, m.new_evaluations, m.seconds);
  std::fflush(stdout);
}

}  // namespace

void run_stage2(const SupersenseTask& task, const WorkflowOptions& options, Members members,
                Progress& progress, WorkflowReport& report) {
  const int n = static_cast<int>(members.parameters.size());

  // The fusion problem: members fused into one reused state dict that the model function reads.
  // evaluate() calls the validation function under NoGradGuard: it then computes loss, macro-F1
  // and accuracy without a graph. loss_and_gradient() (Learned SWA) calls it with gradients
  // enabled: it then returns the differentiable loss over the whole validation split; the
  // metrics are not used there (NaN).
  bomf::TorchFusionOptions torch_options;
  torch_options.fingerprint_extra = task.fingerprint();
  bomf::TorchFusionProblem torch_problem(
      std::move(members.parameters), fusion_objectives(),
      [&task](const bomf::StateDict& fused) {
        if (at::GradMode::is_enabled()) {
          const double nan = std::numeric_limits<double>::quiet_NaN();
          return bomf::TorchValidation{task.validation_loss_tensor(fused), {nan, nan}};
        }
        const Metrics m = task.evaluate(fused, Split::validation);
        return bomf::TorchValidation{at::scalar_tensor(m.loss, at::kDouble),
                                     {m.macro_f1, m.accuracy}};
      },
      torch_options);
  ReportingProblem problem(torch_problem);
  const std::string journal =
      options.journal.empty() ? std::string() : options.journal + ".fusion.jsonl";
  bomf::FusionEvaluator evaluator(problem, journal);

  // ---- Stage 2: BOMF.
  bomf::FusionSearchOptions o;
  o.seed = options.seed;
  o.num_initial = options.fusion_initial;
  o.num_iterations = options.fusion_iterations;
  const int num_initial = o.num_initial < 0 ? n : o.num_initial;
  const int num_iterations = o.num_iterations < 0 ? 5 * n : o.num_iterations;
  const int budget = n + num_initial + num_iterations;
  report.fusion_summary = bomf::detail::concat(
      "N = ", n,
      " members. Objectives on the validation split: loss (minimized), macro-F1 and "
      "accuracy (maximized), min-max normalized as in the paper (App. A.3: anchor = best member, "
      "ranges 1.0 for the loss and 0.1 for the metrics, reference point 0). Budget: the ",
      n, " members, ", num_initial, " quasi-random δ and ", num_iterations,
      " log-qNEHVI iterations (one GP per objective, Matérn-5/2 with BoTorch 0.11's priors, "
      "refitted every iteration). BOMF's δ: the evaluated Pareto point with the largest sum of "
      "normalized metrics (Eq. 1).");
  progress.start("stage 2: fusion search", budget);
  o.callback = [&](const bomf::FusionIteration& it) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "%s, HV %.4g, best F1 %.4f", bomf::to_string(it.proposal),
                  it.hypervolume, it.best_metrics.size() > 0 ? it.best_metrics(0) : NAN);
    progress.update(it.index + 1, detail);
    return true;
  };
  StageTimer search_timer(report, "stage 2: fusion search (BOMF)");
  bomf::FusionSummary summary;
  const bomf::FusionResult bomf_result = bomf::solve(o, evaluator, &summary);
  search_timer.stop();
  progress.finish();
  std::printf("%s\n", summary.brief_report().c_str());

  std::set<int> pareto(summary.pareto_set.trace_indices.begin(),
                       summary.pareto_set.trace_indices.end());
  for (const bomf::FusionIteration& it : summary.trace) {
    FusionRow row;
    row.index = it.index;
    row.phase = bomf::to_string(it.proposal);
    row.ok = it.ok;
    row.reused = it.reused;
    row.replayed = it.replayed;
    row.pareto = pareto.count(it.index) > 0;
    row.delta = to_vector(it.delta);
    row.validation = scores_of(it.evaluation);
    row.hypervolume = it.hypervolume;
    row.fit_seconds = it.fit_seconds;
    row.acquisition_seconds = it.acquisition_seconds;
    row.evaluation_seconds = it.evaluation_seconds;
    report.fusion.push_back(std::move(row));
  }
  report.fusion_fit_seconds = summary.fit_seconds;
  report.fusion_acquisition_seconds = summary.acquisition_seconds;
  report.fusion_evaluation_seconds = summary.evaluation_seconds;
  report.fusion_total_seconds = summary.total_seconds;
  report.fusion_replayed = summary.num_replayed;

  report.methods.push_back(row_of(
      bomf_result, "BOMF", "log-qNEHVI Pareto point with the best normalized F1 + accuracy"));
  print_method(report.methods.back());

  // ---- Baselines, on the same evaluator: members and shared δs come from the ledger.
  StageTimer baseline_timer(report, "baselines");
  bomf::BestMemberOptions best_options;
  best_options.metric = 0;  // macro-F1
  report.methods.push_back(row_of(bomf::best_single_member(evaluator, best_options), "Best member",
                                  "member with the best validation macro-F1"));
  print_method(report.methods.back());
  {
    const auto start = std::chrono::steady_clock::now();
    Eigen::VectorXd last = Eigen::VectorXd::Zero(n);
    last(n - 1) = 1.0;
    const bomf::FusionRecord r = evaluator.evaluate(last, "baseline:last_checkpoint");
    if (!r.ok) {
      throw bomf::evaluation_error("the last checkpoint's evaluation failed: " + r.error);
    }
    MethodRow row;
    row.method = "Last checkpoint";
    row.how = "the final step of fine-tuning";
    row.delta = to_vector(r.delta);
    row.validation = scores_of(r.evaluation);
    row.evaluations = 1;
    row.new_evaluations = r.reused ? 0 : 1;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.methods.push_back(row);
    print_method(report.methods.back());
  }
  report.methods.push_back(
      row_of(bomf::uniform_average(evaluator), "SWA", "uniform average of the members"));
  print_method(report.methods.back());
  bomf::GreedySwaOptions greedy_options;
  greedy_options.metric = 0;  // macro-F1
  report.methods.push_back(row_of(bomf::greedy_swa(evaluator, greedy_options), "Greedy SWA",
                                  "greedy soup by validation macro-F1"));
  print_method(report.methods.back());
  bomf::LearnedSwaOptions learned_options;
  learned_options.steps = options.learned_swa_steps;
  progress.start("Learned SWA (Adam on the validation loss)", learned_options.steps);
  int step = 0;
  problem.on_gradient = [&](double loss) {
    char detail[48];
    std::snprintf(detail, sizeof detail, "loss %.4f", loss);
    progress.update(++step, detail);
  };
  report.methods.push_back(row_of(bomf::learned_swa(evaluator, learned_options), "Learned SWA",
                                  bomf::detail::concat("softmax(θ), ", learned_options.steps,
                                                       " Adam steps on the validation loss")));
  problem.on_gradient = nullptr;
  progress.finish();
  print_method(report.methods.back());
  baseline_timer.stop();

  // ---- The test split: each method's δ fused once more and evaluated; nothing is chosen here.
  StageTimer test_timer(report, "test evaluation");
  for (MethodRow& m : report.methods) {
    const Eigen::VectorXd delta = Eigen::Map<const Eigen::VectorXd>(
        m.delta.data(), static_cast<Eigen::Index>(m.delta.size()));
    torch_problem.fuse(delta);
    const Metrics t = task.evaluate(torch_problem.fused_weights(), Split::test);
    m.test = {t.loss, t.accuracy, t.macro_f1};
  }
  test_timer.stop();
}

}  // namespace supersense
