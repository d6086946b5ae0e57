// bomf/mpi/serve.hpp — the worker ranks' side of a distributed search: serve one problem (its
// own model, on its own GPU) until rank 0 says it is done.
//
//   MyFusionProblem problem(/* members, model, validation data; device from the local rank */);
//   const bomf::mpi::ServeSummary served = bomf::mpi::serve(problem, MPI_COMM_WORLD);
//
// `serve` is collective over `comm` with rank 0's pool (worker_pool.hpp): both duplicate it. It
// sends rank 0 a description of the problem, then runs what rank 0 sends — evaluations of fused
// models, loss gradients (Learned SWA), or training runs (stage 1) — one at a time, until the
// shutdown message. Waiting for the next task sleeps between polls (communication.hpp), so an
// idle worker leaves its core to others.
//
// Failures: a task whose problem call throws (any exception) is reported to rank 0, whose loop
// records a failed evaluation "evaluation threw on rank r: <what()>", and serving goes on, as a
// thread worker would. A crash of the process (segmentation fault, CUDA abort, SIGKILL) ends the
// whole MPI job through MPI's default error handler; rerun it with the same journal (docs/mpi.md).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/detail/channel.hpp"
#include "bomf/mpi/detail/message.hpp"
#include "bomf/mpi/detail/protocol.hpp"
#include "bomf/optim/hyperparameters.hpp"

namespace bomf::mpi {

/// What a worker rank did while serving.
struct ServeSummary {
  int rank = 0;                ///< this rank in the communicator
  long tasks = 0;              ///< evaluations, gradient calls and training runs done
  long failures = 0;           ///< of which threw
  double busy_seconds = 0.0;   ///< time spent in the problem's calls
  double total_seconds = 0.0;  ///< time from the hello to the shutdown
  /// False when rank 0 ended with an error (its pool was shut down with ok = false, e.g. by an
  /// exception unwinding through it); `coordinator_message` then says why.
  bool coordinator_ok = true;
  std::string coordinator_message;
};

namespace detail {

/// Runs `task(payload)` — which writes the outcome into `payload` — and encodes the result
/// message: id, ok, seconds, then the payload, or the exception's what() when it threw.
template <class Task>
Bytes run_task(std::uint64_t id, ServeSummary& summary, Task&& task) {
  Writer payload;
  bool failed = true;
  std::string error;
  const bomf::detail::Stopwatch clock;
  try {
    task(payload);
    failed = false;
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "a non-standard exception";
  }
  const double seconds = clock.seconds();
  ++summary.tasks;
  summary.busy_seconds += seconds;
  Writer w;
  w.put<std::uint64_t>(id).put<std::uint8_t>(failed ? 0 : 1).put<double>(seconds);
  if (failed) {
    ++summary.failures;
    w.put_string(error);
    return w.take();
  }
  Bytes out = w.take();
  out.insert(out.end(), payload.bytes().begin(), payload.bytes().end());
  return out;
}

/// One task, parsed and ready to run: writes its outcome into the payload.
using Task = std::function<void(Writer& payload)>;

/// The worker loop: hello, then tasks until the shutdown. `parse(tag, reader)` reads one task of
/// this service (a malformed one throws protocol_error here, outside the user's code) and
/// returns it, or an empty Task for a tag this service does not serve.
template <class Parse>
ServeSummary serve_loop(Channel& channel, const Hello& hello, Parse&& parse) {
  ServeSummary summary;
  summary.rank = channel.rank();
  const bomf::detail::Stopwatch clock;
  channel.send(0, Tag::hello, hello.encode());
  for (;;) {
    const Message m = channel.receive(0, MPI_ANY_TAG);
    Reader r(m.bytes, bomf::detail::concat("the message (tag ", static_cast<int>(m.tag),
                                           ") to rank ", channel.rank()));
    if (m.tag == Tag::shutdown) {
      summary.coordinator_ok = r.get<std::uint8_t>() != 0;
      summary.coordinator_message = r.get_string();
      r.finish();
      break;
    }
    const auto id = r.get<std::uint64_t>();
    const Task task = parse(m.tag, r);
    if (!task) {
      throw protocol_error(bomf::detail::concat(
          "bomf::mpi::serve: rank ", channel.rank(), " serves ", to_string(hello.service),
          " but rank 0 sent a task with tag ", static_cast<int>(m.tag)));
    }
    channel.send(0, Tag::result, run_task(id, summary, task));
  }
  summary.total_seconds = clock.seconds();
  return summary;
}

/// Reads δ and checks that nothing follows it.
inline Eigen::VectorXd read_delta(Reader& r) {
  Eigen::VectorXd delta = r.get_vector();
  r.finish();
  return delta;
}

/// A worker rank serving `service`: its channel (refused on rank 0), the hello with the
/// problem's description, then the loop with `parse`.
template <class Description, class Parse>
ServeSummary serve_problem(MPI_Comm comm, const Polling& polling, Service service,
                           const Description& described, Parse&& parse) {
  constexpr const char* where = "bomf::mpi::serve";
  Channel channel(comm, polling, where);
  bomf::detail::require(
      channel.rank() != 0, where, "this is rank 0, which runs the search (bomf::mpi::",
      service == Service::fusion ? "FusionPool" : "TrainingPool", "); serve on ranks 1 … P−1");
  Hello hello;
  hello.service = service;
  Writer description;
  described.write(description);
  hello.description = description.take();
  return serve_loop(channel, hello, std::forward<Parse>(parse));
}

}  // namespace detail

/// Serves `problem` to rank 0's FusionPool until it shuts the workers down (see the file
/// comment); returns what this rank did. Collective over `comm` with rank 0's pool. Throws
/// bomf::invalid_argument when MPI is not initialized, on rank 0, or for invalid `polling`;
/// bomf::mpi::protocol_error for a malformed message.
inline ServeSummary serve(FusionProblem& problem, MPI_Comm comm = MPI_COMM_WORLD,
                          const Polling& polling = {}) {
  return detail::serve_problem(
      comm, polling, detail::Service::fusion, detail::FusionDescription::of(problem),
      [&](detail::Tag tag, detail::Reader& r) {
        detail::Task task;
        if (tag == detail::Tag::evaluate) {
          task = [&problem, delta = detail::read_delta(r)](detail::Writer& out) {
            const FusionEvaluation e = problem.evaluate(delta);
            out.put<double>(e.loss).put_vector(e.metrics);
          };
        } else if (tag == detail::Tag::gradient) {
          task = [&problem, delta = detail::read_delta(r)](detail::Writer& out) {
            Eigen::VectorXd gradient;
            const double loss = problem.loss_and_gradient(delta, gradient);
            out.put<double>(loss).put_vector(gradient);
          };
        }
        return task;
      });
}

/// Serves `problem` to rank 0's TrainingPool: each run trains with a TrainingContext built here
/// from rank 0's settings (run_index = the evaluation's id, or TrainingContext::final_run for
/// bomf::train_members through RemoteTrainingProblem). Otherwise as the fusion overload.
inline ServeSummary serve(TrainingProblem& problem, MPI_Comm comm = MPI_COMM_WORLD,
                          const Polling& polling = {}) {
  const detail::TrainingDescription described = detail::TrainingDescription::of(problem);
  const auto space = std::make_shared<const SearchSpace>(described.space);
  return detail::serve_problem(
      comm, polling, detail::Service::training, described, [&](detail::Tag tag, detail::Reader& r) {
        detail::Task task;
        if (tag != detail::Tag::train)
          return task;
        std::vector<double> values = r.get_doubles();
        const detail::TrainingTask settings = detail::TrainingTask::read(r);
        r.finish();
        task = [&problem, &space, values = std::move(values), settings](detail::Writer& out) {
          const Hyperparameters hyperparameters(space, values);  // validated: throws if invalid
          TrainingContext context(settings.run_index, settings.collect_members, settings.members,
                                  settings.anchor_step);
          detail::put_trajectory(out, problem.train(hyperparameters, context));
        };
        return task;
      });
}

namespace detail {

/// A worker rank that cannot serve (its problem could not be built) tells rank 0 why, in place
/// of its hello, and waits for the shutdown. Collective over `comm` like serve.
inline ServeSummary refuse(Service service, const std::string& reason, MPI_Comm comm,
                           const Polling& polling) {
  Channel channel(comm, polling, "bomf::mpi::serve");
  Hello hello;
  hello.service = service;
  hello.ok = false;
  hello.refusal = reason;
  return serve_loop(channel, hello, [](Tag, Reader&) { return Task(); });
}

}  // namespace detail

}  // namespace bomf::mpi
