// supersense/cli_options.cpp — the shared command-line options (see cli_options.hpp).
#include "cli_options.hpp"

namespace supersense {

namespace {

/// "(default A, smoke B)" for a budget; a negative default of the fusion iterations is "5 N".
std::string defaults(int full, int smoke) {
  const auto text = [](int v) { return v < 0 ? std::string("5 N") : std::to_string(v); };
  return " (default " + text(full) + ", smoke " + text(smoke) + ")";
}

}  // namespace

void CommonOptions::add_to(CLI::App& app, const WorkflowOptions& full,
                           const WorkflowOptions& smoke) {
  app.add_option("--threads", threads, "libtorch intra-op threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--data-dir", data_dir,
                 "GloVe JSON and cache (default: $BOMF_DATA_DIR or ~/.cache/bomf)");
  app.add_option("--wordnet", wordnet, "WordNet's data.noun")->capture_default_str();
  app.add_flag("--no-progress", no_progress, "No progress bars or progress lines");
  app.add_option("--stage1-iterations", stage1_iterations,
                 "LogEI iterations of stage 1 after the " + std::to_string(full.stage1_initial) +
                     " initial runs" + defaults(full.stage1_iterations, smoke.stage1_iterations))
      ->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", epochs,
                 "Fine-tuning epochs" +
                     defaults(static_cast<int>(full.epochs), static_cast<int>(smoke.epochs)))
      ->check(CLI::PositiveNumber);
  app.add_option("--members", members, "Fusion members" + defaults(full.members, smoke.members))
      ->check(CLI::Range(2, 1000));
  app.add_option(
         "--fusion-iterations", fusion_iterations,
         "log-qNEHVI iterations" + defaults(full.fusion_iterations, smoke.fusion_iterations))
      ->check(CLI::NonNegativeNumber);
  app.add_option(
         "--learned-swa-steps", learned_swa_steps,
         "Adam steps of Learned SWA" + defaults(full.learned_swa_steps, smoke.learned_swa_steps))
      ->check(CLI::NonNegativeNumber);
}

void CommonOptions::apply(WorkflowOptions& options) const {
  if (stage1_iterations >= 0) {
    options.stage1_iterations = stage1_iterations;
  }
  if (epochs > 0) {
    options.epochs = epochs;
  }
  if (members > 0) {
    options.members = members;
  }
  if (fusion_iterations >= 0) {
    options.fusion_iterations = fusion_iterations;
  }
  if (learned_swa_steps >= 0) {
    options.learned_swa_steps = learned_swa_steps;
  }
}

void CommonOptions::apply(TaskOptions& options) const {
  options.data_dir = data_dir;
  options.wordnet_path = wordnet;
}

}  // namespace supersense
