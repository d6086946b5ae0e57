// supersense/report.hpp — what the BOMF workflow measured, and its report files.
//
// `WorkflowReport` holds plain numbers (no tensors, no Eigen) filled in by the workflow
// (workflow.hpp); the functions below turn it into
//
//   report.md         the whole story: setup, stage 1 runs, members, stage 2, the method table on
//                     the TEST split, the chosen δ, wall-clock and CPU time of every stage, and
//                     the BO overhead against the time spent evaluating candidates;
//   results.csv       one row per method: validation and test loss/accuracy/macro-F1, the
//                     evaluations used and δ (no timings: identical across runs with one seed);
//   fusion_trace.csv  one row per evaluation of the fusion search (proposal kind, δ, values,
//   hypervolume); timings.csv       wall-clock and CPU seconds per stage; pareto.svg        left:
//   validation loss vs macro-F1 of every evaluated δ, the Pareto front
//                     and every method marked; right: the hypervolume after each evaluation.
//
// and into the table printed on the terminal. Everything here is libtorch-free and
// deterministic (no clock, no locale: numbers are written with "%.*g" / "%.*f").
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace supersense {

/// Loss, accuracy and macro-F1 of one model on one split (NaN when unknown).
struct Scores {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  double macro_f1 = std::numeric_limits<double>::quiet_NaN();
};

/// One fusion method (BOMF or a baseline) and its result.
struct MethodRow {
  std::string method;         ///< "BOMF", "Best member", "Last checkpoint", "SWA", …
  std::string how;            ///< one phrase: how δ was chosen
  std::vector<double> delta;  ///< the coefficients (length N, on the simplex)
  Scores validation;          ///< on the validation split (used for every choice)
  Scores test;                ///< on the test split (never used for any choice)
  int evaluations = 0;        ///< validation evaluations the method used (shared ones included)
  int new_evaluations = 0;    ///< of which it computed itself
  double seconds = 0;         ///< wall time of the method (its new evaluations included)
};

/// One run of the stage-1 hyperparameter search.
struct HyperparameterRow {
  int run = 0;
  std::string proposal;  ///< "initial", "acquisition", "external"
  double learning_rate = 0;
  std::int64_t batch_size = 0;
  bool ok = false;
  bool replayed = false;                                    ///< read back from the journal
  double score = std::numeric_limits<double>::quiet_NaN();  ///< best macro-F1 + accuracy
  std::int64_t best_step = -1;
  double train_seconds = 0;     ///< training (evaluations included)
  double overhead_seconds = 0;  ///< GP fit + LogEI maximization before this run
};

/// One evaluation of the fusion search.
struct FusionRow {
  int index = 0;
  std::string proposal;  ///< bomf::to_string(ProposalKind): "member", "initial", "acquisition", ...
  bool ok = false;
  bool reused = false;
  bool replayed = false;
  bool pareto = false;  ///< in the evaluated Pareto set (all three objectives)
  bool blind = false;   ///< the search was blind after this evaluation (hypervolume still 0)
  std::vector<double> delta;
  Scores validation;
  double hypervolume = std::numeric_limits<double>::quiet_NaN();  ///< after this evaluation
  double fit_seconds = 0;
  double acquisition_seconds = 0;
  double evaluation_seconds = 0;
};

/// Wall-clock and CPU time of one stage.
struct StageTime {
  std::string stage;
  double wall_seconds = 0;
  double cpu_seconds = 0;  ///< user + system time of this process
};

/// Everything the workflow reports.
struct WorkflowReport {
  // Setup.
  std::string mode;  ///< "smoke" or "full"
  std::uint64_t seed = 0;
  int threads = 1;
  std::string data_summary;   ///< one line: splits, classes, vocabulary
  std::string model_summary;  ///< one line: architecture, parameters
  std::string fingerprint;    ///< the task's fingerprint
  std::string journal;        ///< journal prefix ("" = none)

  // Stage 1.
  std::string proxy_summary;  ///< what the proxy trains
  std::vector<HyperparameterRow> stage1;
  int stage1_best = -1;
  double chosen_learning_rate = 0;
  std::int64_t chosen_batch_size = 0;
  double stage1_overhead_seconds = 0;  ///< Σ GP fit + LogEI maximization
  double stage1_train_seconds = 0;     ///< Σ training (replayed runs as journaled)

  // Fine-tuning.
  std::string fine_tune_summary;
  std::int64_t fine_tune_steps = 0;
  std::vector<std::int64_t> member_steps;
  Scores final_validation;  ///< the last checkpoint on validation, from the training loop

  // Stage 2.
  std::string fusion_summary;  ///< budget, normalization, selection rule
  /// The reference point of the normalized objectives in words, with its values.
  std::string fusion_reference;
  /// FusionSummary::warnings of the search (a blind search, a moved reference point).
  std::vector<std::string> fusion_warnings;
  std::vector<FusionRow> fusion;
  double fusion_fit_seconds = 0;
  double fusion_acquisition_seconds = 0;
  double fusion_evaluation_seconds = 0;
  double fusion_total_seconds = 0;  ///< wall time of the search in this process
  int fusion_replayed = 0;

  // Results (BOMF first) and timings.
  std::vector<MethodRow> methods;
  std::vector<StageTime> stages;
  double peak_memory_mib = -1;
};

/// The method table as fixed-width text for the terminal (validation and test columns).
[[nodiscard]] std::string format_table(const WorkflowReport& report);
/// The stage timings and the BO overhead as text for the terminal.
[[nodiscard]] std::string format_timings(const WorkflowReport& report);

/// The contents of the files listed in the file comment.
[[nodiscard]] std::string markdown_report(const WorkflowReport& report);
[[nodiscard]] std::string results_csv(const WorkflowReport& report);
[[nodiscard]] std::string fusion_trace_csv(const WorkflowReport& report);
[[nodiscard]] std::string timings_csv(const WorkflowReport& report);
[[nodiscard]] std::string pareto_svg(const WorkflowReport& report);

/// Writes the five files into `directory` (created if needed) and returns their paths. Throws
/// `bomf::io_error` naming the file when one cannot be written.
std::vector<std::string> write_report_files(const WorkflowReport& report,
                                            const std::string& directory);

/// A value with `digits` decimals, or "nan" when it is not finite (no locale).
[[nodiscard]] std::string fixed(double v, int digits = 4);
/// The values with `digits` significant digits ("%.*g"), joined by `separator`.
[[nodiscard]] std::string join_delta(const std::vector<double>& delta, const char* separator,
                                     int digits);
/// A CSV field: quoted (with doubled quotes) when it holds a comma, a quote or a line break.
[[nodiscard]] std::string csv_field(const std::string& s);
/// Writes `contents` to `path` (replacing it). Throws `bomf::io_error` naming the file.
void write_text_file(const std::string& path, const std::string& contents);

/// Indices of the points that are non-dominated for (minimize loss[i], maximize f1[i]) among
/// those with both values finite, sorted by increasing loss (ties: the first). Cost: O(n log n).
[[nodiscard]] std::vector<std::size_t> pareto_front_2d(const std::vector<double>& loss,
                                                       const std::vector<double>& f1);

}  // namespace supersense
