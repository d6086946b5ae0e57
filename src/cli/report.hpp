// cli/report.hpp — the report of a fusion journal: what `bomf search` writes at its end and
// `bomf report JOURNAL` writes from any fusion journal (the flagship's `PREFIX.fusion.jsonl`
// too): the methods (BOMF and the baselines) on the journal's evaluations, the search's Pareto
// set and hypervolume trace, as Markdown, CSV and an SVG plot. libtorch-free.
//
// Everything comes from the journal, so the report of a journal is the same whoever writes it:
//  * the search is replayed (bomf::FusionSearch on the journal's records, with the settings of
//    its "fusion_search_settings" record: seed, initial design, bounds, member values,
//    normalization, blind-search policy; the surrogate settings must be the library's defaults,
//    which `bomf search` and the flagship use), giving the trace, the normalization, the
//    Pareto set and BOMF's choice under the requested selection rule;
//  * the baselines are the library's own (best_single_member, last_checkpoint,
//    uniform_average, greedy_swa) run on a problem that answers from the journal only: a δ the
//    journal does not hold is reported as missing, never guessed (a Greedy SWA whose soups are
//    not all in the journal is reported as incomplete); Learned SWA's δ is taken from its
//    record when there is one.
//
// Reading is read-only: the journal is copied (without its lock, so a journal that a running
// search holds can be read) and the library's reader verifies the copy, so a damaged journal is
// refused with the library's message (line number and what is wrong); a torn last line — one
// being written right now — is left out and reported.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bomf/drivers/fusion_search.hpp"

namespace bomf::cli {

/// The choices a report (and `bomf search`) makes, with metrics named as on the command line.
struct ReportOptions {
  /// How BOMF's δ is chosen among the evaluated points (default: the library's).
  FusionSelectionRule selection = FusionSelectionRule::best_metric_sum;
  /// best_metric: the metric's name ("" = the first metric).
  std::string selection_metric;
  /// weighted_sum: 1 + K weights ≥ 0 over the normalized objectives, the loss first.
  std::vector<double> selection_weights;
  /// The metric by which the best member and Greedy SWA rank ("" = the first metric).
  std::string baseline_metric;
};

/// The index k of the metric named `name` ("" = 0). Throws `usage_error` naming `option`, the
/// name and the metrics there are.
[[nodiscard]] int metric_index(const std::string& name, const FusionObjectives& objectives,
                               const std::string& option);

/// The library's FusionSelection for `options`. Throws `usage_error` (naming --selection-metric
/// or --selection-weights) for an unknown metric or weights of the wrong count or sign.
[[nodiscard]] FusionSelection resolve_selection(const ReportOptions& options,
                                                const FusionObjectives& objectives);

/// One method's row.
struct MethodReport {
  std::string method;  ///< "BOMF", "best member", "last checkpoint", "SWA", "Greedy SWA", …
  std::string how;     ///< how its δ was chosen, in words
  std::optional<FusionResult> result;  ///< empty when it is not available
  std::string unavailable;             ///< why not ("" when available)
  int missing = 0;  ///< evaluations it needed that the journal lacks (its result is partial)
};

/// Everything a report shows.
struct FusionReport {
  std::string journal;  ///< the journal as the user named it
  int num_members = 0;
  FusionObjectives objectives;
  std::string fingerprint;
  /// The member paths and the evaluator command from the journal's "bomf_search" record (written
  /// by `bomf search`); empty for journals of other programs.
  std::vector<std::string> member_paths;
  std::string evaluate_command;
  /// The journal's evaluation records, in order, and for each its row in the search's trace
  /// (−1 for records of the baselines).
  std::vector<FusionRecord> records;
  std::vector<int> trace_row;
  /// The replayed search (absent when the journal has no fusion search).
  std::optional<FusionSummary> search;
  std::vector<MethodReport> methods;
  /// Notes about the journal itself (a torn last line left out, a search still running, …).
  std::vector<std::string> notes;

  /// The report as Markdown; `svg_name` is the plot's file name next to it ("" = no plot).
  [[nodiscard]] std::string markdown(const std::string& svg_name) const;
  /// One row per evaluation record: row, source, proposal, status, reused, pareto, hypervolume,
  /// seconds, the loss, the metrics, δ_1 … δ_N, error (RFC 4180 quoting).
  [[nodiscard]] std::string evaluations_csv() const;
  /// One row per method: method, available, the loss, the metrics, δ_1 … δ_N, how.
  [[nodiscard]] std::string methods_csv() const;
  /// Two panels: the evaluated points in the plane (loss, first metric) with the Pareto set and
  /// every method marked, and the normalized hypervolume after each evaluation of the search.
  [[nodiscard]] std::string svg() const;
};

/// The report of `ledger`'s records, naming the journal `journal_name` (messages that name the
/// ledger's file — a temporary copy — name it instead). Throws `usage_error` for options that
/// do not fit the journal's metrics, bomf::invalid_argument when the search cannot be replayed
/// (surrogate settings other than the library's defaults).
[[nodiscard]] FusionReport make_fusion_report(FusionLedger& ledger, const ReportOptions& options,
                                              const std::string& journal_name);

/// Reads the fusion journal `path` read-only (see the file comment) and makes its report; with
/// `note_if_in_use`, a journal whose lock another process holds gets a note saying so (a
/// search reading its own journal passes false). Throws bomf::io_error for a file that cannot
/// be read, is not a regular file, is empty, or is damaged (the library's message),
/// bomf::invalid_argument for a journal of another kind or version and for invalid options.
/// Implemented in report_files.cpp (bomf::torch's file helpers).
[[nodiscard]] FusionReport read_fusion_report(const std::string& path, const ReportOptions& options,
                                              bool note_if_in_use = true);

/// The paths of report.md, report.csv, methods.csv and report.svg in `directory`, the files
/// `write_report_files` writes (for checking them against the inputs before anything runs).
[[nodiscard]] std::vector<std::string> report_file_paths(const std::string& directory);

/// Writes report.md, report.csv, methods.csv and report.svg into `directory` (created if
/// missing), each atomically. Returns the paths written. Implemented in report_files.cpp.
std::vector<std::string> write_report_files(const FusionReport& report,
                                            const std::string& directory);

/// `text` with every occurrence of `from` replaced by `to`.
[[nodiscard]] std::string replace_all(std::string text, const std::string& from,
                                      const std::string& to);

/// `text` (a library warning or error) with the C++ settings it advises
/// (`blind_search.move_reference_point`, `normalization.anchor_overrides`,
/// `NormalizationAnchor::worst_member`, `FusionSearchOptions::member_values`,
/// `options.max_failures`) named as the `bomf search` options that set them
/// (`--move-reference-point`, `--anchor-value NAME=VALUE`, `--anchor worst_member`,
/// `--max-failures`), and "a new journal" as "a new output directory or --journal"; the
/// library's function name that opens the message ("bomf::FusionSearch::select: ") is removed.
/// Other text is unchanged.
[[nodiscard]] std::string command_line_advice(std::string text);

/// The record `bomf search` adds to its journal once (kind "bomf_search": the members, their
/// format and the evaluator command), so that reports can name them.
[[nodiscard]] nlohmann::json search_info_record(const std::vector<std::string>& members,
                                                const std::string& format,
                                                const std::string& evaluate_command);

}  // namespace bomf::cli
