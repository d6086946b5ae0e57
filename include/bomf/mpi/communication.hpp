// bomf/mpi/communication.hpp — how the ranks of a distributed search wait for one another, and
// what goes wrong when they cannot talk.
//
// Every wait of bomf::mpi — rank 0 waiting for a result, a worker rank waiting for its next task,
// a send waiting for its receiver — polls with MPI_Iprobe / MPI_Test and sleeps between polls,
// with an exponential backoff from `Polling::min_sleep` to `Polling::max_sleep`. A blocking
// MPI_Recv would do the same job, but Open MPI's blocking calls spin on a core while they wait;
// on a machine whose cores are shared (rank 0 fitting GPs next to worker ranks that prepare
// data), idle ranks must leave them to those that work. The price is at most `max_sleep` of
// latency per message (default 2 ms), which is nothing against evaluations of seconds to
// minutes; an idle rank costs about 0.1 % of a core.
//
// Errors: a malformed or unexpected message (a different bomf build on some rank, a rank that
// serves another kind of problem) throws bomf::mpi::protocol_error. MPI's own failures (a rank
// that died) are handled by MPI's error handler, by default MPI_ERRORS_ARE_FATAL: the whole job
// ends, and a rerun resumes from the journal (docs/mpi.md).
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include "bomf/core/error.hpp"

namespace bomf::mpi {

/// The ranks disagree about the protocol: a malformed message, a message of an unexpected kind,
/// or workers that serve different problems. The message names the ranks involved.
class protocol_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How a rank waits for a message (see the file comment): it polls, sleeping `min_sleep` after
/// the first unsuccessful poll, then twice as long after each further one, up to `max_sleep`.
struct Polling {
  std::chrono::microseconds min_sleep{50};    ///< first sleep (≥ 1 µs)
  std::chrono::microseconds max_sleep{2000};  ///< longest sleep (≥ min_sleep, ≤ 1 s)

  /// Empty when valid, else the first invalid field, its value and what is expected.
  [[nodiscard]] std::string validate() const {
    if (min_sleep.count() < 1)
      return detail::concat("min_sleep is ", min_sleep.count(), " µs, expected >= 1 µs");
    if (max_sleep < min_sleep || max_sleep > std::chrono::seconds(1)) {
      return detail::concat("max_sleep is ", max_sleep.count(), " µs, expected min_sleep (",
                            min_sleep.count(), " µs) … 1000000 µs");
    }
    return {};
  }
};

}  // namespace bomf::mpi
