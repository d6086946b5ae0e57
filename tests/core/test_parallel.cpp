// bomf::detail::parallel_for: every task runs exactly once, worker indices stay in range,
// the first exception reaches the caller after all workers stopped, one thread is a plain loop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bomf/core/parallel.hpp"

namespace {

TEST(ParallelFor, RunsEveryTaskOnceOnAtMostTheRequestedWorkers) {
  for (int threads : {1, 2, 3, 8}) {
    for (Eigen::Index tasks : {0, 1, 2, 7, 100}) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(tasks));
      std::atomic<int> bad_worker{0};
      const int workers = bomf::detail::parallel_workers(threads, tasks);
      EXPECT_GE(workers, 1);
      EXPECT_LE(workers,
                std::max<int>(1, static_cast<int>(std::min<Eigen::Index>(threads, tasks))));
      bomf::detail::parallel_for(threads, tasks, [&](int worker, Eigen::Index i) {
        if (worker < 0 || worker >= workers)
          ++bad_worker;
        ++runs[static_cast<std::size_t>(i)];
      });
      EXPECT_EQ(bad_worker.load(), 0);
      for (const auto& r : runs)
        EXPECT_EQ(r.load(), 1) << threads << " threads, " << tasks << " tasks";
    }
  }
}

TEST(ParallelFor, OneWorkerRunsInOrderOnTheCallingThread) {
  std::vector<Eigen::Index> order;
  const auto caller = std::this_thread::get_id();
  bool same_thread = true;
  bomf::detail::parallel_for(1, 5, [&](int worker, Eigen::Index i) {
    EXPECT_EQ(worker, 0);
    same_thread = same_thread && std::this_thread::get_id() == caller;
    order.push_back(i);
  });
  EXPECT_TRUE(same_thread);
  EXPECT_EQ(order, (std::vector<Eigen::Index>{0, 1, 2, 3, 4}));
}

TEST(ParallelFor, RethrowsTheFirstExceptionAfterEveryWorkerStopped) {
  // Task 10 throws; the others take 200 µs each, so that running all 1000 would take far longer
  // than recording the failure: once it is recorded no worker starts another task (how many
  // start before that depends on how long the throw takes, e.g. under ASan, so it is not bounded
  // here beyond "not all of them").
  for (int threads : {1, 4}) {
    std::atomic<int> running{0};
    std::atomic<int> started{0};
    try {
      bomf::detail::parallel_for(threads, 1000, [&](int, Eigen::Index i) {
        ++started;
        ++running;
        if (i == 10) {
          --running;
          throw std::runtime_error("task 10 failed");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --running;
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "task 10 failed");
    }
    EXPECT_EQ(running.load(), 0);  // nothing still runs once parallel_for has returned
    if (threads == 1) {
      EXPECT_EQ(started.load(), 11);  // a plain loop: stops at the throwing task
    } else {
      EXPECT_LT(started.load(), 1000);
    }
  }
}

}  // namespace
