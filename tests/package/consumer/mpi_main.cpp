// Uses bomf::mpi: must compile and link against MPI through the package. Runs without mpirun:
// it checks that the pool refuses to start before MPI is initialized.
#include <bomf/mpi/mpi.hpp>
#include <cstdio>
#include <string>

int main() {
  try {
    bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
  } catch (const bomf::invalid_argument& e) {
    const bool ok = std::string(e.what()).find("MPI is not initialized") != std::string::npos;
    std::printf("bomf::mpi OK (%s)\n", e.what());
    return ok ? 0 : 1;
  }
  return 1;
}
