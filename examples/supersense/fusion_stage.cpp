// supersense/fusion_stage.cpp — stage 2 (BOMF fusion search), the baselines and the test
// evaluation (see workflow.hpp), and the pieces the study program shares (fusion_stage.hpp).
#include "fusion_stage.hpp"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/scalar_tensor.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"
#include "workflow.hpp"

namespace supersense {

bomf::FusionObjectives fusion_objectives(const SupersenseTask& task) {
  return bomf::FusionObjectives{
      "loss",
      {{task.metric_name(), bomf::Direction::maximize}, {"accuracy", bomf::Direction::maximize}}};
}

namespace {

bomf::TorchFusionOptions torch_options(const SupersenseTask& task) {
  bomf::TorchFusionOptions o;
  o.fingerprint_extra = task.fingerprint();
  return o;
}

/// "macro-F1" for the multi-class task, else the metric's name.
std::string metric_label(const SupersenseTask& task) {
  const std::string name = task.metric_name();
  return name == "macro_f1" ? "macro-F1" : name;
}

std::vector<double> to_vector(const Eigen::VectorXd& v) {
  return std::vector<double>(v.data(), v.data() + v.size());
}

}  // namespace

// evaluate() calls the validation function under NoGradGuard: it then computes loss, metric and
// accuracy without a graph. loss_and_gradient() (Learned SWA) calls it with gradients enabled:
// it then returns the differentiable loss over the whole validation split; the metrics are not
// used there (NaN).
FusionStageProblem::FusionStageProblem(const SupersenseTask& task, Members members)
    : task_(task),
      torch_(
          std::move(members.parameters), fusion_objectives(task),
          [&task](const bomf::StateDict& fused) {
            if (at::GradMode::is_enabled()) {
              const double nan = std::numeric_limits<double>::quiet_NaN();
              return bomf::TorchValidation{task.validation_loss_tensor(fused), {nan, nan}};
            }
            const Metrics m = task.evaluate(fused, Split::validation);
            return bomf::TorchValidation{at::scalar_tensor(m.loss, at::kDouble),
                                         {task.metric(m), m.accuracy}};
          },
          torch_options(task)),
      reporting_(torch_) {}

Scores FusionStageProblem::score(const std::vector<double>& delta, Split split) {
  torch_.fuse(
      Eigen::Map<const Eigen::VectorXd>(delta.data(), static_cast<Eigen::Index>(delta.size())));
  const Metrics m = task_.evaluate(torch_.fused_weights(), split);
  return {m.loss, m.accuracy, task_.metric(m)};
}

Scores scores_of(const bomf::FusionEvaluation& e) {
  Scores s;
  s.loss = e.loss;
  if (e.metrics.size() == 2) {
    s.macro_f1 = e.metrics(0);
    s.accuracy = e.metrics(1);
  }
  return s;
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

std::vector<MethodRow> run_baselines(const WorkflowOptions& options, FusionStageProblem& stage,
                                     bomf::FusionEvaluator& evaluator, Progress& progress) {
  std::vector<MethodRow> rows;
  const auto add = [&rows](MethodRow row) {
    rows.push_back(std::move(row));
    print_method(rows.back());
  };
  bomf::BestMemberOptions best_options;
  best_options.metric = 0;  // the task's metric
  const std::string metric = metric_label(stage.task());
  add(row_of(bomf::best_single_member(evaluator, best_options), "Best member",
             "member with the best validation " + metric));
  add(row_of(bomf::last_checkpoint(evaluator), "Last checkpoint", "the final step of fine-tuning"));
  add(row_of(bomf::uniform_average(evaluator), "SWA", "uniform average of the members"));
  bomf::GreedySwaOptions greedy_options;
  greedy_options.metric = 0;
  add(row_of(bomf::greedy_swa(evaluator, greedy_options), "Greedy SWA",
             "greedy soup by validation " + metric));
  bomf::LearnedSwaOptions learned_options;
  learned_options.steps = options.learned_swa_steps;
  progress.start("Learned SWA (Adam on the validation loss)", learned_options.steps);
  int step = 0;
  stage.problem().on_gradient = [&](double loss) {
    char detail[48];
    std::snprintf(detail, sizeof detail, "loss %.4f", loss);
    progress.update(++step, detail);
  };
  const bomf::FusionResult learned = bomf::learned_swa(evaluator, learned_options);
  stage.problem().on_gradient = nullptr;
  progress.finish();
  add(row_of(learned, "Learned SWA",
             bomf::detail::concat("softmax(θ), ", learned_options.steps,
                                  " Adam steps on the validation loss")));
  return rows;
}

namespace {

/// The reference point of the normalized objectives in a few words, with its values: e.g.
/// "worst member, rounded outward: loss 1.1, macro_f1 0.69, accuracy 0.76".
std::string describe_reference(const bomf::FusionSearchOptions& o,
                               const bomf::FusionSummary& summary) {
  std::string text = o.normalization.anchor == bomf::NormalizationAnchor::worst_member
                         ? "worst member, rounded outward:"
                         : "best member:";
  for (Eigen::Index j = 0; j < summary.anchor.size(); ++j) {
    text += bomf::detail::concat(j == 0 ? " " : ", ", summary.objectives.name(static_cast<int>(j)),
                                 " ", bomf::detail::format_number(summary.anchor(j), 4));
  }
  return text;
}

/// How the anchors are taken, in a sentence.
std::string describe_anchor_rule(const bomf::NormalizationOptions& n) {
  if (n.anchor == bomf::NormalizationAnchor::best_member) {
    return "the best member's value of each objective";
  }
  return bomf::detail::concat(
      "the worst member's value of each objective (highest loss, lowest metrics), rounded "
      "outward to a grid of ",
      bomf::detail::format_number(n.anchor_grid * n.loss_range), " for the loss and ",
      bomf::detail::format_number(n.anchor_grid * n.metric_range),
      " for the metrics (NormalizationAnchor::worst_member)");
}

}  // namespace

void run_stage2(const SupersenseTask& task, const WorkflowOptions& options, Members members,
                Progress& progress, WorkflowReport& report) {
  const int n = static_cast<int>(members.parameters.size());
  FusionStageProblem stage(task, std::move(members));
  const std::string journal =
      options.journal.empty() ? std::string() : options.journal + ".fusion.jsonl";
  bomf::FusionEvaluator evaluator(stage.problem(), journal);

  // ---- Stage 2: BOMF, with the library's defaults (normalization, selection rule, blind-search
  // handling); the report states what they were.
  bomf::FusionSearchOptions o;
  o.seed = options.seed;
  o.num_initial = options.fusion_initial;
  o.num_iterations = options.fusion_iterations;
  const int num_initial = o.num_initial < 0 ? n : o.num_initial;
  const int num_iterations = o.num_iterations < 0 ? 5 * n : o.num_iterations;
  const int budget = n + num_initial + num_iterations;
  progress.start("stage 2: fusion search", budget);
  o.callback = [&](const bomf::FusionIteration& it) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "%s, HV %.4g, best F1 %.4f%s",
                  bomf::to_string(it.proposal), it.hypervolume,
                  it.best_metrics.size() > 0 ? it.best_metrics(0) : NAN,
                  it.blind ? " (blind)" : "");
    progress.update(it.index + 1, detail);
    return true;
  };
  StageTimer search_timer(report, "stage 2: fusion search (BOMF)");
  bomf::FusionSummary summary;
  const bomf::FusionResult bomf_result = bomf::solve(o, evaluator, &summary);
  search_timer.stop();
  progress.finish();
  std::printf("%s\n", summary.brief_report().c_str());

  const bool paper_rule = o.selection.rule == bomf::FusionSelectionRule::best_metric_sum;
  const std::string selection =
      paper_rule ? "the evaluated Pareto point with the largest observed sum of normalized "
                   "metrics (Eq. 1)"
                 : bomf::detail::concat("selection rule ", bomf::to_string(o.selection.rule),
                                        " (bomf::FusionSelectionRule)");
  report.fusion_reference = describe_reference(o, summary);
  report.fusion_warnings = summary.warnings;
  report.fusion_summary = bomf::detail::concat(
      "N = ", n, " members. Objectives on the validation split: loss (minimized), ",
      metric_label(task),
      " and accuracy (maximized), min-max normalized as in the paper (App. A.3): ranges ",
      bomf::detail::format_number(o.normalization.loss_range), " for the loss and ",
      bomf::detail::format_number(o.normalization.metric_range),
      " for the metrics, reference point 0 = ", describe_anchor_rule(o.normalization), " (",
      report.fusion_reference, "). Budget: the ", n, " members, ", num_initial,
      " quasi-random δ and ", num_iterations,
      " log-qNEHVI iterations (one GP per objective, Matérn-5/2 with BoTorch 0.11's priors, "
      "refitted every iteration). BOMF's δ: ",
      selection, ".");

  std::set<int> pareto(summary.pareto_set.trace_indices.begin(),
                       summary.pareto_set.trace_indices.end());
  for (const bomf::FusionIteration& it : summary.trace) {
    FusionRow row;
    row.index = it.index;
    row.proposal = bomf::to_string(it.proposal);
    row.ok = it.ok;
    row.reused = it.reused;
    row.replayed = it.replayed;
    row.pareto = pareto.count(it.index) > 0;
    row.blind = it.blind;
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
      bomf_result, "BOMF",
      paper_rule
          ? "log-qNEHVI Pareto point with the best normalized " + metric_label(task) + " + accuracy"
          : bomf::detail::concat("log-qNEHVI, ", bomf::to_string(o.selection.rule))));
  print_method(report.methods.back());

  // ---- Baselines, on the same evaluator: members and shared δs come from the ledger.
  StageTimer baseline_timer(report, "baselines");
  for (MethodRow& row : run_baselines(options, stage, evaluator, progress)) {
    report.methods.push_back(std::move(row));
  }
  baseline_timer.stop();

  // ---- The test split: each method's δ fused once more and evaluated; nothing is chosen here.
  StageTimer test_timer(report, "test evaluation");
  for (MethodRow& m : report.methods) {
    m.test = stage.score(m.delta, Split::test);
  }
  test_timer.stop();
}

}  // namespace supersense
