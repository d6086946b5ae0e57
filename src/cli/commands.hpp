// cli/commands.hpp — the subcommands of the `bomf` program (src/cli/main.cpp).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "cli/report.hpp"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace bomf::cli {

/// Exit statuses of `bomf` (docs/cli.md).
enum ExitStatus : int {
  kExitSuccess = 0,
  kExitFailure = 1,            ///< the command could not be carried out (input, fusion, writing)
  kExitUsage = 2,              ///< the command line is wrong
  kExitEvaluationsFailed = 3,  ///< bomf search stopped: too many failed evaluations, or every
                               ///< member's evaluation failed (all are journaled)
  kExitInterrupted = 130,      ///< SIGINT, SIGTERM or SIGHUP arrived; nothing was left half-written
};

/// Thrown from long operations once an interrupting signal has arrived.
class interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Makes SIGINT, SIGTERM and SIGHUP set a flag instead of ending the program, so that temporary
/// files are removed on the way out (`throw_if_interrupted`).
void install_interrupt_handlers();
/// Throws `interrupted` when one of those signals has arrived.
void throw_if_interrupted();
/// The interrupting signal that arrived (0: none yet).
[[nodiscard]] int interrupt_signal();

/// A CLI11 check that refuses an empty value ("" would otherwise mean "not given" for some
/// options, or an unusable path): the message says what was expected, e.g. "a directory path".
[[nodiscard]] CLI::Validator non_empty(const std::string& expected);

/// Registers `bomf fuse` on `app`; the returned function runs it once `app` has parsed the
/// command line, and returns the exit status (it throws `usage_error` for a wrong command line,
/// other exceptions for failures).
std::function<int()> add_fuse_command(CLI::App& app);
/// Registers `bomf search` (search_command.cpp), the same way.
std::function<int()> add_search_command(CLI::App& app);
/// Registers `bomf report` (report_command.cpp), the same way.
std::function<int()> add_report_command(CLI::App& app);

/// The options that choose BOMF's δ and rank the baselines, shared by `search` and `report`.
struct SelectionArguments {
  std::string selection = "best_metric_sum";
  std::string selection_metric;
  std::string selection_weights;
  std::string baseline_metric;
};
/// Registers --selection, --selection-metric, --selection-weights and --baseline-metric.
void add_selection_options(CLI::App& command, SelectionArguments& arguments);
/// The report options of `arguments` (weights parsed; names resolved later, against the
/// objectives). Throws `usage_error`.
[[nodiscard]] ReportOptions selection_options(const SelectionArguments& arguments);

}  // namespace bomf::cli
