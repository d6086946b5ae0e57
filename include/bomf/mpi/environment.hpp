// bomf/mpi/environment.hpp — MPI's lifetime as an object, and the rank of a process on its node
// (to give each worker rank its own GPU).
//
//   int main(int argc, char** argv) {
//     bomf::mpi::Environment mpi(argc, argv);       // MPI_Init_thread … MPI_Finalize
//     if (mpi.rank() > 0)                             // a worker: one GPU per rank on a node
//       select_gpu(mpi.local_rank() % gpus_per_node);
//     ...
//   }
//
// With Open MPI, `mpirun` also exports the local rank as OMPI_COMM_WORLD_LOCAL_RANK, which a
// wrapper script can turn into CUDA_VISIBLE_DEVICES before the program starts (docs/mpi.md).
#pragma once

#include <mpi.h>

#include <stdexcept>

#include "bomf/core/error.hpp"
#include "bomf/mpi/detail/channel.hpp"

namespace bomf::mpi {

/// The rank of this process among the processes of `comm` that share its node (memory), in
/// rank order: 0, 1, … on every node. Collective over `comm`. Throws bomf::invalid_argument
/// when MPI is not initialized.
inline int local_rank(MPI_Comm comm = MPI_COMM_WORLD) {
  detail::require_mpi("bomf::mpi::local_rank");
  int rank = 0;
  detail::check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  MPI_Comm node = MPI_COMM_NULL;
  detail::check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
                "MPI_Comm_split_type");
  int local = 0;
  detail::check(MPI_Comm_rank(node, &local), "MPI_Comm_rank");
  MPI_Comm_free(&node);
  return local;
}

/// Initializes MPI on construction (MPI_Init_thread with MPI_THREAD_FUNNELED: the process may
/// run threads, e.g. libtorch's or the GP fits', but only the main thread calls MPI) and
/// finalizes it on destruction. When MPI is already initialized (by the user's code), it does
/// neither. Not copyable.
class Environment {
 public:
  /// Initializes MPI with the program's arguments. Throws std::runtime_error when MPI provides
  /// less than MPI_THREAD_FUNNELED.
  Environment(int& argc, char**& argv) { initialize(&argc, &argv); }
  /// Initializes MPI without the program's arguments.
  Environment() { initialize(nullptr, nullptr); }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && finalized == 0)
      MPI_Finalize();
  }

  /// This process's rank in MPI_COMM_WORLD.
  [[nodiscard]] int rank() const { return rank_; }
  /// The number of processes in MPI_COMM_WORLD.
  [[nodiscard]] int size() const { return size_; }
  /// This process's rank among MPI_COMM_WORLD's processes on its node (computed at construction).
  [[nodiscard]] int local_rank() const { return local_rank_; }

 private:
  void initialize(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = MPI_THREAD_SINGLE;
      detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owner_ = true;
      if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        owner_ = false;
        throw std::runtime_error(
            "bomf::mpi::Environment: this MPI library does not provide MPI_THREAD_FUNNELED");
      }
    }
    detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    local_rank_ = mpi::local_rank(MPI_COMM_WORLD);
  }

  bool owner_ = false;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
};

}  // namespace bomf::mpi
