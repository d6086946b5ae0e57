// supersense/cli_options.hpp — the command-line options bomf_supersense and
// bomf_supersense_study share: data locations, libtorch threads, progress output, and the
// budgets of the workflow (each overrides the mode's default when given).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "task.hpp"
#include "workflow.hpp"

namespace supersense {

/// Parsed shared options. Budgets: −1 (0 for epochs) = the mode's default.
struct CommonOptions {
  int threads = 1;
  std::string data_dir;
  std::string wordnet = kDefaultWordNetNounPath;
  bool no_progress = false;
  int stage1_iterations = -1;
  std::int64_t epochs = 0;
  int members = -1;
  int fusion_iterations = -1;
  int learned_swa_steps = -1;

  /// Registers the options on `app`; the help texts name the defaults of the two modes.
  void add_to(CLI::App& app, const WorkflowOptions& full, const WorkflowOptions& smoke);
  /// The budgets given on the command line replace those of `options`.
  void apply(WorkflowOptions& options) const;
  /// Data directory and WordNet path into `options`.
  void apply(TaskOptions& options) const;
};

}  // namespace supersense
