// cli/evaluator_pool.hpp — the workers of `bomf search`: K evaluator commands at once, each
// evaluating one fused model. A `FusionWorkerPool` (bomf/drivers/evaluation_loop.hpp), so the
// library's one asynchronous loop (`bomf::solve(options, ledger, pool, &summary)`) and its
// baselines (`PooledFusionProblem`) drive it. libtorch-free: writing the fused checkpoint is a
// function the caller supplies.
#pragma once

#include <Eigen/Core>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bomf/drivers/evaluation_loop.hpp"
#include "cli/command_template.hpp"

namespace bomf::cli {

/// Writes the fused checkpoint w(δ) to a path (a file, or a directory for PEFT members). It
/// should give up (throw) soon after `cancelled()` turns true. Called from the workers' threads,
/// several at once: it must be thread-safe.
using FusedWeightsWriter = std::function<void(const Eigen::VectorXd& delta, const std::string& path,
                                              const std::function<bool()>& cancelled)>;

/// What the workers run (docs/cli.md, `bomf search`).
struct EvaluatorSettings {
  /// The evaluator command template (placeholders of `search_placeholders()`).
  std::string command;
  /// Per-worker environment: NAME → value template (placeholders filled in, not quoted).
  std::vector<std::pair<std::string, std::string>> environment;
  /// The member paths ({members}).
  std::vector<std::string> members;
  /// The objectives the answers are read for.
  FusionObjectives objectives;
  /// The evaluator command's wall-clock limit (zero: none).
  std::chrono::milliseconds timeout{0};
  /// Grace between SIGTERM and SIGKILL when the timeout passes.
  std::chrono::milliseconds kill_grace{5000};
  /// The directory holding the workers' slots `worker-<w>` ({scratch} is the slot): one that
  /// this pool alone uses (`bomf search` gives it its `SearchScratch`), since every slot is
  /// emptied before each evaluation.
  std::string scratch;
  /// The name of the fused checkpoint inside a slot ({weights} = slot/name). Empty, with an
  /// empty `write_weights`: the evaluator fuses on its own ({delta}, {members}).
  std::string weights_name;
  FusedWeightsWriter write_weights;
  /// The number of the first evaluation ({id}); later ones count up.
  std::uint64_t first_id = 0;
  /// Keep each slot after its evaluation (for debugging an evaluator); by default a slot is
  /// removed as soon as its evaluation has ended.
  bool keep_scratch = false;
  /// Polled by `wait` about ten times a second: true makes it call `on_interrupt` (a function
  /// that does not return: it ends the program) after stopping every worker.
  std::function<bool()> interrupted;
  std::function<void()> on_interrupt;
  /// Called by `wait` about once a second while it waits (to redraw a progress display).
  std::function<void()> tick;
};

/// K workers, each a thread that evaluates one δ at a time:
///   1. empties its slot `<scratch>/worker-<w>` and, unless the evaluator fuses, writes w(δ)
///      there with `write_weights` (in the worker's thread, so the loop thread — proposing the
///      next δ, journaling results — is never held up by fusing);
///   2. runs the command (a `ProcessPool` of its own: own process group, timeout, bounded
///      output; docs/cli.md) with the per-worker environment plus BOMF_WORKER and
///      BOMF_EVALUATION_ID;
///   3. reads the answer (cli/protocol.hpp) and removes the slot.
/// Every failure — the checkpoint cannot be written, the command fails, times out or answers
/// wrongly — is a failed evaluation whose reason ends with the command's stderr tail; `wait`
/// throws nothing for it.
///
/// Signals: the workers block SIGINT, SIGTERM and SIGHUP, so they reach the loop thread, whose
/// `wait` notices them through `settings.interrupted`.
class EvaluatorPool final : public FusionWorkerPool {
 public:
  /// `workers` ≥ 1 workers. Throws `bomf::invalid_argument` for a command or environment
  /// template with an unknown placeholder, {weights} without a writer, or workers < 1.
  EvaluatorPool(EvaluatorSettings settings, int workers);
  ~EvaluatorPool() override;
  EvaluatorPool(const EvaluatorPool&) = delete;
  EvaluatorPool& operator=(const EvaluatorPool&) = delete;

  [[nodiscard]] int num_workers() const override { return static_cast<int>(slots_.size()); }
  void start(int worker, std::uint64_t id, const Eigen::VectorXd& delta) override;
  Completed wait() override;

  /// Stops every worker: running commands are killed (SIGKILL to their process groups), a
  /// checkpoint being written is abandoned, the threads are joined and the slots removed.
  /// Evaluations stopped so are never returned by `wait`. Idempotent.
  void shutdown();

  /// Evaluations started and not yet returned by `wait`.
  [[nodiscard]] int running() const;
  /// Evaluator commands started so far.
  [[nodiscard]] std::uint64_t commands_started() const { return commands_started_.load(); }

 private:
  struct Task {
    std::uint64_t number = 0;  // {id}
    Eigen::VectorXd delta;
  };
  struct Slot {
    std::optional<Task> task;
    std::uint64_t loop_id = 0;  // the id the loop gave `start`
  };

  void work(int worker);
  Completed evaluate(int worker, std::uint64_t loop_id, const Task& task);

  EvaluatorSettings settings_;
  CommandTemplate command_;
  std::vector<std::pair<std::string, CommandTemplate>> environment_;
  std::vector<std::string> absolute_members_;
  std::uint64_t next_number_;
  mutable std::mutex mutex_;
  std::condition_variable wake_workers_;
  std::condition_variable done_ready_;
  std::vector<Slot> slots_;
  std::deque<Completed> done_;
  int running_ = 0;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<std::uint64_t> commands_started_{0};
  std::vector<std::thread> threads_;  // last: started once everything else exists
};

/// One search's own directory in the scratch directory, `SCRATCH/bomf-search-XXXXXX` (created
/// exclusively, mode 0700, like mkdtemp), which holds that search's worker slots. Several
/// searches may share one scratch directory, and it may hold other things: a search writes and
/// removes only inside the directory it created. An `owner` file in it names the search's
/// process (boot, PID namespace, PID, start time), so that a later search can tell the directory
/// of a killed search from that of a running one (`remove_stale_search_scratch`).
class SearchScratch {
 public:
  /// Creates the scratch directory when missing, and a directory of its own in it. `keep`: keep
  /// it at the end (`--keep-scratch`). `owns_scratch`: the scratch directory is bomf's own
  /// (`OUTPUT/scratch`), removed at the end when empty even if it existed before; otherwise only
  /// when this object created it. Throws `io_error`, naming `scratch`, when either cannot be
  /// created.
  SearchScratch(const std::string& scratch, bool keep, bool owns_scratch);
  /// `finish()`.
  ~SearchScratch();
  SearchScratch(const SearchScratch&) = delete;
  SearchScratch& operator=(const SearchScratch&) = delete;

  /// The search's own directory (absolute).
  [[nodiscard]] const std::string& path() const { return path_; }
  /// Removes the search's directory and all in it — or, when kept (`--keep-scratch`), only the
  /// owner file, so that no later search takes it for a stale one — then the scratch directory
  /// when it is empty and bomf's (see the constructor). Idempotent; never throws (it runs on the
  /// way out of errors and interrupts).
  void finish() noexcept;

 private:
  std::string scratch_;
  std::string path_;
  bool keep_ = false;
  bool created_scratch_ = false;
  bool finished_ = false;
};

/// Removes the directories `bomf-search-*` in `scratch` that a search left when it was killed
/// (kill -9, a crash): only those with an owner file naming a process of this machine (same
/// boot, same PID namespace) that has ended (or is a zombie), owned by this user. Anything else —
/// another machine's or another container's search, a running one, a kept one (`--keep-scratch`), a
/// directory not made by bomf — is left alone. Returns the paths removed; never throws.
std::vector<std::string> remove_stale_search_scratch(const std::string& scratch);

/// δ as {delta} writes it: comma-separated, 17 significant digits (read back exactly).
[[nodiscard]] std::string format_delta(const Eigen::VectorXd& delta);

}  // namespace bomf::cli
