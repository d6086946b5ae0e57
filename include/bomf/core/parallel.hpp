// bomf/core/parallel.hpp — a small fork–join loop for the core's coarse-grained parallelism
// (independent GP fits, batches of acquisition values, optimizer restarts).
//
// Work is handed out as task indices 0..num_tasks−1; each task writes only its own result slot,
// so results never depend on the number of threads or on scheduling: every parallel path of the
// core is bit-identical to its serial path (the tests check this). Threads are started per call
// (tens of microseconds), which is negligible against the millisecond-scale tasks used here.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace bomf::detail {

/// The number of worker threads `parallel_for` uses for `requested` threads and `num_tasks`
/// tasks: min(requested, num_tasks), at least 1.
inline int parallel_workers(int requested, Eigen::Index num_tasks) noexcept {
  const Eigen::Index workers = std::min<Eigen::Index>(std::max(requested, 1), num_tasks);
  return static_cast<int>(std::max<Eigen::Index>(workers, 1));
}

/// Calls task(worker, i) once for every i in [0, num_tasks), on `parallel_workers(num_threads,
/// num_tasks)` threads (the calling thread is worker 0; the others are started here and joined
/// before returning). `worker` lets a task use per-thread state (a copy of an objective with its
/// own workspace). Tasks are taken in increasing order from a shared counter. If a task throws,
/// no new task is started and the first exception is rethrown on the calling thread after every
/// worker has stopped. With one worker this is a plain loop on the calling thread.
template <class Task>
void parallel_for(int num_threads, Eigen::Index num_tasks, Task&& task) {
  const int workers = parallel_workers(num_threads, num_tasks);
  if (workers <= 1) {
    for (Eigen::Index i = 0; i < num_tasks; ++i) {
      task(0, i);
    }
    return;
  }
  std::atomic<Eigen::Index> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&](int worker) {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) {
        return;
      }
      const Eigen::Index i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= num_tasks) {
        return;
      }
      try {
        task(worker, i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) {
          first_error = std::current_exception();
        }
        failed.store(true, std::memory_order_relaxed);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(work, w);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running (and this one) do all the tasks
    }
  }
  work(0);
  for (std::thread& t : threads) {
    t.join();
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

}  // namespace bomf::detail
