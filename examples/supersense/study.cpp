// bomf_supersense_study — the evidence behind BOMF's defaults (issue 24): the whole flagship
// pipeline, for several seeds on several tasks built from the flagship's data, with the fusion
// search run under three anchor configurations and every selection rule, every baseline, and
// scores on two held-out splits.
//
//   bomf_supersense_study --tasks all26,food --seeds 10 --results-dir docs/study/raw
//   python3 docs/study/analyze.py docs/study/raw > docs/study/tables.md
//
// Per (task, seed), with the flagship's code (workflow.hpp, fusion_stage.hpp):
//  1. stage 1 (LogEI on the proxy) and fine-tuning with the chosen setting, keeping N members;
//  2. ONE FusionEvaluator on the validation split (journal <work>/<task>-seed<k>.evals.jsonl),
//     through which three fusion searches run as ask/tell `bomf::FusionSearch`es, each with its
//     own journal (<…>.search-<config>.jsonl): (a) NormalizationAnchor::worst_member (the
//     library default), (b) best_member, (c) best_member with blind_search.move_reference_point.
//     The members and every δ two searches share (the same seed gives the same initial design)
//     are evaluated once. From each search, the δ of every selection rule (best_metric_sum,
//     posterior_metric_sum) on the same evaluations (FusionSearch::select);
//  3. the baselines once, on the same evaluator (best member, last checkpoint, SWA, Greedy SWA,
//     Learned SWA);
//  4. every chosen δ scored on the DECISION split (held out from training, from the validation
//     split the searches see and from test; decisions about defaults are made on it) and on the
//     TEST split (reported only).
// Writes, per (task, seed), into --results-dir: <task>-seed<k>-methods.csv (one row per method
// and split scores; written last: its presence marks the pair done, and a rerun skips it),
// -searches.csv (blindness, hypervolume, timings per search), -trace.csv (every evaluation of
// every search) and -run.json (setting, budgets, stage timings). A killed study resumes from the
// journals: rerun the same command.
//
// Exit status: 0 success, 1 error, 2 bad options, 77 when the data is absent.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/fusion_search.hpp"
#include "bomf/torch/threads.hpp"
#include "cli_options.hpp"
#include "fusion_stage.hpp"
#include "workflow.hpp"

namespace {

using supersense::Scores;

constexpr int kDataMissing = 77;

/// A task of the study, built from the flagship's data (all 26 noun supersenses kept).
struct StudyTask {
  const char* name;
  const char* description;
  const char* one_vs_rest;  ///< "" = multi-class
};

constexpr StudyTask kTasks[] = {
    {"all26", "all 26 noun supersenses, scored by macro-F1 (class shares 14 % … 0.05 %)", ""},
    {"food",
     "noun.food (3.1 % of the synsets) against the other 25 supersenses, scored by the F1 "
     "of noun.food",
     "noun.food"},
};

/// An anchor configuration of the fusion search.
struct SearchConfig {
  const char* name;
  bomf::NormalizationAnchor anchor;
  bool move_reference_point;
};

constexpr SearchConfig kConfigs[] = {
    {"worst_member", bomf::NormalizationAnchor::worst_member, false},
    {"best_member", bomf::NormalizationAnchor::best_member, false},
    {"best_member+move", bomf::NormalizationAnchor::best_member, true},
};

constexpr bomf::FusionSelectionRule kRules[] = {bomf::FusionSelectionRule::best_metric_sum,
                                                bomf::FusionSelectionRule::posterior_metric_sum};

/// One method's result: the flagship's MethodRow, the search configuration and rule (BOMF), and
/// the decision-split scores.
struct StudyRow {
  supersense::MethodRow row;
  std::string anchor;  ///< BOMF: the search configuration
  std::string rule;    ///< BOMF: the selection rule
  Scores decision;
};

/// What one fusion search did.
struct SearchRecord {
  std::string config;
  int evaluations = 0;
  int new_evaluations = 0;      ///< computed by this search (not shared with an earlier one)
  int first_blind = -1;         ///< trace index of the first blind row, −1 if never blind
  int blind_rows = 0;           ///< rows after which the search was blind
  int reference_moved_at = -1;  ///< trace index where the reference point moved, −1 if never
  double hypervolume_after_initial = std::nan("");
  double final_hypervolume = std::nan("");
  double fit_seconds = 0;
  double acquisition_seconds = 0;
  double new_evaluation_seconds = 0;  ///< evaluations this search computed
  /// Every evaluation of the trace at its original cost (as if the search ran alone).
  double standalone_evaluation_seconds = 0;
  double wall_seconds = 0;
  std::vector<std::string> warnings;
  std::vector<bomf::FusionIteration> trace;
};

/// Runs (or resumes from its journal) one fusion search through the shared evaluator and returns
/// its record and the BOMF rows of every selection rule.
SearchRecord run_search(const SearchConfig& config, const supersense::WorkflowOptions& workflow,
                        supersense::FusionStageProblem& stage, bomf::FusionEvaluator& evaluator,
                        const std::string& journal, supersense::Progress& progress,
                        std::vector<StudyRow>& rows) {
  bomf::FusionSearchOptions o;
  o.seed = workflow.seed;
  o.num_initial = workflow.fusion_initial;
  o.num_iterations = workflow.fusion_iterations;
  o.normalization.anchor = config.anchor;
  o.blind_search.move_reference_point = config.move_reference_point;
  o.journal = journal;
  bomf::FusionProblem& problem = stage.problem();
  bomf::FusionSearch search(problem.num_members(), problem.objectives(), o, problem.fingerprint());

  SearchRecord record;
  record.config = config.name;
  const long computed_before = evaluator.num_computed();
  const auto start = std::chrono::steady_clock::now();
  const int budget = static_cast<int>(search.trace().size()) + search.remaining();
  progress.start(std::string("fusion search ") + config.name, budget);
  while (!search.finished()) {
    const std::vector<Eigen::VectorXd> next = search.suggest(1);
    if (next.empty()) {
      throw bomf::evaluation_error(
          "the fusion search suggested nothing before its budget was "
          "spent (a sequential search should not wait)");
    }
    search.observe(evaluator.evaluate(next.front(), std::string("search:") + config.name));
    const bomf::FusionIteration& it = search.trace().back();
    char detail[64];
    std::snprintf(detail, sizeof detail, "HV %.4g%s", it.hypervolume, it.blind ? " (blind)" : "");
    progress.update(static_cast<std::int64_t>(search.trace().size()), detail);
  }
  progress.finish();
  record.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  record.new_evaluations = static_cast<int>(evaluator.num_computed() - computed_before);

  const bomf::FusionSummary summary = search.summary();
  record.evaluations = summary.num_evaluations;
  record.fit_seconds = summary.fit_seconds;
  record.acquisition_seconds = summary.acquisition_seconds;
  record.warnings = summary.warnings;
  record.trace = summary.trace;
  const int initial_end = problem.num_members() + search.options().num_initial - 1;
  for (const bomf::FusionIteration& it : summary.trace) {
    if (it.blind) {
      record.first_blind = record.first_blind < 0 ? it.index : record.first_blind;
      ++record.blind_rows;
    }
    if (it.reference_moved) {
      record.reference_moved_at = it.index;
    }
    if (it.index == initial_end) {
      record.hypervolume_after_initial = it.hypervolume;
    }
    record.new_evaluation_seconds += it.evaluation_seconds;
    if (const bomf::FusionRecord* r = evaluator.ledger().find(it.delta); r != nullptr) {
      record.standalone_evaluation_seconds += r->seconds;
    }
  }
  if (!summary.trace.empty()) {
    record.final_hypervolume = summary.trace.back().hypervolume;
  }
  std::printf("%s", summary.brief_report().c_str());

  for (const bomf::FusionSelectionRule rule : kRules) {
    bomf::FusionSelection selection;
    selection.rule = rule;
    StudyRow row;
    row.row = supersense::row_of(search.select(selection), "BOMF",
                                 std::string(config.name) + ", " + bomf::to_string(rule));
    row.anchor = config.name;
    row.rule = bomf::to_string(rule);
    supersense::print_method(row.row);
    rows.push_back(std::move(row));
  }
  return record;
}

std::string scores_csv(const Scores& s) {
  return supersense::fixed(s.loss, 6) + "," + supersense::fixed(s.accuracy, 6) + "," +
         supersense::fixed(s.macro_f1, 6);
}

bool is_vertex(const std::vector<double>& delta) {
  for (const double d : delta) {
    if (d >= 1.0 - 1e-9) {
      return true;
    }
  }
  return false;
}

std::string methods_csv(const std::string& task, std::uint64_t seed, const std::string& metric,
                        const std::vector<StudyRow>& rows) {
  std::string csv =
      "task,seed,metric_name,method,anchor,rule,val_loss,val_accuracy,val_metric,decision_loss,"
      "decision_accuracy,decision_metric,test_loss,test_accuracy,test_metric,evaluations,"
      "new_evaluations,vertex,delta\n";
  for (const StudyRow& r : rows) {
    csv += task + "," + std::to_string(seed) + "," + supersense::csv_field(metric) + "," +
           supersense::csv_field(r.row.method) + "," + supersense::csv_field(r.anchor) + "," +
           r.rule + "," + scores_csv(r.row.validation) + "," + scores_csv(r.decision) + "," +
           scores_csv(r.row.test) + "," + std::to_string(r.row.evaluations) + "," +
           std::to_string(r.row.new_evaluations) + "," + (is_vertex(r.row.delta) ? "1" : "0") +
           "," + supersense::join_delta(r.row.delta, ";", 6) + "\n";
  }
  return csv;
}

std::string searches_csv(const std::string& task, std::uint64_t seed,
                         const std::vector<SearchRecord>& searches) {
  std::string csv =
      "task,seed,anchor,evaluations,new_evaluations,first_blind,blind_evaluations,"
      "reference_moved_at,hypervolume_after_initial,final_hypervolume,fit_seconds,"
      "acquisition_seconds,new_evaluation_seconds,standalone_evaluation_seconds,wall_seconds,"
      "warnings\n";
  for (const SearchRecord& s : searches) {
    std::string warnings;
    for (const std::string& w : s.warnings) {
      warnings += (warnings.empty() ? "" : " | ") + w;
    }
    csv += task + "," + std::to_string(seed) + "," + supersense::csv_field(s.config) + "," +
           std::to_string(s.evaluations) + "," + std::to_string(s.new_evaluations) + "," +
           std::to_string(s.first_blind) + "," + std::to_string(s.blind_rows) + "," +
           std::to_string(s.reference_moved_at) + "," +
           supersense::fixed(s.hypervolume_after_initial, 6) + "," +
           supersense::fixed(s.final_hypervolume, 6) + "," + supersense::fixed(s.fit_seconds, 2) +
           "," + supersense::fixed(s.acquisition_seconds, 2) + "," +
           supersense::fixed(s.new_evaluation_seconds, 2) + "," +
           supersense::fixed(s.standalone_evaluation_seconds, 2) + "," +
           supersense::fixed(s.wall_seconds, 2) + "," + supersense::csv_field(warnings) + "\n";
  }
  return csv;
}

std::string trace_csv(const std::string& task, std::uint64_t seed,
                      const std::vector<SearchRecord>& searches) {
  std::string csv =
      "task,seed,anchor,index,proposal,ok,reused,hypervolume,blind,reference_moved,val_loss,"
      "val_metric,val_accuracy\n";
  for (const SearchRecord& s : searches) {
    for (const bomf::FusionIteration& it : s.trace) {
      const Scores v = supersense::scores_of(it.evaluation);
      csv += task + "," + std::to_string(seed) + "," + supersense::csv_field(s.config) + "," +
             std::to_string(it.index) + "," + bomf::to_string(it.proposal) + "," +
             (it.ok ? "1" : "0") + "," + (it.reused ? "1" : "0") + "," +
             supersense::fixed(it.hypervolume, 6) + "," + (it.blind ? "1" : "0") + "," +
             (it.reference_moved ? "1" : "0") + "," + supersense::fixed(v.loss, 6) + "," +
             supersense::fixed(v.macro_f1, 6) + "," + supersense::fixed(v.accuracy, 6) + "\n";
    }
  }
  return csv;
}

/// Everything about one (task, seed) that is not a per-method number.
nlohmann::json run_json(const StudyTask& task, const supersense::SupersenseTask& loaded,
                        const supersense::WorkflowOptions& o,
                        const supersense::WorkflowReport& report) {
  nlohmann::json j;
  j["task"] = task.name;
  j["description"] = task.description;
  j["metric"] = loaded.metric_name();
  j["seed"] = o.seed;
  j["mode"] = o.mode;
  j["fingerprint"] = loaded.fingerprint();
  const auto& d = loaded.data();
  j["splits"] = {{"train", d.train.size()},
                 {"validation", d.validation.size()},
                 {"test", d.test.size()},
                 {"decision", d.decision.size()}};
  j["budgets"] = {
      {"stage1_initial", o.stage1_initial},
      {"stage1_iterations", o.stage1_iterations},
      {"epochs", o.epochs},
      {"members", o.members},
      {"fusion_initial", o.fusion_initial < 0 ? o.members : o.fusion_initial},
      {"fusion_iterations", o.fusion_iterations < 0 ? 5 * o.members : o.fusion_iterations},
      {"learned_swa_steps", o.learned_swa_steps}};
  j["chosen"] = {{"learning_rate", report.chosen_learning_rate},
                 {"batch_size", report.chosen_batch_size}};
  j["member_steps"] = report.member_steps;
  j["fine_tune_steps"] = report.fine_tune_steps;
  j["threads"] = bomf::torch_threads();
  nlohmann::json stages = nlohmann::json::array();
  for (const supersense::StageTime& t : report.stages) {
    stages.push_back(
        {{"stage", t.stage}, {"wall_seconds", t.wall_seconds}, {"cpu_seconds", t.cpu_seconds}});
  }
  j["stages"] = stages;
  return j;
}

/// The whole pipeline for one (task, seed); writes its result files into `results`.
void run_pair(const StudyTask& study_task, std::uint64_t seed, bool smoke,
              const supersense::CommonOptions& common, const std::string& results,
              const std::string& work, supersense::Progress& progress) {
  const std::string stem = std::string(study_task.name) + "-seed" + std::to_string(seed);
  std::printf("\n== %s, seed %llu: %s\n", study_task.name, static_cast<unsigned long long>(seed),
              study_task.description);
  std::fflush(stdout);

  supersense::TaskOptions task_options;
  if (smoke) {
    task_options = supersense::TaskOptions::smoke();
  }
  common.apply(task_options);
  task_options.init_seed = seed;
  task_options.data.num_classes = 26;
  task_options.data.one_vs_rest = study_task.one_vs_rest;
  task_options.data.decision_size = task_options.data.validation_size;
  supersense::WorkflowOptions options =
      smoke ? supersense::WorkflowOptions::smoke() : supersense::WorkflowOptions::full();
  options.seed = seed;
  options.journal = (std::filesystem::path(work) / stem).string();
  common.apply(options);

  supersense::WorkflowReport report;
  supersense::StageTimer load_timer(report, "data loading");
  const supersense::SupersenseTask task(task_options);
  load_timer.stop();

  supersense::StageTimer stage1_timer(report, "stage 1: hyperparameter search");
  const supersense::ChosenSetting setting = supersense::run_stage1(task, options, progress, report);
  stage1_timer.stop();
  supersense::StageTimer tune_timer(report, "fine-tuning (members)");
  supersense::Members members = supersense::fine_tune(task, options, setting, progress, report);
  tune_timer.stop();

  supersense::FusionStageProblem stage(task, std::move(members));
  bomf::FusionEvaluator evaluator(stage.problem(), options.journal + ".evals.jsonl");
  std::vector<StudyRow> rows;
  std::vector<SearchRecord> searches;
  for (const SearchConfig& config : kConfigs) {
    supersense::StageTimer timer(report, std::string("fusion search ") + config.name);
    searches.push_back(run_search(config, options, stage, evaluator,
                                  options.journal + ".search-" + config.name + ".jsonl", progress,
                                  rows));
    timer.stop();
  }
  supersense::StageTimer baseline_timer(report, "baselines");
  for (supersense::MethodRow& row :
       supersense::run_baselines(options, stage, evaluator, progress)) {
    rows.push_back({std::move(row), "", "", {}});
  }
  baseline_timer.stop();

  // Held-out scores, once per distinct δ.
  supersense::StageTimer held_out_timer(report, "decision and test evaluation");
  std::map<std::vector<double>, std::pair<Scores, Scores>> scored;
  for (StudyRow& r : rows) {
    auto it = scored.find(r.row.delta);
    if (it == scored.end()) {
      it = scored
               .emplace(r.row.delta,
                        std::make_pair(stage.score(r.row.delta, supersense::Split::decision),
                                       stage.score(r.row.delta, supersense::Split::test)))
               .first;
    }
    r.decision = it->second.first;
    r.row.test = it->second.second;
  }
  held_out_timer.stop();

  const std::filesystem::path dir(results);
  supersense::write_text_file((dir / (stem + "-searches.csv")).string(),
                              searches_csv(study_task.name, seed, searches));
  supersense::write_text_file((dir / (stem + "-trace.csv")).string(),
                              trace_csv(study_task.name, seed, searches));
  supersense::write_text_file((dir / (stem + "-run.json")).string(),
                              run_json(study_task, task, options, report).dump(1) + "\n");
  // Last, and atomically: its presence marks the pair as done.
  const std::filesystem::path methods = dir / (stem + "-methods.csv");
  const std::filesystem::path partial = dir / (stem + "-methods.csv.partial");
  supersense::write_text_file(partial.string(),
                              methods_csv(study_task.name, seed, task.metric_name(), rows));
  std::filesystem::rename(partial, methods);

  std::printf("%-34s %8s %8s %8s | %8s %8s\n", "method", "val", "decision", "test", "val loss",
              "test loss");
  for (const StudyRow& r : rows) {
    const std::string name = r.anchor.empty() ? r.row.method : "BOMF " + r.row.how;
    std::printf("%-34s %8.4f %8.4f %8.4f | %8.4f %8.4f\n", name.c_str(), r.row.validation.macro_f1,
                r.decision.macro_f1, r.row.test.macro_f1, r.row.validation.loss, r.row.test.loss);
  }
  double wall = 0;
  for (const supersense::StageTime& t : report.stages) {
    wall += t.wall_seconds;
  }
  std::printf("%s done in %.0f s wall\n", stem.c_str(), wall);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bomf study: the flagship pipeline (stage 1, fine-tuning, fusion search under three anchor "
      "configurations with every selection rule, every baseline) for several seeds and tasks, "
      "scored on a decision split and a test split"};
  bool smoke = false;
  int num_seeds = 10;
  std::uint64_t first_seed = 0;
  std::vector<std::string> task_names;
  for (const StudyTask& t : kTasks) {
    task_names.emplace_back(t.name);
  }
  std::string results = "study-results";
  std::string work = "study-work";
  supersense::CommonOptions common;
  app.add_flag("--smoke", smoke, "The flagship's smoke slices and budgets (a test of the program)");
  app.add_option("--seeds", num_seeds, "Number of seeds (first-seed, first-seed + 1, …)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--first-seed", first_seed, "The first seed")->capture_default_str();
  app.add_option("--tasks", task_names,
                 "Tasks, comma-separated: all26 (26 supersenses, "
                 "macro-F1), food (noun.food against the rest, its F1)")
      ->delimiter(',')
      ->check(CLI::IsMember({kTasks[0].name, kTasks[1].name}));
  app.add_option("--results-dir", results, "Where the per-(task, seed) result files go")
      ->capture_default_str();
  app.add_option("--work-dir", work, "Where the journals go (a rerun resumes from them)")
      ->capture_default_str();
  common.add_to(app, supersense::WorkflowOptions::full(), supersense::WorkflowOptions::smoke());
  CLI11_PARSE(app, argc, argv);

  try {
    bomf::set_torch_threads(common.threads);
    supersense::TaskOptions probe;
    common.apply(probe);
    const std::string missing = supersense::missing_data(probe);
    if (!missing.empty()) {
      std::fprintf(stderr, "bomf_supersense_study: %s\n", missing.c_str());
      return kDataMissing;
    }
    for (const std::string& dir : {results, work}) {
      std::filesystem::create_directories(dir);
    }
    supersense::Progress progress = supersense::Progress::for_stdout(!common.no_progress);
    for (const std::string& name : task_names) {
      const StudyTask* task = nullptr;
      for (const StudyTask& t : kTasks) {
        task = name == t.name ? &t : task;
      }
      for (int k = 0; k < num_seeds; ++k) {
        const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(k);
        const std::string done = (std::filesystem::path(results) /
                                  (name + "-seed" + std::to_string(seed) + "-methods.csv"))
                                     .string();
        if (std::filesystem::exists(done)) {
          std::printf("%s: done already, skipped\n", done.c_str());
          continue;
        }
        run_pair(*task, seed, smoke, common, results, work, progress);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "bomf_supersense_study: " << e.what() << "\n";
    return 1;
  }
}
