// bomf/mpi/solve.hpp — either BOMF stage on every rank of a communicator, in one call.
//
// The single-process program
//     MyProblem problem(...);
//     const bomf::FusionResult fused = bomf::solve(options, problem, &summary);
// becomes, run with `mpirun -np 5 ./program` (rank 0 searches, ranks 1–4 evaluate):
//     bomf::mpi::Environment mpi(argc, argv);
//     const std::optional<bomf::FusionResult> fused = bomf::mpi::solve(
//         options, MPI_COMM_WORLD, [&] { return std::make_unique<MyProblem>(...); }, &summary);
//     if (fused) { /* rank 0: the result and the summary */ }
//
// On rank 0, `solve` builds the pool (worker_pool.hpp), the ledger at options.journal and runs
// the asynchronous loop (bomf/drivers/evaluation_loop.hpp) — the members, the initial design and
// the acquisition iterations all spread over the workers — and returns the result. On ranks
// 1 … P−1 it calls `make_problem` (so only workers load models) and serves the problem until
// rank 0 is done, then returns no value. With a single rank (plain `./program`, or
// `mpirun -np 1`) it calls `make_problem` and runs the sequential bomf::solve in this process.
//
// Journals: the journal is the sequential one (one writer, rank 0), so a run killed at any rank
// count resumes with any other, 1 included, repeating no completed evaluation.
//
// Determinism: with one worker rank (-np 2) the proposals are exactly the sequential solve's
// (same seed, same order); with more, each proposal is made with the evaluations still in
// flight as pending points, so which δ are evaluated depends on the order in which the
// evaluations complete (evaluation_loop.hpp). A resumed journal replays what it holds either way.
//
// Errors: an exception on rank 0 (a refused journal, too many failures, …) shuts the workers
// down with its message (ServeSummary) and is rethrown on rank 0. A `make_problem` that throws on
// a worker is reported by rank 0 (bomf::mpi::protocol_error naming the rank and the reason),
// then rethrown on that worker; so are workers that build different problems.
#pragma once

#include <mpi.h>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/drivers/fusion_ledger.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/detail/channel.hpp"
#include "bomf/mpi/remote_problem.hpp"
#include "bomf/mpi/serve.hpp"
#include "bomf/mpi/worker_pool.hpp"

namespace bomf::mpi {

/// Builds the fusion problem of one worker rank (its own model, on its own GPU).
using FusionProblemFactory = std::function<std::unique_ptr<FusionProblem>()>;
/// Builds the training problem of one worker rank.
using TrainingProblemFactory = std::function<std::unique_ptr<TrainingProblem>()>;

namespace detail {

/// The rank's problem, or the refusal sent to rank 0 (then rethrown) when the factory fails.
template <class Problem>
std::unique_ptr<Problem> make_or_refuse(const std::function<std::unique_ptr<Problem>()>& make,
                                        Service service, MPI_Comm comm, const Polling& polling,
                                        bool distributed) {
  std::unique_ptr<Problem> problem;
  try {
    problem = make();
    if (!problem)
      throw invalid_argument("bomf::mpi::solve: the problem factory returned no problem");
  } catch (const std::exception& e) {
    if (distributed)
      refuse(service, bomf::detail::concat("could not build its problem: ", e.what()), comm,
             polling);
    throw;
  }
  return problem;
}

/// Rank 0 with workers: `run(pool)`; an exception shuts the workers down with its message.
template <class Pool, class Run>
auto run_on_rank_zero(Pool& pool, Run&& run) {
  try {
    auto result = run();
    pool.shutdown();
    return result;
  } catch (const std::exception& e) {
    pool.shutdown(false, e.what());
    throw;
  }
}

/// The size of `comm` (checked: MPI initialized, valid communicator) and this process's rank.
inline std::pair<int, int> rank_and_size(MPI_Comm comm, const Polling& polling) {
  constexpr const char* where = "bomf::mpi::solve";
  require_mpi(where);
  bomf::detail::require(comm != MPI_COMM_NULL, where, "argument 'comm' is MPI_COMM_NULL");
  const std::string error = polling.validate();
  bomf::detail::require(error.empty(), where, "invalid argument 'polling': ", error);
  int rank = 0;
  int size = 0;
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  return {rank, size};
}

/// Either stage on every rank: with one rank `alone(problem)`; on rank 0 `coordinate()`; on the
/// others the factory's problem, served.
template <class Result, class Problem, class Alone, class Coordinate>
std::optional<Result> on_every_rank(MPI_Comm comm, const Polling& polling, Service service,
                                    const std::function<std::unique_ptr<Problem>()>& make,
                                    Alone&& alone, Coordinate&& coordinate) {
  const auto [rank, size] = rank_and_size(comm, polling);
  if (size == 1)
    return std::optional<Result>(alone(*make_or_refuse(make, service, comm, polling, false)));
  if (rank == 0)
    return std::optional<Result>(coordinate());
  serve(*make_or_refuse(make, service, comm, polling, true), comm, polling);
  return std::nullopt;
}

}  // namespace detail

/// The fusion search (fusion_search.hpp) on every rank of `comm` (see the file comment).
/// Collective over `comm`. Returns the selected result on rank 0 (and in a one-rank run), no
/// value on the worker ranks; `summary` is filled where the result is returned. Throws on rank 0
/// what the sequential solve throws, and bomf::mpi::protocol_error for workers that cannot serve
/// or serve different problems; bomf::invalid_argument when MPI is not initialized or for
/// invalid `polling`. `make_problem` is never called on rank 0 of a multi-rank run.
inline std::optional<FusionResult> solve(const FusionSearchOptions& options, MPI_Comm comm,
                                         const FusionProblemFactory& make_problem,
                                         FusionSummary* summary = nullptr,
                                         const Polling& polling = {}) {
  return detail::on_every_rank<FusionResult>(
      comm, polling, detail::Service::fusion, make_problem,
      [&](FusionProblem& problem) { return bomf::solve(options, problem, summary); },
      [&] {
        FusionPool pool(comm, polling);
        return detail::run_on_rank_zero(pool, [&] {
          RemoteFusionProblem remote(pool);
          FusionLedger ledger(remote, options.journal);
          return bomf::solve(options, ledger, pool, summary);
        });
      });
}

/// The hyperparameter search (hyperparameter_search.hpp) on every rank of `comm`: training runs
/// on the worker ranks (each with a TrainingContext built there, run_index = the run's id),
/// the GP and LogEI on rank 0 with the runs in flight pending. Otherwise as the fusion overload.
template <class Kernel = Matern52Kernel>
std::optional<HyperparameterSearchResult> solve(const HyperparameterSearchOptions& options,
                                                MPI_Comm comm,
                                                const TrainingProblemFactory& make_problem,
                                                HyperparameterSummary* summary = nullptr,
                                                const Polling& polling = {}) {
  return detail::on_every_rank<HyperparameterSearchResult>(
      comm, polling, detail::Service::training, make_problem,
      [&](TrainingProblem& problem) { return bomf::solve<Kernel>(options, problem, summary); },
      [&] {
        TrainingPool pool(comm, options.collect_members_during_search, options.members, polling);
        return detail::run_on_rank_zero(pool, [&] {
          const RemoteTrainingProblem remote(pool);
          return bomf::solve<Kernel>(options, remote, pool, summary);
        });
      });
}

}  // namespace bomf::mpi
