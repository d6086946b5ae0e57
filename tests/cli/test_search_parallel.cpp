// `bomf search --parallel 3`: three evaluator processes at once, each with its own worker
// environment, in about a third of the sequential wall time. Its own test executable, run
// serially by ctest, since it measures wall time.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "search_test_util.hpp"

namespace bomf::test {
namespace {

using namespace std::chrono_literals;

class SearchParallel : public ScratchDirectory {};

TEST_F(SearchParallel, ThreeWorkersTakeAboutAThirdOfTheSequentialTime) {
  const auto members = tiny_members(dir_, 3);
  std::string inputs;
  for (const auto& m : members) {
    inputs += " " + q(m);
  }
  // 3 members, 3 initial, 3 acquisition: 9 evaluations of 1.5 s each (the evaluator sleeps), in
  // rounds of 3 on three workers.
  const auto run = [&](int workers) {
    const std::string out = path("out" + std::to_string(workers));
    const auto start = std::chrono::steady_clock::now();
    const BomfRun r = run_bomf(
        "search" + inputs +
            " --objective loss:loss --objective acc:metric --evaluator-fuses -q --baselines none "
            "--num-iterations 3 --parallel " +
            std::to_string(workers) + " --worker-env 'SLOT={worker}' -o " + q(out) +
            " --evaluate " + q("sh " + q(shell_evaluator(dir_)) + " {delta}"),
        120s, {{"SLEEP", "1.5"}, {"LOG", out + ".log"}});
    EXPECT_EQ(r.status(), 0) << r.err();
    EXPECT_EQ(evaluation_records(out + "/journal.jsonl").size(), 9u);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double sequential = run(1);
  const double parallel = run(3);
  std::printf("[ measured ] --parallel 1: %.2f s, --parallel 3: %.2f s, ratio %.3f\n", sequential,
              parallel, parallel / sequential);
  EXPECT_LT(parallel, 0.5 * sequential);

  // The log of the parallel run: workers 0, 1 and 2 each ran evaluations, with SLOT={worker}
  // in their environment, and three ran at once (never more).
  struct Event {
    double time;
    int change;
  };
  std::vector<Event> events;
  std::set<std::string> workers;
  for (const std::string& line : lines_of(path("out3.log"))) {
    std::stringstream in(line);
    std::string kind, worker, slot, delta;
    double time = 0;
    in >> kind >> worker >> slot >> delta >> time;
    EXPECT_EQ(worker, slot) << line;
    workers.insert(worker);
    events.push_back({time, kind == "start" ? 1 : -1});
  }
  EXPECT_EQ(workers, (std::set<std::string>{"0", "1", "2"}));
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.time < b.time || (a.time == b.time && a.change < b.change);
  });
  int running = 0;
  int most = 0;
  for (const Event& e : events) {
    running += e.change;
    most = std::max(most, running);
  }
  EXPECT_EQ(most, 3);
}

}  // namespace
}  // namespace bomf::test
