// supersense/training_stages.cpp — stage 1 (hyperparameter search on a proxy) and the
// fine-tuning run that yields the fusion members (see workflow.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "workflow.hpp"

namespace supersense {

WorkflowOptions WorkflowOptions::full() {
  return WorkflowOptions{};
}

WorkflowOptions WorkflowOptions::smoke() {
  WorkflowOptions o;
  o.mode = "smoke";
  o.stage1_initial = 3;
  o.stage1_iterations = 1;
  o.proxy_evaluations = 2;
  o.epochs = 1;
  o.members = 6;
  o.fusion_initial = 2;
  o.fusion_iterations = 4;
  o.learned_swa_steps = 5;
  return o;
}

namespace {

constexpr const char* kLearningRate = "learning_rate";
constexpr const char* kLog2Batch = "log2_batch_size";

/// Stage 1's search space: the learning rate on a log scale and the batch size 2^k.
bomf::SearchSpace search_space(const WorkflowOptions& o) {
  bomf::SearchSpace space;
  space.add_continuous(kLearningRate, o.min_learning_rate, o.max_learning_rate, bomf::Scale::log);
  space.add_integer(kLog2Batch, o.min_log2_batch, o.max_log2_batch);
  return space;
}

ChosenSetting setting_of(const bomf::Hyperparameters& h) {
  return {h.value(kLearningRate), std::int64_t{1} << h.integer(kLog2Batch)};
}

/// A number with 3 significant digits.
std::string g3(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

std::string describe(const ChosenSetting& s) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "lr %.3g, batch %lld", s.learning_rate,
                static_cast<long long>(s.batch_size));
  return buffer;
}

/// The supersense fine-tuning as a bomf::TrainingProblem: `base` fixes everything but the
/// learning rate and the batch size (the search space), `evaluations` > 0 spreads that many
/// validation evaluations evenly over a run (0: one per epoch). Metrics: the task's metric
/// (task.metric: macro-F1, or one class's F1) and accuracy (both maximized). When the context asks
/// for members, the loop copies the parameters at the planned steps (TrainOptions::after_step), in
/// memory.
class SupersenseTraining final : public bomf::TrainingProblem {
 public:
  SupersenseTraining(const SupersenseTask& task, const WorkflowOptions& workflow, TrainOptions base,
                     int evaluations, std::string label, Progress& progress)
      : task_(task),
        workflow_(workflow),
        base_(std::move(base)),
        evaluations_(evaluations),
        label_(std::move(label)),
        progress_(progress) {}

  [[nodiscard]] bomf::SearchSpace search_space() const override {
    return supersense::search_space(workflow_);
  }

  [[nodiscard]] std::vector<bomf::MetricSpec> metrics() const override {
    return {{task_.metric_name(), bomf::Direction::maximize},
            {"accuracy", bomf::Direction::maximize}};
  }

  bomf::TrainingTrajectory train(const bomf::Hyperparameters& h,
                                 bomf::TrainingContext& context) override {
    const ChosenSetting setting = setting_of(h);
    TrainOptions o = base_;
    o.learning_rate = setting.learning_rate;
    o.batch_size = setting.batch_size;
    const std::int64_t total = planned_steps(o, task_.data().train.size());
    o.eval_every =
        evaluations_ > 0 ? std::max<std::int64_t>(1, (total + evaluations_ - 1) / evaluations_) : 0;
    context.plan_members(total);  // empty unless this run collects the members
    members_ = Members{};
    o.after_step = [&](std::int64_t step, const bomf::StateDict& parameters) {
      if (context.is_member_step(step)) {
        members_.parameters.push_back(clone_state_dict(parameters));
        members_.steps.push_back(step);
      }
    };
    const std::string label = context.run_index() == bomf::TrainingContext::final_run
                                  ? label_
                                  : label_ + " run " + std::to_string(context.run_index() + 1) +
                                        " (" + describe(setting) + ")";
    progress_.start(label, total);
    o.on_step = [&](std::int64_t step, std::int64_t) { progress_.update(step); };
    last_ = task_.train(o, [&](TrainingEvent& event) {
      char detail[64];
      std::snprintf(detail, sizeof detail, "val F1 %.4f acc %.4f",
                    task_.metric(event.record.validation), event.record.validation.accuracy);
      progress_.update(event.record.step, detail);
    });
    progress_.finish();

    bomf::TrainingTrajectory trajectory;
    trajectory.total_steps = last_.steps;
    for (const EvalRecord& r : last_.trajectory) {
      trajectory.add(r.step, r.validation.loss,
                     {task_.metric(r.validation), r.validation.accuracy});
    }
    trajectory.checkpoint_steps.assign(members_.steps.begin(), members_.steps.end());
    return trajectory;
  }

  /// Identifies data, model, initialization and everything fixed about the runs, so that a
  /// journal of other runs is refused.
  [[nodiscard]] std::string fingerprint() const override {
    return bomf::detail::concat(task_.fingerprint(), " | train epochs=", base_.epochs,
                                " max_steps=", base_.max_steps, " frozen=", base_.frozen_layers,
                                " wd=", base_.weight_decay, " warmup=", base_.warmup_fraction,
                                " seed=", base_.seed, " evaluations=", evaluations_);
  }

  /// The last run's result and members (moved out).
  [[nodiscard]] const TrainResult& last_result() const noexcept { return last_; }
  Members take_members() { return std::move(members_); }

 private:
  const SupersenseTask& task_;
  const WorkflowOptions& workflow_;
  TrainOptions base_;
  int evaluations_;
  std::string label_;
  Progress& progress_;
  TrainResult last_;
  Members members_;
};

TrainOptions base_options(const WorkflowOptions& o) {
  TrainOptions t;
  t.seed = o.seed;
  return t;
}

}  // namespace

ChosenSetting run_stage1(const SupersenseTask& task, const WorkflowOptions& options,
                         Progress& progress, WorkflowReport& report) {
  TrainOptions proxy = base_options(options);
  proxy.frozen_layers = options.proxy_frozen_layers;
  proxy.epochs = options.proxy_epochs;
  proxy.max_steps = options.proxy_max_steps;
  SupersenseTraining problem(task, options, proxy, options.proxy_evaluations, "stage 1", progress);

  report.proxy_summary = bomf::detail::concat(
      "Proxy (paper §3.2): embeddings and the first ", options.proxy_frozen_layers,
      " transformer layer(s) frozen, ", options.proxy_epochs, " epoch(s)",
      options.proxy_max_steps > 0
          ? bomf::detail::concat(" capped at ", options.proxy_max_steps, " steps")
          : std::string(),
      ", ", options.proxy_evaluations,
      " validation evaluations per run. Search space: learning rate in [",
      g3(options.min_learning_rate), ", ", g3(options.max_learning_rate),
      "] (log scale), batch size in {", 1 << options.min_log2_batch, " … ",
      1 << options.max_log2_batch, "} (powers of 2). Score of a run: its best validation ",
      task.metric_name(),
      " + accuracy (Eq. 5). LogEI with BoTorch 0.11's GP: ", options.stage1_initial,
      " quasi-random + ", options.stage1_iterations, " LogEI runs.");

  bomf::HyperparameterSearchOptions o;
  o.num_initial = options.stage1_initial;
  o.num_iterations = options.stage1_iterations;
  o.seed = options.seed;
  o.journal = options.journal.empty() ? std::string() : options.journal + ".stage1.jsonl";
  o.callback = [&](const bomf::HyperparameterIteration& it) {
    const ChosenSetting s = setting_of(it.hyperparameters);
    std::printf(
        "  run %d [%s] %s: %s score %.4f at step %lld (best so far: run %d), %.1f s, "
        "BO %.3f s\n",
        it.index + 1, bomf::to_string(it.proposal), describe(s).c_str(),
        it.ok ? "ok," : ("FAILED (" + it.error + "),").c_str(), it.score, it.best_step,
        it.best_index + 1, it.evaluation_seconds, it.fit_seconds + it.acquisition_seconds);
    std::fflush(stdout);
    return true;
  };
  bomf::HyperparameterSummary summary;
  const bomf::HyperparameterSearchResult best = bomf::solve(o, problem, &summary);
  if (summary.num_replayed > 0) {
    std::printf("  (%d run(s) replayed from %s)\n", summary.num_replayed, o.journal.c_str());
  }

  for (const bomf::HyperparameterIteration& it : summary.trace) {
    HyperparameterRow row;
    const ChosenSetting s = setting_of(it.hyperparameters);
    row.run = it.index + 1;
    row.proposal = bomf::to_string(it.proposal);
    row.learning_rate = s.learning_rate;
    row.batch_size = s.batch_size;
    row.ok = it.ok;
    row.replayed = it.replayed;
    row.score = it.score;
    row.best_step = it.best_step;
    row.train_seconds = it.evaluation_seconds;
    row.overhead_seconds = it.fit_seconds + it.acquisition_seconds;
    report.stage1.push_back(row);
  }
  report.stage1_best = best.run_index + 1;
  report.stage1_overhead_seconds = summary.fit_seconds + summary.acquisition_seconds;
  report.stage1_train_seconds = summary.evaluation_seconds;
  const ChosenSetting chosen = setting_of(best.hyperparameters);
  report.chosen_learning_rate = chosen.learning_rate;
  report.chosen_batch_size = chosen.batch_size;
  return chosen;
}

Members fine_tune(const SupersenseTask& task, const WorkflowOptions& options,
                  const ChosenSetting& setting, Progress& progress, WorkflowReport& report) {
  TrainOptions full = base_options(options);
  full.epochs = options.epochs;
  SupersenseTraining problem(task, options, full, 0, "fine-tuning", progress);
  const auto space = std::make_shared<const bomf::SearchSpace>(search_space(options));
  const bomf::Hyperparameters h(
      space, {setting.learning_rate, std::log2(static_cast<double>(setting.batch_size))});
  bomf::MemberSelectionOptions policy;  // paper §4.1: from 50 % of training, evenly spaced
  policy.count = options.members;
  const bomf::TrainingTrajectory trajectory = bomf::train_members(problem, h, policy);

  Members members = problem.take_members();
  const TrainResult& run = problem.last_result();
  report.fine_tune_steps = run.steps;
  report.member_steps = members.steps;
  if (!run.trajectory.empty()) {
    const Metrics& m = run.trajectory.back().validation;
    report.final_validation = {m.loss, m.accuracy, task.metric(m)};
  }
  report.fine_tune_summary = bomf::detail::concat(
      "Full model (nothing frozen), ", describe(setting), ", ", options.epochs,
      " epoch(s) = ", run.steps, " steps (", run.steps_per_epoch,
      " per epoch), AdamW with weight decay ", g3(full.weight_decay), ", linear warm-up over ",
      g3(full.warmup_fraction * 100), " % of the steps then linear decay; ", members.steps.size(),
      " members copied in memory at the steps planned by bomf::select_member_steps (",
      trajectory.points.size(), " validation evaluations along the run).");
  return members;
}

}  // namespace supersense
