// bomf/mpi/detail/channel.hpp — a private duplicate of the user's communicator, on which rank 0
// and the worker ranks exchange byte messages, waiting by polling with sleeps (communication.hpp).
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/detail/message.hpp"

namespace bomf::mpi::detail {

/// Message tags on the private communicator.
enum class Tag : int {
  hello = 1,     ///< worker → rank 0: protocol version and the problem's description
  evaluate = 2,  ///< rank 0 → worker: evaluate a fused model
  gradient = 3,  ///< rank 0 → worker: loss and ∂loss/∂δ
  train = 4,     ///< rank 0 → worker: a training run
  shutdown = 5,  ///< rank 0 → worker: stop serving
  result = 6,    ///< worker → rank 0: what a task gave
};

/// Throws protocol_error for an MPI call that did not succeed (reached only when the user set
/// an error handler that returns, e.g. MPI_ERRORS_RETURN, on the communicator).
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw protocol_error(bomf::detail::concat("bomf::mpi: ", call, " failed: ", text));
}

/// Throws bomf::invalid_argument (prefixed by `where`) unless MPI is initialized and not yet
/// finalized.
inline void require_mpi(const char* where) {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  bomf::detail::require(initialized != 0, where,
                        "MPI is not initialized: create a bomf::mpi::Environment (or call "
                        "MPI_Init) first");
  bomf::detail::require(finalized == 0, where, "MPI is already finalized");
}

/// Sleeps with exponential backoff between polls.
class Backoff {
 public:
  explicit Backoff(const Polling& polling) : polling_(polling), next_(polling.min_sleep) {}
  void sleep() {
    std::this_thread::sleep_for(next_);
    next_ = std::min(next_ * 2, polling_.max_sleep);
  }

 private:
  Polling polling_;
  std::chrono::microseconds next_;
};

/// A received message.
struct Message {
  int source = 0;
  Tag tag = Tag::hello;
  Bytes bytes;
};

/// The private communicator (a duplicate of the user's: collective over it, so rank 0 and every
/// worker construct their Channel in the same order relative to other collectives on `comm`).
class Channel {
 public:
  Channel(MPI_Comm comm, const Polling& polling, const char* where) : polling_(polling) {
    require_mpi(where);
    const std::string error = polling.validate();
    bomf::detail::require(error.empty(), where, "invalid polling options: ", error);
    bomf::detail::require(comm != MPI_COMM_NULL, where, "argument 'comm' is MPI_COMM_NULL");
    int inter = 0;
    check(MPI_Comm_test_inter(comm, &inter), "MPI_Comm_test_inter");
    bomf::detail::require(inter == 0, where,
                          "argument 'comm' is an intercommunicator, expected an intracommunicator "
                          "(e.g. MPI_COMM_WORLD)");
    // MPI_Comm_idup, polled: rank 0 may wait here while the workers load their models, and a
    // blocking MPI_Comm_dup would spin on a core all that time.
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Comm_idup(comm, &comm_, &request), "MPI_Comm_idup");
    wait_for(request);
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized == 0 && comm_ != MPI_COMM_NULL)
      MPI_Comm_free(&comm_);
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }

  /// Sends `bytes` to `destination` and waits (polling) until the buffer may be reused.
  void send(int destination, Tag tag, const Bytes& bytes) const {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
      throw protocol_error(bomf::detail::concat("bomf::mpi: a message of ", bytes.size(),
                                                " bytes is too long for MPI (at most ", INT_MAX,
                                                ")"));
    }
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, destination,
                    static_cast<int>(tag), comm_, &request),
          "MPI_Isend");
    wait_for(request);
  }

  /// Waits (polling) until `request` completes.
  void wait_for(MPI_Request& request) const {
    Backoff backoff(polling_);
    for (;;) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done != 0)
        return;
      backoff.sleep();
    }
  }

  /// True when a message from `source` (or MPI_ANY_SOURCE) with `tag` (or MPI_ANY_TAG) is
  /// waiting; does not wait.
  [[nodiscard]] bool ready(int source, int tag, MPI_Status& status) const {
    int flag = 0;
    check(MPI_Iprobe(source, tag, comm_, &flag, &status), "MPI_Iprobe");
    return flag != 0;
  }

  /// Waits (polling) for a message from `source` (or MPI_ANY_SOURCE) with `tag` (or
  /// MPI_ANY_TAG) and receives it.
  [[nodiscard]] Message receive(int source, int tag) const {
    MPI_Status status;
    Backoff backoff(polling_);
    while (!ready(source, tag, status)) {
      backoff.sleep();
    }
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
    Message m;
    m.source = status.MPI_SOURCE;
    m.tag = static_cast<Tag>(status.MPI_TAG);
    m.bytes.resize(static_cast<std::size_t>(count));
    check(MPI_Recv(m.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm_,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    return m;
  }

 private:
  Polling polling_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 0;
};

}  // namespace bomf::mpi::detail
