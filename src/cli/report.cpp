// The report of a fusion journal (cli/report.hpp): replaying the search and the baselines on the
// journal's records, and writing Markdown, CSV and SVG. Reading and writing files:
// report_files.cpp.
#include "cli/report.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <utility>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/detail/points.hpp"
#include "cli/arguments.hpp"
#include "cli/svg.hpp"

namespace bomf::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string format(double v, const char* spec = "%.6g") {
  if (std::isnan(v)) {
    return "—";
  }
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, spec, v);
  return buffer;
}

std::string delta_text(const Eigen::VectorXd& delta) {
  std::string out;
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    out += (i == 0 ? "" : ", ") + format(delta(i), "%.3f");
  }
  return out;
}

/// The first line of `text`, at most `max` characters.
std::string first_line(const std::string& text, std::size_t max = 300) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) {
    line = line.substr(0, max) + "…";
  }
  return line;
}

/// `text` for a Markdown table cell.
std::string cell(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/// The head of a Markdown table: a first column, one right-aligned column per objective, then
/// left-aligned `rest` columns.
std::string table_head(const std::string& first, const char* first_alignment,
                       const FusionObjectives& objectives, const std::vector<std::string>& rest) {
  std::string names = "| " + first + " |";
  std::string rule = std::string("|") + first_alignment + "|";
  for (int j = 0; j < objectives.size(); ++j) {
    names += " " + objectives.name(j) + " |";
    rule += "---:|";
  }
  for (const std::string& r : rest) {
    names += " " + r + " |";
    rule += "---|";
  }
  return names + "\n" + rule + "\n";
}

/// `text` as a CSV field (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) {
    return text;
  }
  return "\"" + replace_all(text, "\"", "\"\"") + "\"";
}

/// A CSV header: `first`, one column per objective, δ_1 … δ_N, `last`.
std::string csv_head(const std::string& first, const FusionObjectives& objectives, int num_members,
                     const std::string& last) {
  std::string csv = first;
  for (int j = 0; j < objectives.size(); ++j) {
    csv += "," + csv_field(objectives.name(j));
  }
  for (int i = 0; i < num_members; ++i) {
    csv += detail::concat(",delta_", i + 1);
  }
  return csv + "," + last + "\n";
}

std::string csv_number(double v) {
  if (std::isnan(v)) {
    return "";
  }
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

// ---------------------------------------------------------------- the settings record

Eigen::VectorXd vector_of(const nlohmann::json& j) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(j.size()));
  for (std::size_t i = 0; i < j.size(); ++i) {
    v(static_cast<Eigen::Index>(i)) = j[i].is_null() ? kNaN : j[i].get<double>();
  }
  return v;
}

std::vector<std::optional<double>> overrides_of(const nlohmann::json& j) {
  std::vector<std::optional<double>> out;
  for (const auto& v : j) {
    out.push_back(v.is_null() ? std::nullopt : std::optional<double>(v.get<double>()));
  }
  return out;
}

/// The search options a "fusion_search_settings" record was written with (the surrogate
/// settings: the library's defaults; FusionSearch checks the whole record).
FusionSearchOptions options_from_settings(const nlohmann::json& s, int num_members) {
  FusionSearchOptions o;
  o.seed = s.at("seed").get<std::uint64_t>();
  o.num_initial = s.at("num_initial").get<int>();
  const Eigen::VectorXd lower = vector_of(s.at("lower_bounds"));
  const Eigen::VectorXd upper = vector_of(s.at("upper_bounds"));
  const bool plain = lower.size() == num_members && upper.size() == num_members &&
                     (lower.array() == 0.0).all() && (upper.array() == 1.0).all();
  if (!plain) {
    o.lower_bounds = lower;
    o.upper_bounds = upper;
  }
  const nlohmann::json& members = s.at("member_values");
  if (!members.is_null()) {
    o.member_values.resize(static_cast<Eigen::Index>(members.size()),
                           members.empty() ? 0 : static_cast<Eigen::Index>(members[0].size()));
    for (std::size_t i = 0; i < members.size(); ++i) {
      o.member_values.row(static_cast<Eigen::Index>(i)) = vector_of(members[i]).transpose();
    }
  }
  const nlohmann::json& n = s.at("normalization");
  o.normalization.anchor = n.at("anchor").get<std::string>() == "best_member"
                               ? NormalizationAnchor::best_member
                               : NormalizationAnchor::worst_member;
  o.normalization.anchor_grid = n.at("anchor_grid").get<double>();
  o.normalization.metric_range = n.at("metric_range").get<double>();
  o.normalization.loss_range = n.at("loss_range").get<double>();
  o.normalization.anchor_overrides = overrides_of(n.at("anchor_overrides"));
  o.normalization.range_overrides = overrides_of(n.at("range_overrides"));
  const nlohmann::json& b = s.at("blind_search");
  o.blind_search.patience = b.at("patience").get<int>();
  o.blind_search.move_reference_point = b.at("move_reference_point").get<bool>();
  return o;
}

// ---------------------------------------------------------------- baselines from the journal

/// A problem that answers only from a ledger: a δ the ledger does not hold is "missing" (counted
/// and thrown, never guessed); a δ whose only records failed fails again with their reason.
class JournalOnlyProblem final : public FusionProblem {
 public:
  explicit JournalOnlyProblem(const FusionLedger& ledger) : ledger_(ledger) {}
  [[nodiscard]] int num_members() const override { return ledger_.num_members(); }
  [[nodiscard]] FusionObjectives objectives() const override { return ledger_.objectives(); }
  [[nodiscard]] std::string fingerprint() const override { return ledger_.fingerprint(); }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    const std::vector<double> key = detail::point_key(delta);
    if (missing_points_.count(key) == 0) {
      if (const FusionRecord* r = ledger_.find(delta); r != nullptr) {
        throw evaluation_error(r->error);  // compute() asks only when no record is ok
      }
      missing_points_.insert(key);
    }
    ++missing_;
    throw evaluation_error("not in the journal");
  }
  [[nodiscard]] int missing() const { return missing_; }

 private:
  const FusionLedger& ledger_;
  std::set<std::vector<double>> missing_points_;
  int missing_ = 0;
};

std::string member_list(const Eigen::VectorXd& delta) {
  std::string out;
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    if (delta(i) > 0.0) {
      out += (out.empty() ? "" : ", ") + std::to_string(i + 1);
    }
  }
  return out;
}

int member_of(const Eigen::VectorXd& delta) {
  Eigen::Index i = 0;
  delta.maxCoeff(&i);
  return static_cast<int>(i) + 1;
}

/// Runs `method` and fills `row` (its result, or why it has none; `incomplete` names the
/// journal's gaps when `problem` reported missing evaluations during the run).
template <class Method>
void baseline_row(MethodReport& row, JournalOnlyProblem& problem, Method&& method,
                  const char* incomplete) {
  const int missing_before = problem.missing();
  try {
    row.result = method();
  } catch (const evaluation_error& e) {
    row.unavailable =
        problem.missing() > missing_before ? "not in the journal" : command_line_advice(e.what());
    return;
  }
  if (problem.missing() > missing_before) {
    if (incomplete == nullptr) {
      row.missing = problem.missing() - missing_before;
      row.how += detail::concat(" (", row.missing, " of its evaluations are not in the journal)");
    } else {
      row.result.reset();
      row.unavailable = incomplete;
    }
  }
}

}  // namespace

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) {
    return text;
  }
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string command_line_advice(std::string text) {
  // The longer phrases first: they contain the shorter ones.
  static const std::pair<const char*, const char*> kNames[] = {
      {"supply FusionSearchOptions::member_values or normalization.anchor_overrides",
       "give every objective an --anchor-value NAME=VALUE"},
      {"(with a new journal", "(with a new output directory or --journal"},
      {"set blind_search.move_reference_point", "add --move-reference-point"},
      {"blind_search.move_reference_point", "--move-reference-point"},
      {"use NormalizationAnchor::worst_member", "use --anchor worst_member"},
      {"NormalizationOptions::anchor_overrides", "--anchor-value NAME=VALUE"},
      {"normalization.anchor_overrides", "--anchor-value NAME=VALUE"},
      {"more than options.max_failures =", "more than --max-failures"},
      {"(use another journal file, or the same settings)",
       "(use another output directory or --journal, or the same options: 'seed' is --seed, "
       "'num_initial' --num-initial, 'lower_bounds' and 'upper_bounds' --lower-bounds and "
       "--upper-bounds, 'normalization' --anchor, --anchor-value and --range-value, "
       "'blind_search' --move-reference-point)"},
  };
  for (const auto& [from, to] : kNames) {
    text = replace_all(std::move(text), from, to);
  }
  // The library's function name that opens its message ("bomf::FusionSearch::select: "), only
  // there: the rest (an evaluator's standard error, say) is not the library's to edit.
  static const std::regex kContext("^bomf::[A-Za-z_]+(::[A-Za-z_]+)*: ");
  return std::regex_replace(text, kContext, "", std::regex_constants::format_first_only);
}

int metric_index(const std::string& name, const FusionObjectives& objectives,
                 const std::string& option) {
  if (name.empty()) {
    return 0;
  }
  for (int k = 0; k < objectives.num_metrics(); ++k) {
    if (objectives.metrics[static_cast<std::size_t>(k)].name == name) {
      return k;
    }
  }
  throw usage_error(detail::concat(
      option, ": '", name, "' is not a metric here, expected one of: ", objectives.metric_names()));
}

FusionSelection resolve_selection(const ReportOptions& options,
                                  const FusionObjectives& objectives) {
  FusionSelection selection;
  selection.rule = options.selection;
  if (selection.rule == FusionSelectionRule::best_metric) {
    selection.metric = metric_index(options.selection_metric, objectives, "--selection-metric");
  } else if (!options.selection_metric.empty()) {
    throw usage_error("--selection-metric: only the selection rule best_metric uses a metric");
  }
  if (selection.rule == FusionSelectionRule::weighted_sum) {
    const auto& w = options.selection_weights;
    selection.weights =
        Eigen::Map<const Eigen::VectorXd>(w.data(), static_cast<Eigen::Index>(w.size()));
    const std::string error = selection.validate(objectives.num_metrics());
    if (!error.empty()) {
      throw usage_error(detail::concat("--selection-weights: ", error, " (", objectives.loss_name,
                                       ", then ", objectives.metric_names(), ")"));
    }
  } else if (!options.selection_weights.empty()) {
    throw usage_error("--selection-weights: only the selection rule weighted_sum uses weights");
  }
  return selection;
}

nlohmann::json search_info_record(const std::vector<std::string>& members,
                                  const std::string& format, const std::string& evaluate_command) {
  return {{"kind", "bomf_search"},
          {"members", members},
          {"format", format},
          {"evaluate", evaluate_command}};
}

FusionReport make_fusion_report(FusionLedger& ledger, const ReportOptions& options,
                                const std::string& journal_name) {
  constexpr const char* where = "bomf report";
  FusionReport report;
  report.journal = journal_name;
  report.num_members = ledger.num_members();
  report.objectives = ledger.objectives();
  report.fingerprint = ledger.fingerprint();
  const FusionSelection selection = resolve_selection(options, report.objectives);
  const int baseline_metric =
      metric_index(options.baseline_metric, report.objectives, "--baseline-metric");
  const auto rename = [&](const std::string& text) {
    return replace_all(text, ledger.path(), journal_name);
  };

  const nlohmann::json* settings = nullptr;
  for (const nlohmann::json& line : ledger.journal().records()) {
    const std::string kind = line.value("kind", std::string());
    if (kind == "fusion_search_settings" && settings == nullptr) {
      settings = &line;
    } else if (kind == "bomf_search" && report.member_paths.empty()) {
      report.member_paths = line.value("members", std::vector<std::string>());
      report.evaluate_command = line.value("evaluate", std::string());
    }
  }
  report.records = ledger.records();
  int search_rows = 0;
  int search_points = 0;  // non-member search records (the budget the replay needs)
  for (const FusionRecord& r : report.records) {
    const bool search = r.source == FusionRecord::search_source;
    report.trace_row.push_back(search ? search_rows++ : -1);
    search_points += search && r.proposal != ProposalKind::member ? 1 : 0;
  }

  const std::string metric_name = report.objectives.name(1 + baseline_metric);
  std::optional<FusionSearch> search;
  if (settings != nullptr) {
    FusionSearchOptions o;
    try {
      o = options_from_settings(*settings, report.num_members);
    } catch (const nlohmann::json::exception& e) {
      throw io_error(detail::concat(where, ": journal '", journal_name,
                                    "' has a malformed fusion_search_settings record: ", e.what()));
    }
    o.num_iterations = std::max(0, search_points - std::max(0, o.num_initial));
    o.max_failures = INT_MAX;
    o.selection = selection;
    try {
      search.emplace(ledger, o);
    } catch (const invalid_argument& e) {
      throw invalid_argument(detail::concat(
          where, ": cannot replay the fusion search of journal '", journal_name,
          "': ", rename(e.what()),
          " (bomf report replays searches made with the library's default surrogate settings, "
          "as bomf search and the examples use)"));
    }
    report.search = search->summary();
    for (std::string& w : report.search->warnings) {
      w = command_line_advice(rename(w));
    }
    report.search->journal = journal_name;
    MethodReport bomf{"BOMF", "", std::nullopt, ""};
    bomf.how = detail::concat("evaluated Pareto point with the ", selection.description());
    if (selection.rule == FusionSelectionRule::best_metric) {
      bomf.how += " (" + report.objectives.name(1 + selection.metric) + ")";
    }
    try {
      bomf.result = search->result();
    } catch (const evaluation_error& e) {
      bomf.unavailable = command_line_advice(rename(e.what()));
    }
    report.methods.push_back(std::move(bomf));
  } else {
    report.methods.push_back(
        {"BOMF", "", std::nullopt, "the journal holds no fusion search (no settings record)"});
  }

  JournalOnlyProblem problem(ledger);
  FusionEvaluator evaluator(problem, ledger);
  {
    MethodReport row{"best member", "", std::nullopt, ""};
    BestMemberOptions best;
    best.metric = baseline_metric;
    baseline_row(
        row, problem, [&] { return best_single_member(evaluator, best); }, nullptr);
    if (row.result) {
      row.how = detail::concat("member ", member_of(row.result->delta), " of ", report.num_members,
                               ", the best ", metric_name, row.how);
    }
    report.methods.push_back(std::move(row));
  }
  {
    MethodReport row{"last checkpoint", "", std::nullopt, ""};
    baseline_row(
        row, problem, [&] { return last_checkpoint(evaluator); }, nullptr);
    row.how = detail::concat("member ", report.num_members, " (the end of fine-tuning)");
    report.methods.push_back(std::move(row));
  }
  {
    MethodReport row{"SWA", "", std::nullopt, ""};
    baseline_row(
        row, problem, [&] { return uniform_average(evaluator); }, nullptr);
    row.how = detail::concat("uniform average of the ", report.num_members, " members");
    report.methods.push_back(std::move(row));
  }
  {
    MethodReport row{"Greedy SWA", "", std::nullopt, ""};
    GreedySwaOptions greedy;
    greedy.metric = baseline_metric;
    baseline_row(
        row, problem, [&] { return greedy_swa(evaluator, greedy); },
        "incomplete: some of its candidate soups are not in the journal (it did not "
        "run to its end, or ranked by another metric)");
    if (row.result) {
      row.how = detail::concat("greedy soup by ", metric_name, ": members ",
                               member_list(row.result->delta));
    }
    report.methods.push_back(std::move(row));
  }
  for (auto it = report.records.rbegin(); it != report.records.rend(); ++it) {
    if (it->ok && it->source == "baseline:learned_swa") {
      FusionResult r;
      r.method = "Learned SWA";
      r.delta = it->delta;
      r.evaluation = it->evaluation;
      report.methods.push_back(
          {"Learned SWA", "softmax(θ) trained by Adam on the loss (its journaled result)", r, ""});
      break;
    }
  }
  return report;
}

// ---------------------------------------------------------------- Markdown

std::string FusionReport::markdown(const std::string& svg_name) const {
  const int m = objectives.size();
  int failed = 0;
  for (const FusionRecord& r : records) {
    failed += r.ok ? 0 : 1;
  }
  std::string md = "# BOMF fusion report\n\n";
  md += detail::concat("Journal `", journal, "`: ", records.size(), " evaluations (", failed,
                       " failed) of models fused from N = ", num_members, " members. Objectives: `",
                       objectives.loss_name, "` (the loss, minimized)");
  for (const MetricSpec& s : objectives.metrics) {
    md += detail::concat(", `", s.name, "` (", to_string(s.direction), "d)");
  }
  md += ".\n\n";
  if (!member_paths.empty()) {
    md += "| member | checkpoint |\n|---:|---|\n";
    for (std::size_t i = 0; i < member_paths.size(); ++i) {
      md += detail::concat("| ", i + 1, " | `", cell(member_paths[i]), "` |\n");
    }
    md += "\nEvaluator: `" + cell(evaluate_command) + "`\n\n";
  }

  md += "## Methods\n\n";
  md +=
      "Values on the validation data the search used: compare the methods on held-out data "
      "before choosing one.\n\n" +
      table_head("method", "---", objectives, {"δ", "how"});
  for (const MethodReport& row : methods) {
    md += "| " + row.method + " |";
    if (row.result) {
      md += " " + format(row.result->evaluation.loss) + " |";
      for (Eigen::Index k = 0; k < row.result->evaluation.metrics.size(); ++k) {
        md += " " + format(row.result->evaluation.metrics(k)) + " |";
      }
      md += " " + delta_text(row.result->delta) + " | " + cell(row.how) + " |\n";
    } else {
      for (int j = 0; j < m; ++j) {
        md += " — |";
      }
      md += " — | " + cell(first_line(row.unavailable)) + " |\n";
    }
  }
  md += "\n";

  if (search) {
    const FusionSummary& s = *search;
    int counts[5] = {0, 0, 0, 0, 0};
    for (const FusionIteration& row : s.trace) {
      ++counts[static_cast<int>(row.proposal)];
    }
    md += "## The fusion search\n\n";
    md += detail::concat("- ", s.num_evaluations, " evaluations: ", counts[0], " members, ",
                         counts[1], " initial (quasi-random), ", counts[2], " log-qNEHVI");
    if (counts[3] > 0) {
      md += detail::concat(", ", counts[3], " fallback");
    }
    if (counts[4] > 0) {
      md += detail::concat(", ", counts[4], " external");
    }
    md += detail::concat("; ", s.num_failures, " failed, ", s.num_reused, " reused\n");
    if (s.anchor.size() > 0) {
      md += "- reference point (natural units; normalized range in parentheses):";
      for (int j = 0; j < m; ++j) {
        md += detail::concat(j == 0 ? " " : ", ", objectives.name(j), " ", format(s.anchor(j)),
                             " (", format(s.range(j)), ")");
      }
      md += "\n";
    }
    if (!s.trace.empty()) {
      md += "- normalized hypervolume after the last evaluation: " +
            format(s.trace.back().hypervolume) + "\n";
    }
    md += detail::concat("- Pareto set: ", s.pareto_set.trace_indices.size(), " points\n");
    md += "- time: evaluations " + format(s.evaluation_seconds, "%.1f") + " s, GP fits " +
          format(s.fit_seconds, "%.1f") + " s, acquisition " +
          format(s.acquisition_seconds, "%.1f") + " s\n";
    for (const std::string& w : s.warnings) {
      md += "- **warning:** " + cell(w) + "\n";
    }
    md += "\n";
    if (!svg_name.empty()) {
      md += "![evaluated points, Pareto set and hypervolume trace](" + svg_name + ")\n\n";
    }
    if (!s.pareto_set.trace_indices.empty()) {
      md += "### Pareto set\n\n" + table_head("trace row", "---:", objectives, {"δ"});
      for (std::size_t p = 0; p < s.pareto_set.trace_indices.size(); ++p) {
        const auto r = static_cast<Eigen::Index>(p);
        md += detail::concat("| ", s.pareto_set.trace_indices[p], " |");
        for (int j = 0; j < m; ++j) {
          md += " " + format(s.pareto_set.natural(r, j)) + " |";
        }
        md += " " + delta_text(s.pareto_set.deltas.row(r).transpose()) + " |\n";
      }
      md += "\n";
    }
  }

  if (failed > 0) {
    md += "## Failed evaluations\n\n| record | source | δ | reason |\n|---:|---|---|---|\n";
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (!records[i].ok) {
        md += detail::concat("| ", i + 1, " | ", records[i].source, " | ",
                             delta_text(records[i].delta), " | ",
                             cell(first_line(records[i].error)), " |\n");
      }
    }
    md += "\nThe journal keeps each reason whole (with the evaluator's standard error).\n\n";
  }
  if (!notes.empty()) {
    md += "## Notes\n\n";
    for (const std::string& n : notes) {
      md += "- " + cell(n) + "\n";
    }
  }
  return md;
}

// ---------------------------------------------------------------- CSV

std::string FusionReport::evaluations_csv() const {
  std::set<int> pareto;
  if (search) {
    pareto.insert(search->pareto_set.trace_indices.begin(), search->pareto_set.trace_indices.end());
  }
  std::string csv = csv_head("record,source,proposal,status,reused,pareto,hypervolume,seconds",
                             objectives, num_members, "error");
  for (std::size_t i = 0; i < records.size(); ++i) {
    const FusionRecord& r = records[i];
    const int row = trace_row[i];
    const bool traced = search && row >= 0 && row < static_cast<int>(search->trace.size());
    csv += detail::concat(
        i + 1, ",", csv_field(r.source), ",",
        traced ? to_string(search->trace[static_cast<std::size_t>(row)].proposal) : "", ",",
        r.ok ? "ok" : "failed", ",", r.reused ? "true" : "false", ",",
        traced && pareto.count(row) > 0 ? "true" : "false", ",",
        traced ? csv_number(search->trace[static_cast<std::size_t>(row)].hypervolume) : "", ",",
        csv_number(r.seconds), ",", csv_number(r.evaluation.loss));
    for (int k = 0; k < objectives.num_metrics(); ++k) {
      csv += "," + csv_number(k < r.evaluation.metrics.size() ? r.evaluation.metrics(k) : kNaN);
    }
    for (Eigen::Index k = 0; k < r.delta.size(); ++k) {
      csv += "," + csv_number(r.delta(k));
    }
    csv += "," + csv_field(r.error) + "\n";
  }
  return csv;
}

std::string FusionReport::methods_csv() const {
  std::string csv = csv_head("method,available", objectives, num_members, "how");
  for (const MethodReport& row : methods) {
    csv += csv_field(row.method) + "," + (row.result ? "true" : "false");
    if (row.result) {
      csv += "," + csv_number(row.result->evaluation.loss);
      for (Eigen::Index k = 0; k < row.result->evaluation.metrics.size(); ++k) {
        csv += "," + csv_number(row.result->evaluation.metrics(k));
      }
      for (Eigen::Index k = 0; k < row.result->delta.size(); ++k) {
        csv += "," + csv_number(row.result->delta(k));
      }
      csv += "," + csv_field(row.how) + "\n";
    } else {
      csv += std::string(static_cast<std::size_t>(objectives.size() + num_members), ',') + "," +
             csv_field(row.unavailable) + "\n";
    }
  }
  return csv;
}

// ---------------------------------------------------------------- SVG

std::string FusionReport::svg() const {
  constexpr double kWidth = 1000;
  constexpr double kHeight = 440;
  SvgCanvas svg(kWidth, kHeight);
  std::set<int> pareto;
  if (search) {
    pareto.insert(search->pareto_set.trace_indices.begin(), search->pareto_set.trace_indices.end());
  }
  // Left: (loss, first metric) of every successful evaluation.
  std::vector<std::pair<double, double>> points;
  std::vector<bool> on_front;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].ok && records[i].evaluation.metrics.size() > 0) {
      points.emplace_back(records[i].evaluation.loss, records[i].evaluation.metrics(0));
      on_front.push_back(trace_row[i] >= 0 && pareto.count(trace_row[i]) > 0);
    }
  }
  Panel left{70, 40, 400, 330};
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (const auto& [x, y] : points) {
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
    y_min = std::min(y_min, y);
    y_max = std::max(y_max, y);
  }
  left.fit(x_min, x_max, y_min, y_max);
  const std::string metric = objectives.metrics.empty() ? "metric" : objectives.metrics[0].name;
  left.draw_axes(
      svg, "Evaluated fused models (validation)", objectives.loss_name + " (lower is better)",
      metric + (objectives.metrics.empty() || objectives.metrics[0].direction == Direction::maximize
                    ? " (higher is better)"
                    : " (lower is better)"));
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (!on_front[p]) {
      svg.circle(left.px(points[p].first), left.py(points[p].second), 3, "#9a9a9a", "none", 0.7);
    }
  }
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (on_front[p]) {
      svg.circle(left.px(points[p].first), left.py(points[p].second), 4, "#1f77b4");
    }
  }
  struct Style {
    const char* method;
    Marker marker;
    const char* color;
  };
  const Style styles[] = {{"BOMF", Marker::star, "#d62728"},
                          {"best member", Marker::triangle, "#ff7f0e"},
                          {"last checkpoint", Marker::square, "#8c564b"},
                          {"SWA", Marker::diamond, "#2ca02c"},
                          {"Greedy SWA", Marker::cross, "#9467bd"},
                          {"Learned SWA", Marker::circle, "#17becf"}};
  // Legend (right of the left panel's top) and markers.
  double legend_y = 58;
  const double legend_x = 485;
  svg.circle(legend_x, legend_y - 4, 3, "#9a9a9a");
  svg.text(legend_x + 10, legend_y, "evaluated", 10);
  legend_y += 16;
  svg.circle(legend_x, legend_y - 4, 4, "#1f77b4");
  svg.text(legend_x + 10, legend_y, "Pareto set", 10);
  legend_y += 16;
  for (const MethodReport& row : methods) {
    for (const Style& style : styles) {
      if (row.method != style.method || !row.result || row.result->evaluation.metrics.size() == 0) {
        continue;
      }
      svg.marker(style.marker, left.px(row.result->evaluation.loss),
                 left.py(row.result->evaluation.metrics(0)), 5, style.color);
      svg.marker(style.marker, legend_x, legend_y - 4, 4.5, style.color);
      svg.text(legend_x + 10, legend_y, row.method, 10);
      legend_y += 16;
    }
  }
  // Right: the hypervolume trace of the search.
  Panel right{640, 40, 330, 330};
  std::vector<std::pair<double, double>> trace;
  if (search) {
    for (const FusionIteration& row : search->trace) {
      if (std::isfinite(row.hypervolume)) {
        trace.emplace_back(row.index + 1, row.hypervolume);
      }
    }
  }
  double hv_max = 0.0;
  for (const auto& [x, y] : trace) {
    hv_max = std::max(hv_max, y);
  }
  const double rows = search ? static_cast<double>(search->trace.size()) : 1.0;
  right.fit(0.0, std::max(1.0, rows), 0.0, hv_max > 0.0 ? hv_max : 1.0);
  right.draw_axes(svg, "Hypervolume of the fusion search", "evaluation", "normalized hypervolume");
  std::vector<std::pair<double, double>> line;
  for (const auto& [x, y] : trace) {
    line.emplace_back(right.px(x), right.py(y));
  }
  svg.polyline(line, "#1f77b4");
  if (search) {
    for (const FusionIteration& row : search->trace) {
      if (std::isfinite(row.hypervolume)) {
        svg.circle(right.px(row.index + 1), right.py(row.hypervolume), 2.5,
                   row.proposal == ProposalKind::acquisition ? "#1f77b4" : "#9a9a9a");
      }
    }
  } else {
    svg.text(right.left + right.width / 2, right.top + right.height / 2, "no fusion search", 12,
             "middle");
  }
  if (points.empty()) {
    svg.text(left.left + left.width / 2, left.top + left.height / 2, "no successful evaluation", 12,
             "middle");
  }
  svg.text(kWidth / 2, kHeight - 12, "journal: " + journal, 10, "middle", "#666");
  return svg.str();
}

}  // namespace bomf::cli
