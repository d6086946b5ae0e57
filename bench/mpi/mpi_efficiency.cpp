// Parallel efficiency of bomf::mpi: the fusion search on P worker ranks, each evaluation costing
// a fixed wall time (a sleep: the evaluations need no core, as a GPU evaluation needs little of
// the host's), against the same search on one worker rank. A timed example, run under mpirun by
// bench/mpi/efficiency.sh, which computes E(P) = T(1) / (P · T(P)); docs/mpi.md records figures.
//
//   mpirun -np <P + 1> bomf_mpi_efficiency [--seconds 0.5] [--members 4] [--initial 4]
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
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/mpi/mpi.hpp"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// Loss and accuracy that disagree (the loss is lowest at the barycentre, the accuracy peaks on
/// a face), each evaluation sleeping `seconds`.
class SleepingProblem final : public bomf::FusionProblem {
 public:
  SleepingProblem(int n, double seconds) : n_(n), seconds_(seconds) {}
  [[nodiscard]] int num_members() const override { return n_; }
  [[nodiscard]] bomf::FusionObjectives objectives() const override {
    return {"loss", {{"accuracy", bomf::Direction::maximize}}};
  }
  bomf::FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds_));
    Eigen::VectorXd peak = Eigen::VectorXd::Zero(n_);
    peak(0) = 0.7;
    peak(n_ - 1) = 0.3;
    bomf::FusionEvaluation e;
    e.loss = 0.3 + (delta.array() - 1.0 / n_).square().sum();
    e.metrics =
        Eigen::VectorXd::Constant(1, 0.6 + 0.3 * std::exp(-(delta - peak).squaredNorm() / 0.1));
    return e;
  }
  [[nodiscard]] std::string fingerprint() const override {
    return "sleeping-" + std::to_string(n_);
  }

 private:
  int n_;
  double seconds_;
};

std::string argument(int argc, char** argv, const std::string& key, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + key)
      return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const bomf::mpi::Environment mpi(argc, argv);
  const double seconds = std::stod(argument(argc, argv, "seconds", "0.5"));
  const int members = std::stoi(argument(argc, argv, "members", "4"));
  const std::string search = argument(argc, argv, "search", "light");
  bomf::FusionSearchOptions options;
  options.num_initial = std::stoi(argument(argc, argv, "initial", "4"));
  options.num_iterations = std::stoi(argument(argc, argv, "iterations", "24"));
  options.seed = 7;
  if (search == "light") {  // a lighter acquisition than the paper's, as in the tests
    options.acquisition.num_samples = 32;
    options.acquisition.prune_num_samples = 256;
    options.acquisition_optimizer.raw_samples = 128;
    options.acquisition_optimizer.num_restarts = 3;
    options.acquisition_optimizer.num_near_best = 16;
    options.acquisition_optimizer.num_face_points = 16;
    options.gp.num_starts = 2;
  } else if (search != "default") {
    if (mpi.rank() == 0)
      std::fprintf(stderr, "--search is '%s', expected light or default\n", search.c_str());
    return 2;
  }
  const bomf::detail::Stopwatch clock;
  bomf::FusionSummary summary;
  const auto result = bomf::mpi::solve(
      options, MPI_COMM_WORLD, [&] { return std::make_unique<SleepingProblem>(members, seconds); },
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
