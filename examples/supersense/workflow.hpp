// supersense/workflow.hpp — the BOMF workflow on the supersense task (Jang et al., "Model Fusion
// through Bayesian Optimization in Language Model Fine-Tuning", NeurIPS 2024, Algorithm 1),
// written with bomf's public driver API only:
//
//  1. Stage 1 (training_stages.cpp): `bomf::solve` of hyperparameter_search.hpp — LogEI over the
//     learning rate (log scale) and the batch size (2^k, k integer) on a cheap proxy: the model
//     with its embeddings and first layer frozen, trained for one epoch (§3.2, Eq. 6). Each run
//     is scored by its best macro-F1 + accuracy on the validation split (Eq. 5).
//  2. Fine-tuning (training_stages.cpp): `bomf::train_members` trains the full model once with
//     the chosen setting; the training loop copies the parameters at the steps the library's
//     member policy plans (member_selection.hpp: from 50 % of training, evenly spaced), in memory.
//  3. Stage 2 (fusion_stage.cpp): `bomf::solve` of fusion_search.hpp — log-qNEHVI over δ on the
//     simplex, objectives validation loss, macro-F1 and accuracy, on a `bomf::TorchFusionProblem`
//     in its weights form (the model is a function of a bomf::StateDict).
//  4. Baselines (fusion_stage.cpp, baselines.hpp) on the same FusionEvaluator, so every δ is
//     evaluated once: best single member (by validation macro-F1), last checkpoint, SWA, Greedy
//     SWA (by validation macro-F1), Learned SWA.
//  5. The test split scores every method's δ; it is used for nothing else.
//
// Stage 1 and stage 2 live in two translation units (training_stages.cpp, fusion_stage.cpp), so
// that a change to one stage recompiles only its own.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bomf/fusion/state_dict.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "task.hpp"

namespace supersense {

/// Settings of the workflow. `full()` and `smoke()` are the two modes of bomf_supersense.
struct WorkflowOptions {
  std::string mode = "full";  ///< shown in the report
  std::uint64_t seed = 0;     ///< seeds every stage (training batch order, both searches)
  /// Journal prefix ("" = none): stage 1 writes `<journal>.stage1.jsonl`, stage 2
  /// `<journal>.fusion.jsonl`. Rerunning with the same prefix replays both and continues.
  std::string journal;

  // Stage 1: hyperparameter search on the proxy.
  int stage1_initial = 3;     ///< quasi-random settings (paper: 3)
  int stage1_iterations = 5;  ///< LogEI iterations after them
  double min_learning_rate = 3e-4;
  double max_learning_rate = 1e-2;
  int min_log2_batch = 4;  ///< batch sizes 2^4 … 2^7 = 16 … 128
  int max_log2_batch = 7;
  int proxy_frozen_layers = 1;       ///< embeddings + this many layers frozen
  std::int64_t proxy_epochs = 1;     ///< epochs of a proxy run
  std::int64_t proxy_max_steps = 0;  ///< > 0: cap the steps of a proxy run
  int proxy_evaluations = 4;         ///< validation evaluations per proxy run (evenly spaced)

  // Fine-tuning with the chosen setting.
  std::int64_t epochs = 4;
  int members = 15;  ///< fusion members kept (paper: about 15)

  // Stage 2: fusion search and baselines.
  int fusion_initial = -1;     ///< quasi-random δ after the members; −1 = N (paper)
  int fusion_iterations = -1;  ///< log-qNEHVI iterations; −1 = 5·N (paper)
  int learned_swa_steps = 100;

  /// The default mode: 6000/1000/2000 examples, 3 + 5 proxy runs, 4 epochs, 15 members,
  /// N + 5·N fusion evaluations after the members, 100 Learned-SWA steps.
  static WorkflowOptions full();
  /// The smoke mode (CI): 3 + 1 short proxy runs, 1 epoch, 6 members, 2 + 4 fusion
  /// evaluations after the members (12 in all), 5 Learned-SWA steps.
  static WorkflowOptions smoke();
};

/// The setting stage 1 chose.
struct ChosenSetting {
  double learning_rate = 0;
  std::int64_t batch_size = 0;
};

/// The members of the fine-tuning run (in step order).
struct Members {
  std::vector<bomf::StateDict> parameters;
  std::vector<std::int64_t> steps;
};

/// CPU time (user + system) of this process so far, in seconds.
inline double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// Measures one stage: wall-clock and CPU time from construction to `stop`, which appends a
/// StageTime to the report.
class StageTimer {
 public:
  StageTimer(WorkflowReport& report, std::string stage)
      : report_(report),
        stage_(std::move(stage)),
        wall_(std::chrono::steady_clock::now()),
        cpu_(cpu_seconds()) {}
  /// Records the stage (once) and returns its wall time.
  double stop() {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    if (!stopped_) {
      report_.stages.push_back({stage_, wall, cpu_seconds() - cpu_});
      stopped_ = true;
    }
    return wall;
  }

 private:
  WorkflowReport& report_;
  std::string stage_;
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
  bool stopped_ = false;
};

/// Stage 1: the hyperparameter search on the proxy (fills report.stage1*, prints one line per
/// run). Throws what bomf::solve throws (e.g. when every run fails).
ChosenSetting run_stage1(const SupersenseTask& task, const WorkflowOptions& options,
                         Progress& progress, WorkflowReport& report);

/// Fine-tunes the full model with `setting` through bomf::train_members, keeping the members
/// planned by the library's member policy (fills report.fine_tune*, member_steps).
Members fine_tune(const SupersenseTask& task, const WorkflowOptions& options,
                  const ChosenSetting& setting, Progress& progress, WorkflowReport& report);

/// Stage 2, the baselines and the test evaluation (fills report.fusion*, methods; appends the
/// stage timings). Consumes the members.
void run_stage2(const SupersenseTask& task, const WorkflowOptions& options, Members members,
                Progress& progress, WorkflowReport& report);

}  // namespace supersense
