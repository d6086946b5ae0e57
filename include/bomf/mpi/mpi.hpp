// bomf/mpi/mpi.hpp — bomf::mpi, the optional MPI component (CMake target bomf::mpi): both BOMF
// stages with rank 0 searching and ranks 1 … P−1 evaluating, each with its own problem (its own
// model, on its own GPU). See docs/mpi.md.
//
//   environment.hpp     MPI's lifetime (Environment), the rank on the node (local_rank)
//   solve.hpp           bomf::mpi::solve: either stage on every rank of a communicator, one call
//   worker_pool.hpp     rank 0: FusionPool, TrainingPool (WorkerPools of the worker ranks)
//   serve.hpp           ranks 1 … P−1: serve(problem, comm)
//   remote_problem.hpp  rank 0: the workers' problem for one-at-a-time calls (baselines, Learned
//                       SWA's gradients, train_members)
//   communication.hpp   how ranks wait (Polling), protocol_error
#pragma once

#include "bomf/mpi/communication.hpp"
#include "bomf/mpi/environment.hpp"
#include "bomf/mpi/remote_problem.hpp"
#include "bomf/mpi/serve.hpp"
#include "bomf/mpi/solve.hpp"
#include "bomf/mpi/worker_pool.hpp"
