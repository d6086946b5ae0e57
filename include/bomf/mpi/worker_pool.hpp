// bomf/mpi/worker_pool.hpp — rank 0's view of the worker ranks: a `WorkerPool`
// (bomf/drivers/evaluation_loop.hpp) whose workers are the ranks 1 … P−1 of a communicator, each
// serving its own problem with bomf::mpi::serve (serve.hpp).
//
//   rank 0:                                        ranks 1 … P−1:
//     bomf::mpi::FusionPool pool(MPI_COMM_WORLD);    MyProblem problem(/* own model, own GPU */);
//     bomf::FusionLedger ledger(                     bomf::mpi::serve(problem, MPI_COMM_WORLD);
//         bomf::mpi::RemoteFusionProblem(pool), "fusion.jsonl");
//     auto fused = bomf::solve(options, ledger, pool, &summary);
//     pool.shutdown();
//
// The constructor is collective over `comm` (it duplicates it, as serve does) and waits until
// every worker rank has said hello with a description of its problem: N, objectives,
// fingerprint and whether it has the loss gradient (stage 2), or the search space, metrics and
// fingerprint (stage 1). Workers that describe different problems — other members, other data,
// another fingerprint — would write one journal about several problems, so they are refused:
// the pool shuts every worker down and throws bomf::mpi::protocol_error naming the ranks and
// their descriptions. A worker whose problem could not be built (bomf::mpi::solve's factory
// threw) is named with its reason the same way.
//
// The loop (`bomf::solve(options, ledger, pool)`) keeps every rank busy: a rank that finishes
// gets the next proposal at once. Evaluations that throw on a worker come back as failed
// evaluations ("evaluation threw on rank r: <what()>"), as with threads. `evaluate` /
// `loss_and_gradient` / `train` run one task synchronously on one worker (the baselines, Learned
// SWA's gradient steps, the final member run: remote_problem.hpp) and throw
// bomf::evaluation_error ("rank r: <what()>") when it throws there.
//
// Shutdown: `shutdown()` (or the destructor) waits for the tasks still running and sends every
// worker the shutdown message, so their `serve` returns. When rank 0 fails (an exception unwinds
// through the pool, or `shutdown(false, why)`), the workers learn it (ServeSummary::coordinator_ok
// and coordinator_message) and still return — mpirun never hangs on a worker waiting for work.
#pragma once

#include <mpi.h>

#include <Eigen/Core>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/detail/coordinator.hpp"
#include "bomf/mpi/detail/protocol.hpp"
#include "bomf/optim/hyperparameters.hpp"

namespace bomf::mpi {

namespace detail {

/// Decodes every worker's description and refuses workers whose problem differs from rank 1's
/// (shutting all workers down first).
template <class Description>
Description agreed_description(Coordinator& coordinator) {
  const auto decode = [&](int worker) {
    Reader r(coordinator.description(worker),
             bomf::detail::concat("the problem description of rank ", worker + 1));
    Description d = Description::read(r);
    r.finish();
    return d;
  };
  try {
    Description first = decode(0);
    std::string differences;
    for (int worker = 1; worker < coordinator.num_workers(); ++worker) {
      const Description d = decode(worker);
      if (coordinator.description(worker) != coordinator.description(0))
        differences += bomf::detail::concat("; rank ", worker + 1, ": ", d.to_string());
    }
    if (!differences.empty()) {
      throw protocol_error(bomf::detail::concat(
          coordinator.where(),
          ": the worker ranks serve different problems, expected one problem on every rank (the "
          "same members, data and fingerprint; their evaluations share one journal): rank 1: ",
          first.to_string(), differences));
    }
    return first;
  } catch (const std::exception& e) {
    coordinator.shutdown(false, e.what());
    throw;
  }
}

/// The outcome of a successful reply: `decode(reader)` reads the whole payload.
template <class Decode>
auto decode_reply(const Reply& reply, const char* what, Decode&& decode) {
  Reader r(reply.payload,
           bomf::detail::concat("the ", what, " result from rank ", reply.worker + 1));
  auto outcome = decode(r);
  r.finish();
  return outcome;
}

/// The CompletedEvaluation of `reply` for `point`: the decoded outcome, or "evaluation threw on
/// rank r: <what()>".
template <class Point, class Outcome, class Decode>
CompletedEvaluation<Point, Outcome> completed(Reply&& reply, Point&& point, const char* what,
                                              Decode&& decode) {
  CompletedEvaluation<Point, Outcome> c;
  c.id = reply.id;
  c.worker = reply.worker;
  c.point = std::move(point);
  c.seconds = reply.seconds;
  if (reply.ok) {
    c.outcome = decode_reply(reply, what, decode);
  } else {
    c.error =
        bomf::detail::concat("evaluation threw on rank ", reply.worker + 1, ": ", reply.error);
  }
  return c;
}

/// One task on `worker`, waited for: the decoded outcome. Throws bomf::evaluation_error
/// "rank r: <what()>" when it threw there.
template <class Decode>
auto call(Coordinator& coordinator, int worker, Tag tag, std::uint64_t id, const Writer& body,
          const char* what, Decode&& decode) {
  coordinator.start(worker, tag, id, body);
  const Reply reply = coordinator.wait(worker);
  if (!reply.ok)
    throw evaluation_error(bomf::detail::concat("rank ", reply.worker + 1, ": ", reply.error));
  return decode_reply(reply, what, decode);
}

inline FusionEvaluation read_evaluation(Reader& r) {
  FusionEvaluation e;
  e.loss = r.get<double>();
  e.metrics = r.get_vector();
  return e;
}

}  // namespace detail

/// The worker ranks 1 … P−1 of a communicator as a FusionWorkerPool of P − 1 workers (worker w
/// is rank w + 1), for rank 0. See the file comment.
class FusionPool final : public FusionWorkerPool {
 public:
  /// Collective over `comm` (see the file comment); waits for every worker's hello. Throws
  /// bomf::invalid_argument when MPI is not initialized, `comm` has fewer than 2 ranks or this
  /// is not rank 0, or for invalid `polling`; bomf::mpi::protocol_error when workers cannot
  /// serve, serve training problems, or describe different problems (after shutting them down).
  explicit FusionPool(MPI_Comm comm = MPI_COMM_WORLD, const Polling& polling = {})
      : coordinator_(comm, polling, detail::Service::fusion, "bomf::mpi::FusionPool"),
        description_(detail::agreed_description<detail::FusionDescription>(coordinator_)),
        points_(static_cast<std::size_t>(coordinator_.num_workers())) {}

  [[nodiscard]] int num_workers() const override { return coordinator_.num_workers(); }

  /// Sends δ to worker `worker` (rank worker + 1), which must be idle.
  void start(int worker, std::uint64_t id, const Eigen::VectorXd& delta) override {
    detail::Writer body;
    body.put_vector(delta);
    coordinator_.start(worker, detail::Tag::evaluate, id, body);
    points_[static_cast<std::size_t>(worker)] = delta;
  }

  /// Waits (polling, see communication.hpp) for any worker's evaluation.
  Completed wait() override { return completed(coordinator_.wait()); }

  /// Evaluates δ on worker `worker` (idle) and waits for it. Throws bomf::evaluation_error
  /// ("rank r: <what()>") when the evaluation throws there.
  FusionEvaluation evaluate(int worker, const Eigen::VectorXd& delta) {
    detail::Writer body;
    body.put_vector(delta);
    return detail::call(coordinator_, worker, detail::Tag::evaluate, next_call_id_++, body,
                        "evaluation", detail::read_evaluation);
  }

  /// The loss at δ and ∂loss/∂δ (resized to N), computed by worker `worker`'s problem
  /// (FusionProblem::loss_and_gradient). Throws bomf::invalid_argument when the workers' problems
  /// have no loss gradient, bomf::evaluation_error ("rank r: <what()>") when it throws there.
  double loss_and_gradient(int worker, const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) {
    bomf::detail::require(description_.has_loss_gradient,
                          "bomf::mpi::FusionPool::loss_and_gradient",
                          "the workers' problems have no loss gradient (has_loss_gradient() is "
                          "false on the worker ranks)");
    detail::Writer body;
    body.put_vector(delta);
    return detail::call(coordinator_, worker, detail::Tag::gradient, next_call_id_++, body,
                        "gradient", [&gradient](detail::Reader& r) {
                          const auto loss = r.get<double>();
                          gradient = r.get_vector();
                          return loss;
                        });
  }

  /// Tells every worker to stop serving, after the tasks still running (see the file comment).
  /// `ok` false, with `message`, reports a failure of rank 0 to the workers. Idempotent; the
  /// destructor calls it when it was not called.
  void shutdown(bool ok = true, const std::string& message = {}) {
    coordinator_.shutdown(ok, message);
  }

  /// The workers' problem: number of members N.
  [[nodiscard]] int num_members() const { return description_.num_members; }
  /// The workers' problem: objectives.
  [[nodiscard]] const FusionObjectives& objectives() const { return description_.objectives; }
  /// The workers' problem: fingerprint.
  [[nodiscard]] const std::string& fingerprint() const { return description_.fingerprint; }
  /// The workers' problems implement loss_and_gradient (Learned SWA can run on them).
  [[nodiscard]] bool has_loss_gradient() const { return description_.has_loss_gradient; }

 private:
  Completed completed(detail::Reply&& reply) {
    Eigen::VectorXd& point = points_[static_cast<std::size_t>(reply.worker)];
    return detail::completed<Eigen::VectorXd, FusionEvaluation>(
        std::move(reply), std::move(point), "evaluation", detail::read_evaluation);
  }

  detail::Coordinator coordinator_;
  detail::FusionDescription description_;
  std::vector<Eigen::VectorXd> points_;
  std::uint64_t next_call_id_ = 0;
};

/// The worker ranks 1 … P−1 as a TrainingWorkerPool (stage 1), for rank 0. Each training run
/// gets a TrainingContext built on its worker with run_index = the evaluation's id (the order of
/// the suggestions), collecting members when `collect_members`
/// (HyperparameterSearchOptions::collect_members_during_search) with the policy `members`.
class TrainingPool final : public TrainingWorkerPool {
 public:
  /// As FusionPool's constructor, for workers serving TrainingProblems. Also throws
  /// bomf::invalid_argument for invalid `members`.
  explicit TrainingPool(MPI_Comm comm = MPI_COMM_WORLD, bool collect_members = false,
                        const MemberSelectionOptions& members = {}, const Polling& polling = {})
      : coordinator_(comm, polling, detail::Service::training, "bomf::mpi::TrainingPool"),
        description_(detail::agreed_description<detail::TrainingDescription>(coordinator_)),
        space_(std::make_shared<const SearchSpace>(description_.space)),
        collect_members_(collect_members),
        members_(members),
        points_(static_cast<std::size_t>(coordinator_.num_workers())) {
    const std::string error = members.validate();
    if (!error.empty()) {
      coordinator_.shutdown(false, error);
      bomf::detail::throw_invalid_argument("bomf::mpi::TrainingPool",
                                           "invalid argument 'members': ", error);
    }
  }

  [[nodiscard]] int num_workers() const override { return coordinator_.num_workers(); }

  /// Sends the setting to worker `worker` (idle); its run has run_index = id.
  void start(int worker, std::uint64_t id, const Hyperparameters& hyperparameters) override {
    bomf::detail::require(id <= static_cast<std::uint64_t>(INT_MAX),
                          "bomf::mpi::TrainingPool::start", "argument 'id' is ", id,
                          ", expected at most ", INT_MAX,
                          " (it becomes TrainingContext::run_index)");
    detail::TrainingTask task;
    task.run_index = static_cast<int>(id);
    task.collect_members = collect_members_;
    task.members = members_;
    coordinator_.start(worker, detail::Tag::train, id, body(hyperparameters, task));
    points_[static_cast<std::size_t>(worker)] = hyperparameters;
  }

  /// Waits (polling) for any worker's run.
  Completed wait() override { return completed(coordinator_.wait()); }

  /// Trains `hyperparameters` on worker `worker` (idle) with a context like `context` (its
  /// run_index, collect_members, member options and anchor; e.g. bomf::train_members' final run
  /// through RemoteTrainingProblem) and waits for the trajectory. Throws bomf::evaluation_error
  /// ("rank r: <what()>") when training throws there.
  TrainingTrajectory train(int worker, const Hyperparameters& hyperparameters,
                           const TrainingContext& context) {
    detail::TrainingTask task;
    task.run_index = context.run_index();
    task.collect_members = context.collect_members();
    task.members = context.member_options();
    task.anchor_step = context.anchor_step();
    return detail::call(coordinator_, worker, detail::Tag::train, next_call_id_++,
                        body(hyperparameters, task), "training", detail::get_trajectory);
  }

  /// As FusionPool::shutdown.
  void shutdown(bool ok = true, const std::string& message = {}) {
    coordinator_.shutdown(ok, message);
  }

  /// The workers' problem: search space.
  [[nodiscard]] const SearchSpace& search_space() const { return *space_; }
  /// The workers' problem: metrics.
  [[nodiscard]] const std::vector<MetricSpec>& metrics() const { return description_.metrics; }
  /// The workers' problem: fingerprint.
  [[nodiscard]] const std::string& fingerprint() const { return description_.fingerprint; }

 private:
  // The message of a training task: the setting's values, then the context's settings.
  [[nodiscard]] detail::Writer body(const Hyperparameters& h,
                                    const detail::TrainingTask& task) const {
    bomf::detail::require(!h.empty() && bomf::detail::same_search_space(h.space(), *space_),
                          "bomf::mpi::TrainingPool",
                          "the setting is not a point of the workers' search space");
    detail::Writer w;
    w.put_vector(h.values());
    task.write(w);
    return w;
  }

  Completed completed(detail::Reply&& reply) {
    Hyperparameters& point = points_[static_cast<std::size_t>(reply.worker)];
    return detail::completed<Hyperparameters, TrainingTrajectory>(
        std::move(reply), std::move(point), "training", detail::get_trajectory);
  }

  detail::Coordinator coordinator_;
  detail::TrainingDescription description_;
  std::shared_ptr<const SearchSpace> space_;
  bool collect_members_;
  MemberSelectionOptions members_;
  std::vector<Hyperparameters> points_;
  std::uint64_t next_call_id_ = 0;
};

}  // namespace bomf::mpi
