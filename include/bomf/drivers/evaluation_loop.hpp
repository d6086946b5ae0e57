// bomf/drivers/evaluation_loop.hpp — both search stages with K evaluations in flight at once:
// a `WorkerPool` interface for whatever evaluates (threads, processes, MPI ranks, machines), and
// the one asynchronous loop that drives an ask/tell search on it.
//
// With a real language model one evaluation of a fused model takes minutes on a GPU, and a
// stage-1 evaluation trains a model. The loop keeps every worker busy: as soon as one finishes,
// its result is journaled (the search's `observe`) and the worker gets the next proposal — made
// with every evaluation still in flight as a pending point (qLogNEHVI's X_pending in stage 2, the
// kriging believer in stage 1), never waiting for a whole batch.
//
//   K threads, one problem each (e.g. one model per GPU):
//     std::vector<bomf::FusionProblem*> problems = {&gpu0, &gpu1, &gpu2};
//     bomf::ThreadWorkerPool<Eigen::VectorXd, bomf::FusionEvaluation> pool(
//         bomf::fusion_workers(problems));
//     bomf::FusionLedger ledger(gpu0, "fusion.jsonl");
//     bomf::FusionResult fused = bomf::solve(options, ledger, pool, &summary);
//   Processes or machines: implement WorkerPool (the `bomf search` command runs evaluator
//   processes; bomf::mpi implements it on MPI ranks).
//
// Journals: a run with K workers writes the same journal format as a sequential run and resumes
// from it with any K (1 included), repeating no completed evaluation. Determinism: with one
// worker the loop makes exactly the proposals of the sequential `solve`; with K > 1 the
// proposals depend on the order in which evaluations complete (a proposal sees the results that
// have arrived and treats the others as pending), so two runs agree only if their evaluations
// complete in the same order.
//
// Failures: an evaluation that throws in a worker (or that the worker reports as failed) is a
// failed record, as in one process. When the loop must stop (the callback returned false, too
// many failures, a contract violation), it starts nothing new but still waits for the
// evaluations in flight and journals them — they are paid for — before returning or rethrowing.
#pragma once

#include <Eigen/Core>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_ledger.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/drivers/search_trace.hpp"
#include "bomf/drivers/training_problem.hpp"

namespace bomf {

/// One evaluation a worker finished: the point, and its outcome or why it failed.
template <class Point, class Outcome>
struct CompletedEvaluation {
  std::uint64_t id = 0;            ///< the id `WorkerPool::start` was given
  int worker = 0;                  ///< the worker that evaluated it
  Point point;                     ///< what was evaluated
  std::optional<Outcome> outcome;  ///< the result; empty when the evaluation failed
  std::string error;               ///< why it failed ("" when it did not)
  double seconds = 0.0;            ///< wall time of the evaluation
};

/// K workers that evaluate points asynchronously. The loop calls `start` only on an idle worker
/// and `wait` only while at least one evaluation is running; implementations need not be
/// thread-safe (one thread drives them).
template <class Point, class Outcome>
class WorkerPool {
 public:
  using Completed = CompletedEvaluation<Point, Outcome>;
  virtual ~WorkerPool() = default;
  /// The number of workers K ≥ 1.
  [[nodiscard]] virtual int num_workers() const = 0;
  /// Starts evaluating `point` on the idle worker `worker` (0 ≤ worker < K) and returns at once;
  /// `id` identifies the evaluation (a stage-1 worker passes it to its TrainingContext as
  /// run_index).
  virtual void start(int worker, std::uint64_t id, const Point& point) = 0;
  /// Blocks until an evaluation started earlier completes, and returns it. An evaluation that
  /// fails — the user's code threw, a process exited with an error — is returned with an empty
  /// outcome and the reason, never thrown; throwing is for a pool that cannot go on (a lost
  /// connection).
  virtual Completed wait() = 0;
};

/// Workers that evaluate fused models: δ → FusionEvaluation.
using FusionWorkerPool = WorkerPool<Eigen::VectorXd, FusionEvaluation>;
/// Workers that train: a setting → its trajectory.
using TrainingWorkerPool = WorkerPool<Hyperparameters, TrainingTrajectory>;

/// A WorkerPool of K threads, each calling its own function `Outcome(id, point)` (e.g. its own
/// FusionProblem on its own GPU). A function that throws makes a failed evaluation with the
/// exception's message. The destructor waits for the evaluations still running.
template <class Point, class Outcome>
class ThreadWorkerPool final : public WorkerPool<Point, Outcome> {
 public:
  using Completed = CompletedEvaluation<Point, Outcome>;
  using Function = std::function<Outcome(std::uint64_t id, const Point& point)>;

  /// One worker per function (at least one). Throws bomf::invalid_argument for none or an empty
  /// function.
  explicit ThreadWorkerPool(std::vector<Function> functions) : functions_(std::move(functions)) {
    constexpr const char* where = "bomf::ThreadWorkerPool";
    detail::require(!functions_.empty(), where, "no worker function, expected at least one");
    for (std::size_t w = 0; w < functions_.size(); ++w) {
      detail::require(static_cast<bool>(functions_[w]), where, "worker function ", w, " is empty");
    }
    tasks_.resize(functions_.size());
    threads_.reserve(functions_.size());
    for (std::size_t w = 0; w < functions_.size(); ++w) {
      threads_.emplace_back([this, w] { work(static_cast<int>(w)); });
    }
  }
  ThreadWorkerPool(const ThreadWorkerPool&) = delete;
  ThreadWorkerPool& operator=(const ThreadWorkerPool&) = delete;
  ~ThreadWorkerPool() override {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_workers_.notify_all();
    for (std::thread& t : threads_) {
      t.join();
    }
  }

  [[nodiscard]] int num_workers() const override { return static_cast<int>(functions_.size()); }

  void start(int worker, std::uint64_t id, const Point& point) override {
    detail::require(worker >= 0 && worker < num_workers(), "bomf::ThreadWorkerPool::start",
                    "argument 'worker' is ", worker, ", expected 0 … ", num_workers() - 1);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      std::optional<std::pair<std::uint64_t, Point>>& slot =
          tasks_[static_cast<std::size_t>(worker)];
      detail::require(!slot, "bomf::ThreadWorkerPool::start", "worker ", worker, " is busy");
      slot.emplace(id, point);
      ++running_;
    }
    wake_workers_.notify_all();
  }

  Completed wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    detail::require(running_ > 0 || !done_.empty(), "bomf::ThreadWorkerPool::wait",
                    "nothing is running");
    done_ready_.wait(lock, [this] { return !done_.empty(); });
    Completed c = std::move(done_.front());
    done_.pop_front();
    return c;
  }

 private:
  void work(int worker) {
    for (;;) {
      std::pair<std::uint64_t, Point> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_workers_.wait(lock, [&] {
          return stopping_ || tasks_[static_cast<std::size_t>(worker)].has_value();
        });
        if (!tasks_[static_cast<std::size_t>(worker)])
          return;  // stopping, idle
        task = std::move(*tasks_[static_cast<std::size_t>(worker)]);
      }
      Completed c;
      c.id = task.first;
      c.worker = worker;
      c.point = task.second;
      const detail::Stopwatch clock;
      try {
        c.outcome.emplace(functions_[static_cast<std::size_t>(worker)](c.id, c.point));
      } catch (const std::exception& e) {
        c.error = detail::concat("evaluation threw: ", e.what());
      } catch (...) {
        c.error = "evaluation threw a non-standard exception";
      }
      c.seconds = clock.seconds();
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        tasks_[static_cast<std::size_t>(worker)].reset();
        --running_;
        done_.push_back(std::move(c));
      }
      done_ready_.notify_one();
    }
  }

  std::vector<Function> functions_;
  std::mutex mutex_;
  std::condition_variable wake_workers_;
  std::condition_variable done_ready_;
  std::vector<std::optional<std::pair<std::uint64_t, Point>>> tasks_;
  std::deque<Completed> done_;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: started after everything else exists
};

/// Worker functions evaluating fused models with `problems` (one per worker, each used by its
/// own thread only; all with the same N and objectives).
inline std::vector<std::function<FusionEvaluation(std::uint64_t, const Eigen::VectorXd&)>>
fusion_workers(const std::vector<FusionProblem*>& problems) {
  std::vector<std::function<FusionEvaluation(std::uint64_t, const Eigen::VectorXd&)>> out;
  for (FusionProblem* p : problems) {
    detail::require(p != nullptr, "bomf::fusion_workers", "a problem is null");
    out.emplace_back(
        [p](std::uint64_t, const Eigen::VectorXd& delta) { return p->evaluate(delta); });
  }
  return out;
}

/// Worker functions training with `problems` (one per worker). Each run gets a TrainingContext
/// whose run_index is the evaluation's id — the run number: runs are numbered in the order they
/// start, after every run the journal holds (HyperparameterIteration::run_index) — and which
/// collects members when `collect_members`
/// (HyperparameterSearchOptions::collect_members_during_search).
inline std::vector<std::function<TrainingTrajectory(std::uint64_t, const Hyperparameters&)>>
training_workers(const std::vector<TrainingProblem*>& problems, bool collect_members = false,
                 const MemberSelectionOptions& members = {}) {
  std::vector<std::function<TrainingTrajectory(std::uint64_t, const Hyperparameters&)>> out;
  for (TrainingProblem* p : problems) {
    detail::require(p != nullptr, "bomf::training_workers", "a problem is null");
    out.emplace_back([p, collect_members, members](std::uint64_t id, const Hyperparameters& h) {
      TrainingContext context(static_cast<int>(id), collect_members, members);
      return p->train(h, context);
    });
  }
  return out;
}

/// A FusionProblem that evaluates through worker 0 of a FusionWorkerPool, one evaluation at a
/// time: the baselines (baselines.hpp) on the workers of a search, e.g. Greedy SWA's soups
/// evaluated by an evaluator process or an MPI rank. A failed evaluation is thrown as
/// bomf::evaluation_error (its message), which the FusionEvaluator records as a failed record.
/// No loss gradient (Learned SWA needs a problem that has one).
class PooledFusionProblem final : public FusionProblem {
 public:
  /// Evaluates through `pool` (which must outlive this object) for a problem of N members,
  /// `objectives` and `fingerprint`. Throws bomf::invalid_argument for N < 2 or invalid
  /// objectives.
  PooledFusionProblem(FusionWorkerPool& pool, int num_members, FusionObjectives objectives,
                      std::string fingerprint = {})
      : pool_(pool),
        num_members_(num_members),
        objectives_(std::move(objectives)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::PooledFusionProblem";
    detail::require(num_members >= 2, where, "argument 'num_members' is ", num_members,
                    ", expected at least 2 members to fuse");
    objectives_.validate(where);
  }
  [[nodiscard]] int num_members() const override { return num_members_; }
  [[nodiscard]] FusionObjectives objectives() const override { return objectives_; }
  [[nodiscard]] std::string fingerprint() const override { return fingerprint_; }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    pool_.start(0, next_id_++, delta);
    CompletedEvaluation<Eigen::VectorXd, FusionEvaluation> done = pool_.wait();
    if (!done.outcome)
      throw evaluation_error(done.error);
    return std::move(*done.outcome);
  }

 private:
  FusionWorkerPool& pool_;
  int num_members_;
  FusionObjectives objectives_;
  std::string fingerprint_;
  std::uint64_t next_id_ = 0;
};

namespace detail {

/// The asynchronous loop (file comment), on an adapter that knows its search:
///   bool more()                 — should more points be started (budget left, not exhausted,
///                                 not stopped by the callback)?
///   std::optional<Point> next() — the next point to start (none: wait for results first);
///   void complete(Completed&&)  — journal and observe a finished evaluation (may throw);
///   void after_completion()     — calls the user's callback (which may stop the search);
///   bool stopped()              — the callback asked to stop;
///   std::uint64_t first_id()    — the id of the first evaluation started (ids then count up in
///                                 the order evaluations start).
/// Returns stopped(). Rethrows the first exception of `next` or `complete` after the
/// evaluations in flight are journaled.
template <class Adapter, class Point, class Outcome>
bool run_asynchronously(Adapter& search, WorkerPool<Point, Outcome>& pool, const char* where) {
  const int k = pool.num_workers();
  require(k >= 1, where, "the worker pool has ", k, " workers, expected at least 1");
  std::vector<bool> busy(static_cast<std::size_t>(k), false);
  int in_flight = 0;
  std::uint64_t next_id = search.first_id();
  bool stopping = false;
  std::exception_ptr failure;
  for (;;) {
    for (int w = 0; w < k && !stopping; ++w) {
      if (busy[static_cast<std::size_t>(w)] || !search.more())
        continue;
      std::optional<Point> point;
      try {
        point = search.next();
      } catch (...) {
        failure = std::current_exception();
        stopping = true;
        break;
      }
      if (!point)
        break;
      pool.start(w, next_id++, *point);
      busy[static_cast<std::size_t>(w)] = true;
      ++in_flight;
    }
    if (in_flight == 0) {
      if (!stopping && search.more())
        throw std::logic_error(concat(where,
                                      ": the search proposed nothing with no evaluation "
                                      "in flight before its budget was spent (a bug)"));
      break;
    }
    CompletedEvaluation<Point, Outcome> done = pool.wait();
    require(done.worker >= 0 && done.worker < k && busy[static_cast<std::size_t>(done.worker)],
            where, "the worker pool returned an evaluation of worker ", done.worker,
            ", which was not busy");
    busy[static_cast<std::size_t>(done.worker)] = false;
    --in_flight;
    try {
      search.complete(std::move(done));
    } catch (...) {
      if (!failure)
        failure = std::current_exception();
      stopping = true;
      continue;
    }
    if (!stopping) {
      search.after_completion();
      stopping = search.stopped();
    }
  }
  if (failure)
    std::rethrow_exception(failure);
  return search.stopped();
}

/// The adapter of the fusion search: a δ the ledger already holds successfully is observed as
/// reused at once, never started.
class FusionLoopAdapter {
 public:
  FusionLoopAdapter(FusionSearch& search, const FusionSearchOptions& options)
      : search_(search), options_(options) {}

  bool more() const { return !stop_ && search_.remaining() > 0; }

  /// Evaluations are identified by δ; ids only tell them apart while they run.
  std::uint64_t first_id() const { return 0; }

  std::optional<Eigen::VectorXd> next() {
    while (more()) {
      const std::vector<Eigen::VectorXd> next = search_.suggest(1);
      if (next.empty())
        return std::nullopt;  // waits for the members' results
      const FusionRecord* known = search_.ledger().find(next.front());
      if (known == nullptr || !known->ok)
        return next.front();
      FusionRecord copy = *known;
      copy.reused = true;
      search_.observe(std::move(copy));
      after_completion();
    }
    return std::nullopt;
  }

  void complete(CompletedEvaluation<Eigen::VectorXd, FusionEvaluation>&& done) {
    FusionRecord record;
    record.delta = std::move(done.point);
    record.seconds = done.seconds;
    if (done.outcome) {
      record.ok = true;
      record.evaluation = std::move(*done.outcome);
    } else {
      record.ok = false;
      record.error = std::move(done.error);
      record.evaluation.metrics = Eigen::VectorXd::Constant(
          search_.ledger().objectives().num_metrics(), std::numeric_limits<double>::quiet_NaN());
    }
    search_.observe(std::move(record));
  }

  void after_completion() {
    stop_ = stop_ || (options_.callback && !options_.callback(search_.trace().back()));
  }
  bool stopped() const { return stop_; }

 private:
  FusionSearch& search_;
  const FusionSearchOptions& options_;
  bool stop_ = false;
};

/// The adapter of the hyperparameter search.
template <class Kernel>
class TrainingLoopAdapter {
 public:
  TrainingLoopAdapter(BasicHyperparameterSearch<Kernel>& search,
                      const HyperparameterSearchOptions& options)
      : search_(search), options_(options) {}

  bool more() const { return !stop_ && search_.remaining() > 0 && !search_.exhausted(); }

  std::optional<Hyperparameters> next() { return search_.suggest(); }

  /// Runs are numbered in the order they start, after every recorded run (resumed ones too):
  /// the id a worker gets is the run's TrainingContext::run_index, and it is journaled with the
  /// run whatever order the runs finish in.
  std::uint64_t first_id() const { return static_cast<std::uint64_t>(search_.next_run_index()); }

  void complete(CompletedEvaluation<Hyperparameters, TrainingTrajectory>&& done) {
    const int run_index = static_cast<int>(done.id);
    if (done.outcome) {
      search_.observe(done.point, *done.outcome, done.seconds, run_index);
    } else {
      search_.observe_failure(done.point, done.error, done.seconds, run_index);
    }
  }

  void after_completion() {
    stop_ = stop_ || (options_.callback && !options_.callback(search_.summary().trace.back()));
  }
  bool stopped() const { return stop_; }

 private:
  BasicHyperparameterSearch<Kernel>& search_;
  const HyperparameterSearchOptions& options_;
  bool stop_ = false;
};

/// "1 worker", "4 workers": the end of the summaries' messages.
inline std::string workers_text(int workers) {
  return concat(workers, workers == 1 ? " worker" : " workers");
}

}  // namespace detail

/// The fusion search (fusion_search.hpp) with the evaluations spread over `pool`'s workers,
/// journaled in `ledger` (options.journal must be "" or the ledger's path): the members, the
/// initial design and the acquisition iterations alike. Returns the selected result; `summary`
/// as in the sequential solve (also when an exception ends the run). Throws what the sequential
/// solve throws, after journaling every evaluation in flight.
inline FusionResult solve(const FusionSearchOptions& options, FusionLedger& ledger,
                          FusionWorkerPool& pool, FusionSummary* summary = nullptr) {
  constexpr const char* where = "bomf::solve";
  const detail::Stopwatch clock;
  detail::require(options.journal.empty() || options.journal == ledger.path(), where,
                  "options.journal is '", options.journal, "' but the ledger's journal is '",
                  ledger.path(), "', expected the same file or \"\"");
  FusionSearch search(ledger, options);
  detail::FusionLoopAdapter adapter(search, options);
  const auto fill = [&](SearchTermination t, std::string message) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->message = std::move(message);
      summary->total_seconds = clock.seconds();
    }
  };
  bool stopped = false;
  try {
    stopped = detail::run_asynchronously(adapter, pool, where);
  } catch (const too_many_failures& e) {
    fill(SearchTermination::too_many_failures, e.what());
    throw;
  }
  fill(stopped ? SearchTermination::stopped_by_callback : SearchTermination::budget_reached,
       detail::concat(search.trace().size(), " evaluations on ",
                      detail::workers_text(pool.num_workers())));
  return search.result();
}

/// The hyperparameter search (hyperparameter_search.hpp) of `problem` — whose search space,
/// metrics and fingerprint it uses; its `train` is not called here — with the training runs
/// spread over `pool`'s workers. Returns the best run; `summary` as in the sequential solve.
/// Throws what the sequential solve throws, after journaling every run in flight.
template <class Kernel = Matern52Kernel>
HyperparameterSearchResult solve(const HyperparameterSearchOptions& options,
                                 const TrainingProblem& problem, TrainingWorkerPool& pool,
                                 HyperparameterSummary* summary = nullptr) {
  constexpr const char* where = "bomf::solve";
  const detail::Stopwatch clock;
  BasicHyperparameterSearch<Kernel> search(problem, options);
  detail::TrainingLoopAdapter<Kernel> adapter(search, options);
  const auto publish = [&](SearchTermination t, const std::string& why) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->message = why;
      summary->total_seconds = clock.seconds();
    }
  };
  try {
    const bool stopped = detail::run_asynchronously(adapter, pool, where);
    const SearchTermination t = stopped                  ? SearchTermination::stopped_by_callback
                                : search.remaining() > 0 ? SearchTermination::space_exhausted
                                                         : SearchTermination::budget_reached;
    HyperparameterSearchResult result = search.result();  // throws when no run succeeded
    publish(t, detail::concat(search.num_completed(), " runs on ",
                              detail::workers_text(pool.num_workers())));
    return result;
  } catch (const too_many_failures& e) {
    publish(SearchTermination::too_many_failures, e.what());
    throw;
  }
}

}  // namespace bomf
