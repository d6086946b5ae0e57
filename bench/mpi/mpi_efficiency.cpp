// Parallel efficiency of bomf::mpi: the fusion search on P worker ranks, each evaluation costing
// a fixed wall time (a sleep: the evaluations need no core, as a GPU evaluation needs little of
// the host's), against the same search on one worker rank. A timed example, run under mpirun by
// bench/mpi/efficiency.sh, which computes E(P) = T(1) / (P · T(P)); docs/mpi.md records figures.
//
//   mpirun -np <P + 1> bomf_mpi_efficiency [--seconds 0.5] [--members 4 (≥ 3)] [--initial 4]
//                                          [--iterations 24] [--search light|default]
//
// Prints one line of key=value pairs on rank 0: the workers P, the evaluations, the wall time of
// the search, the search's own time on rank 0 (GP fits + acquisition, which must overlap the
// workers' evaluations), and the CPU seconds rank 0 and the busiest worker used (an idle rank
// must not spin: its CPU time stays near 0 while it waits).
#include <mpi.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/mpi/mpi.hpp"
#include "drivers/drivers_test_problems.hpp"  // the tests' problem and light search settings

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string argument(int argc, char** argv, const std::string& key, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + key)
      return argv[i + 1];
  }
  return fallback;
}

/// The number after --key (or `fallback`), at least `least`; throws std::invalid_argument naming
/// the option, its value and what is expected.
double number(int argc, char** argv, const std::string& key, const std::string& fallback,
              double least) {
  const std::string text = argument(argc, argv, key, fallback);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= least) || value > 1e6) {
    throw std::invalid_argument(bomf::detail::concat("--", key, " is '", text,
                                                     "', expected a number in [", least, ", 1e6]"));
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const bomf::mpi::Environment mpi(argc, argv);
  double seconds = 0.0;
  int members = 0;
  int initial = 0;
  int iterations = 0;
  const std::string search = argument(argc, argv, "search", "light");
  try {
    seconds = number(argc, argv, "seconds", "0.5", 0.0);
    members = static_cast<int>(number(argc, argv, "members", "4", 3.0));
    initial = static_cast<int>(number(argc, argv, "initial", "4", 0.0));
    iterations = static_cast<int>(number(argc, argv, "iterations", "24", 0.0));
    if (search != "light" && search != "default")
      throw std::invalid_argument("--search is '" + search + "', expected light or default");
  } catch (const std::invalid_argument& e) {  // every rank parses the same arguments
    if (mpi.rank() == 0)
      std::fprintf(stderr, "bomf_mpi_efficiency: %s\n", e.what());
    return 2;
  }
  bomf::FusionSearchOptions options;
  if (search == "light") {  // a lighter acquisition than the paper's: the tests' settings
    options = bomf::test::fast_fusion_options(initial, iterations);
  } else {
    options.num_initial = initial;
    options.num_iterations = iterations;
  }
  options.seed = 7;
  const bomf::detail::Stopwatch clock;
  bomf::FusionSummary summary;
  const auto result = bomf::mpi::solve(
      options, MPI_COMM_WORLD,
      [&] {  // BOMF's disagreeing loss and accuracy; each evaluation sleeps `seconds`
        auto problem = std::make_unique<bomf::test::DisagreeingProblem>(members);
        problem->hook = [seconds](const Eigen::VectorXd&) {
          std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        };
        return problem;
      },
      &summary);
  const double wall = clock.seconds();
  const double cpu = cpu_seconds();
  double worker_cpu = mpi.rank() == 0 ? 0.0 : cpu;
  double max_worker_cpu = 0.0;
  MPI_Reduce(&worker_cpu, &max_worker_cpu, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (result) {
    const int workers = mpi.size() > 1 ? mpi.size() - 1 : 1;
    std::printf(
        "workers=%d evaluations=%d seconds_each=%g wall=%.3f ideal=%.3f search=%.3f "
        "rank0_cpu=%.3f worker_cpu_max=%.3f search_options=%s\n",
        workers, summary.num_evaluations, seconds, wall,
        summary.num_evaluations * seconds / workers,
        summary.fit_seconds + summary.acquisition_seconds, cpu, max_worker_cpu, search.c_str());
  }
  return 0;
}
