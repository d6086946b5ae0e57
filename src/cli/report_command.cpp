// bomf report — the report of a fusion journal (cli/report.hpp), read-only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "bomf/core/error.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {
namespace {

struct ReportArguments {
  std::string journal;
  std::string output;
  SelectionArguments selection;
};

int run_report(const ReportArguments& a) {
  if (!a.output.empty()) {
    for (const std::string& file : report_file_paths(a.output)) {
      if (detail::same_path(file, a.journal)) {
        throw usage_error(detail::concat("-o/--output: the report file '", file,
                                         "' would replace the journal '", a.journal,
                                         "'; write the report into another directory"));
      }
      if (const std::string problem = detail::non_regular_output_problem(file); !problem.empty()) {
        throw usage_error("-o/--output: " + problem);
      }
    }
  }
  const FusionReport report = read_fusion_report(a.journal, selection_options(a.selection));
  for (const std::string& note : report.notes) {
    std::cerr << "bomf report: note: " << note << "\n";
  }
  if (a.output.empty()) {
    std::cout << report.markdown("");
    return kExitSuccess;
  }
  for (const std::string& file : write_report_files(report, a.output)) {
    std::cout << "wrote " << file << "\n";
  }
  return kExitSuccess;
}

}  // namespace

CLI::Validator non_empty(const std::string& expected) {
  return CLI::Validator(
      [expected](std::string& value) {
        return value.empty() ? "the value is empty, expected " + expected : std::string();
      },
      "", "non-empty");
}

void add_selection_options(CLI::App& command, SelectionArguments& arguments) {
  command
      .add_option("--selection", arguments.selection,
                  "How BOMF's δ is chosen among the evaluated Pareto points: best_metric_sum "
                  "(default, the paper's), posterior_metric_sum, lowest_loss, best_metric, "
                  "weighted_sum")
      ->check(CLI::IsMember({"best_metric_sum", "posterior_metric_sum", "lowest_loss",
                             "best_metric", "weighted_sum"}));
  command
      .add_option("--selection-metric", arguments.selection_metric,
                  "--selection best_metric: the metric's name (default the first)")
      ->type_name("NAME")
      ->check(non_empty("a metric's name"));
  command
      .add_option("--selection-weights", arguments.selection_weights,
                  "--selection weighted_sum: 1 + K weights ≥ 0 over the normalized objectives, "
                  "the loss first")
      ->type_name("REALS")
      ->check(non_empty("1 + K weights, comma-separated"));
  command
      .add_option("--baseline-metric", arguments.baseline_metric,
                  "The metric by which the best member and Greedy SWA rank (default the first)")
      ->type_name("NAME")
      ->check(non_empty("a metric's name"));
}

ReportOptions selection_options(const SelectionArguments& arguments) {
  ReportOptions options;
  options.selection = selection_rule_from_string(arguments.selection, "--selection");
  options.selection_metric = arguments.selection_metric;
  if (!arguments.selection_weights.empty()) {
    options.selection_weights = parse_real_list(arguments.selection_weights, "--selection-weights");
  }
  options.baseline_metric = arguments.baseline_metric;
  return options;
}

std::function<int()> add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArguments>();
  CLI::App* report = app.add_subcommand(
      "report",
      "The report of a fusion journal (bomf search's, or a program's that uses the library, "
      "e.g. the flagship's PREFIX.fusion.jsonl): BOMF and the baselines on its evaluations, the "
      "Pareto set, the hypervolume trace. Reads the journal without changing or locking it, so "
      "a running search's journal can be reported; a damaged journal is refused.");
  report->add_option("journal", args->journal, "The fusion journal (JSON lines)")
      ->required()
      ->type_name("JOURNAL")
      ->check(non_empty("a journal file path"));
  report
      ->add_option("-o,--output", args->output,
                   "Write report.md, report.csv, methods.csv and report.svg into this "
                   "directory (default: print the Markdown)")
      ->type_name("DIR")
      ->check(non_empty("a directory path"));
  add_selection_options(*report, args->selection);
  return [args] { return run_report(*args); };
}

}  // namespace bomf::cli
