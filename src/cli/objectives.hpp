// cli/objectives.hpp — the objectives of `bomf search`, from the command line or a config file.
// libtorch-free.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bomf/drivers/fusion_problem.hpp"

namespace bomf::cli {

/// Parses `--objective` values into the loss and metrics of a fusion problem.
///
/// Each spec is `NAME:KIND[:DIRECTION]` — KIND `loss` or `metric`, DIRECTION `maximize`/`max`
/// or `minimize`/`min` (default: `maximize` for a metric; a loss is always minimized, and
/// `loss:maximize` is refused). Exactly one loss and at least one metric, all names distinct,
/// metrics kept in the given order (the evaluator's answer is read in that order). NAME is
/// made of letters, digits, '_', '-', '.' and '/'. Throws `usage_error` naming the spec, the
/// field at fault and what was expected.
[[nodiscard]] FusionObjectives parse_objectives(const std::vector<std::string>& specs,
                                                std::string_view option = "--objective");

/// Objectives from the text of a JSON file (`source` names it in messages):
///
///     {"objectives": [{"name": "loss", "kind": "loss"},
///                     {"name": "accuracy", "kind": "metric", "direction": "maximize"}]}
///
/// with the same rules as `parse_objectives`; unknown keys are refused (a misspelt
/// "direction" would otherwise be ignored). Throws `usage_error` naming the file, the entry
/// and the key.
[[nodiscard]] FusionObjectives parse_objectives_json(std::string_view text,
                                                     const std::string& source);

}  // namespace bomf::cli
