// bomf/mpi/remote_problem.hpp — the workers' problem as seen from rank 0: a FusionProblem (or
// TrainingProblem) whose calls run on one worker rank, for what runs one call at a time.
//
// Rank 0 holds no model. Its ledger needs the problem's N, objectives and fingerprint, which the
// workers sent with their hello; the baselines (baselines.hpp) evaluate one δ at a time, and
// Learned SWA's gradient steps need FusionProblem::loss_and_gradient; bomf::train_members runs
// the final training run that keeps the members. These adapters give all of them a problem
// whose calls go to worker `worker` of the pool (default: rank 1):
//
//   bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
//   bomf::mpi::RemoteFusionProblem remote(pool);
//   bomf::FusionLedger ledger(remote, "fusion.jsonl");
//   const auto fused = bomf::solve(options, ledger, pool, &summary);   // on every worker
//   bomf::FusionEvaluator evaluator(remote, ledger);                   // one journal
//   const auto greedy = bomf::greedy_swa(evaluator);                   // soups on rank 1
//   const auto learned = bomf::learned_swa(evaluator);                 // gradients on rank 1
//   pool.shutdown();
//
// A call that throws on the worker throws bomf::evaluation_error here with the worker's message
// (so a FusionEvaluator records a failed evaluation, as in one process). Use these only while
// no evaluation of the loop is in flight on that worker (the baselines run after `solve`).
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/mpi/worker_pool.hpp"

namespace bomf::mpi {

/// A FusionProblem evaluated by worker `worker` of a FusionPool (see the file comment).
class RemoteFusionProblem final : public FusionProblem {
 public:
  /// Calls go to `pool`'s worker `worker` (rank worker + 1); `pool` must outlive this object.
  /// Throws bomf::invalid_argument for a worker outside 0 … num_workers − 1.
  explicit RemoteFusionProblem(FusionPool& pool, int worker = 0) : pool_(pool), worker_(worker) {
    bomf::detail::require(worker >= 0 && worker < pool.num_workers(),
                          "bomf::mpi::RemoteFusionProblem", "argument 'worker' is ", worker,
                          ", expected 0 … ", pool.num_workers() - 1);
  }
  [[nodiscard]] int num_members() const override { return pool_.num_members(); }
  [[nodiscard]] FusionObjectives objectives() const override { return pool_.objectives(); }
  [[nodiscard]] std::string fingerprint() const override { return pool_.fingerprint(); }
  [[nodiscard]] bool has_loss_gradient() const override { return pool_.has_loss_gradient(); }
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override {
    return pool_.evaluate(worker_, delta);
  }
  double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) override {
    return pool_.loss_and_gradient(worker_, delta, gradient);
  }

 private:
  FusionPool& pool_;
  int worker_;
};

/// A TrainingProblem trained by worker `worker` of a TrainingPool: the search space, metrics and
/// fingerprint the workers described (what rank 0's bomf::solve(options, problem, pool) needs),
/// and `train` running there with the caller's context (bomf::train_members).
class RemoteTrainingProblem final : public TrainingProblem {
 public:
  /// As RemoteFusionProblem's constructor.
  explicit RemoteTrainingProblem(TrainingPool& pool, int worker = 0)
      : pool_(pool), worker_(worker) {
    bomf::detail::require(worker >= 0 && worker < pool.num_workers(),
                          "bomf::mpi::RemoteTrainingProblem", "argument 'worker' is ", worker,
                          ", expected 0 … ", pool.num_workers() - 1);
  }
  [[nodiscard]] SearchSpace search_space() const override { return pool_.search_space(); }
  [[nodiscard]] std::vector<MetricSpec> metrics() const override { return pool_.metrics(); }
  [[nodiscard]] std::string fingerprint() const override { return pool_.fingerprint(); }
  TrainingTrajectory train(const Hyperparameters& hyperparameters,
                           TrainingContext& context) override {
    return pool_.train(worker_, hyperparameters, context);
  }

 private:
  TrainingPool& pool_;
  int worker_;
};

}  // namespace bomf::mpi
