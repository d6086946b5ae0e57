// bomf/mpi/detail/coordinator.hpp — rank 0's side of the protocol, whatever the service: the
// hellos of the worker ranks, which worker is busy with which task, the results, the shutdown.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/detail/channel.hpp"
#include "bomf/mpi/detail/message.hpp"
#include "bomf/mpi/detail/protocol.hpp"

namespace bomf::mpi::detail {

/// What a worker answered to a task.
struct Reply {
  int worker = 0;        ///< 0 … P−2 (rank worker + 1)
  std::uint64_t id = 0;  ///< the task's id
  bool ok = false;       ///< the task ran without throwing
  double seconds = 0.0;  ///< its wall time on the worker
  Bytes payload;         ///< the outcome (ok)
  std::string error;     ///< what() of the exception it threw there (not ok)
};

/// Rank 0's end of the private communicator. The constructor waits for the hello of every worker
/// rank; `check_hellos` then refuses workers that cannot serve or serve another service.
class Coordinator {
 public:
  Coordinator(MPI_Comm comm, const Polling& polling, Service service, const char* where)
      : channel_(comm, polling, where), service_(service), where_(where) {
    bomf::detail::require(channel_.rank() == 0, where, "this is rank ", channel_.rank(),
                          " of the communicator; the pool belongs on rank 0 (which runs the "
                          "search), the other ranks call bomf::mpi::serve");
    bomf::detail::require(channel_.size() >= 2, where,
                          "the communicator has 1 rank, expected at least 2 (rank 0 searches, "
                          "ranks 1 … P−1 evaluate); in one process, use the sequential "
                          "bomf::solve");
    const int workers = channel_.size() - 1;
    hellos_.resize(static_cast<std::size_t>(workers));
    busy_.assign(static_cast<std::size_t>(workers), false);
    ids_.assign(static_cast<std::size_t>(workers), 0);
    std::vector<bool> heard(static_cast<std::size_t>(workers), false);
    try {
      for (int i = 0; i < workers; ++i) {
        Message m = channel_.receive(MPI_ANY_SOURCE, static_cast<int>(Tag::hello));
        const auto w = static_cast<std::size_t>(m.source - 1);
        if (heard[w]) {
          throw protocol_error(bomf::detail::concat("bomf::mpi: rank ", m.source,
                                                    " said hello twice (a different bomf build?)"));
        }
        heard[w] = true;
        hellos_[w] = Hello::decode(m.bytes, m.source);
      }
      check_hellos();
    } catch (const std::exception& e) {
      shutdown(false, e.what());
      throw;
    }
  }
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  /// Shuts the workers down if `shutdown` was not called: ok when no exception is unwinding.
  ~Coordinator() {
    if (shut_down_)
      return;
    try {
      const bool unwinding = std::uncaught_exceptions() > 0;
      shutdown(!unwinding, unwinding ? "rank 0 ended with an exception" : "");
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
  }

  [[nodiscard]] int num_workers() const { return channel_.size() - 1; }
  [[nodiscard]] const Bytes& description(int worker) const {
    return hellos_[static_cast<std::size_t>(worker)].description;
  }
  [[nodiscard]] bool busy(int worker) const { return busy_[static_cast<std::size_t>(worker)]; }
  [[nodiscard]] bool any_busy() const {
    for (const bool b : busy_) {
      if (b)
        return true;
    }
    return false;
  }
  [[nodiscard]] bool is_shut_down() const { return shut_down_; }
  [[nodiscard]] const char* where() const { return where_; }

  /// Sends task `tag` with `id` and `body` (written after the id) to the idle `worker`.
  void start(int worker, Tag tag, std::uint64_t id, const Writer& body) {
    const std::string call = bomf::detail::concat(where_, "::start");
    bomf::detail::require(!shut_down_, call.c_str(), "the workers were shut down");
    bomf::detail::require(worker >= 0 && worker < num_workers(), call.c_str(),
                          "argument 'worker' is ", worker, ", expected 0 … ", num_workers() - 1);
    bomf::detail::require(!busy(worker), call.c_str(), "worker ", worker, " (rank ", worker + 1,
                          ") is busy");
    Writer w;
    w.put<std::uint64_t>(id);
    Bytes message = w.take();
    message.insert(message.end(), body.bytes().begin(), body.bytes().end());
    channel_.send(worker + 1, tag, message);
    busy_[static_cast<std::size_t>(worker)] = true;
    ids_[static_cast<std::size_t>(worker)] = id;
  }

  /// Waits for the reply of `worker`, or of any busy worker when `worker` is −1.
  Reply wait(int worker = -1) {
    const std::string call = bomf::detail::concat(where_, "::wait");
    bomf::detail::require(
        worker == -1 ? any_busy() : (worker >= 0 && worker < num_workers() && busy(worker)),
        call.c_str(),
        worker == -1 ? "nothing is running"
                     : bomf::detail::concat("worker ", worker, " is not busy"));
    const Message m =
        channel_.receive(worker == -1 ? MPI_ANY_SOURCE : worker + 1, static_cast<int>(Tag::result));
    Reply reply;
    reply.worker = m.source - 1;
    if (reply.worker < 0 || reply.worker >= num_workers() || !busy(reply.worker)) {
      throw protocol_error(
          bomf::detail::concat("bomf::mpi: rank ", m.source, " sent a result but had no task"));
    }
    Reader r(m.bytes, bomf::detail::concat("the result from rank ", m.source));
    reply.id = r.get<std::uint64_t>();
    reply.ok = r.get<std::uint8_t>() != 0;
    reply.seconds = r.get<double>();
    if (reply.id != ids_[static_cast<std::size_t>(reply.worker)]) {
      throw protocol_error(
          bomf::detail::concat("bomf::mpi: rank ", m.source, " sent the result of task ", reply.id,
                               ", expected task ", ids_[static_cast<std::size_t>(reply.worker)]));
    }
    if (reply.ok) {
      reply.payload = r.rest();
    } else {
      reply.error = r.get_string();
      r.finish();
    }
    busy_[static_cast<std::size_t>(reply.worker)] = false;
    return reply;
  }

  /// Tells every worker to stop serving — `ok` false with `message` when rank 0 failed — after
  /// waiting for (and discarding) the tasks still running. Idempotent.
  void shutdown(bool ok, const std::string& message) {
    if (shut_down_)
      return;
    shut_down_ = true;
    Writer w;
    w.put<std::uint8_t>(ok ? 1 : 0).put_string(message);
    for (int worker = 0; worker < num_workers(); ++worker) {
      if (busy(worker))
        wait(worker);
      channel_.send(worker + 1, Tag::shutdown, w.bytes());
    }
  }

 private:
  // Refuses workers that cannot serve, or serve another service (naming every such rank).
  void check_hellos() const {
    std::string problems;
    for (int worker = 0; worker < num_workers(); ++worker) {
      const Hello& h = hellos_[static_cast<std::size_t>(worker)];
      if (!h.ok) {
        problems += bomf::detail::concat("; rank ", worker + 1, " ", h.refusal);
      } else if (h.service != service_) {
        problems += bomf::detail::concat("; rank ", worker + 1, " serves ", to_string(h.service),
                                         ", expected ", to_string(service_));
      }
    }
    if (!problems.empty())
      throw protocol_error(bomf::detail::concat(where_, ": ", problems.substr(2)));
  }

  Channel channel_;
  Service service_;
  const char* where_;
  std::vector<Hello> hellos_;
  std::vector<bool> busy_;
  std::vector<std::uint64_t> ids_;
  bool shut_down_ = false;
};

}  // namespace bomf::mpi::detail
