// cli/protocol.hpp — the evaluator protocol of `bomf search`, version 1 (docs/cli.md).
//
// The evaluator command prints, as the last non-blank line of its standard output, one JSON
// object:
//
//     {"bomf_protocol": 1, "loss": 0.41, "metrics": {"accuracy": 0.91, "macro_f1": 0.87}}
//
//  * "bomf_protocol" (required): the integer 1.
//  * "loss" (required): the validation loss, a finite number.
//  * "metrics" (required): an object with a finite number for every declared metric; metrics
//    it has beyond the declared ones are ignored.
//  * "error" (optional): a string; when present and not null, the evaluation failed and this
//    is why (the evaluator's own way to report a failure; exit status 0 or not).
//  * any other key is ignored (room for run times, sample counts, ...).
//
// Earlier lines of standard output are ignored (logs), so are trailing blank lines. Anything
// else — no answer, a line that is not a JSON object, NaN or Infinity (not JSON; Python's
// json.dumps writes them unless allow_nan=False), a missing or null value, a wrong type, a
// different protocol version, a non-zero exit status, a signal, a timeout — makes the
// evaluation a failure with the reason, never an exception.
// libtorch-free.
#pragma once

#include <string>
#include <string_view>

#include "bomf/drivers/fusion_problem.hpp"
#include "cli/process.hpp"

namespace bomf::cli {

/// The protocol version this bomf speaks.
inline constexpr int kEvaluatorProtocolVersion = 1;

/// One evaluation as the evaluator reported it.
struct EvaluatorOutcome {
  bool ok = false;
  /// The loss and the metrics in the order of `FusionObjectives::metrics` (valid when `ok`).
  FusionEvaluation evaluation;
  /// Why the evaluation failed (empty when `ok`).
  std::string failure;
  /// The last bytes of the command's standard error (kept for failures and successes).
  std::string stderr_tail;
};

/// Reads the answer in `stdout_text` for `objectives` (see the protocol above).
[[nodiscard]] EvaluatorOutcome parse_evaluator_answer(std::string_view stdout_text,
                                                      const FusionObjectives& objectives);

/// The outcome of a finished evaluator process: a failure with the reason for a process that
/// did not exit with status 0 (failed to start, signal, timeout) or whose standard output was
/// truncated, otherwise `parse_evaluator_answer` of its output; the stderr tail is kept.
[[nodiscard]] EvaluatorOutcome evaluator_outcome(const ProcessResult& process,
                                                 const FusionObjectives& objectives);

}  // namespace bomf::cli
