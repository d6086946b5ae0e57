# shellcheck shell=bash
# Sourced by the scripts that start mpirun (tests/mpi/run_mpi_test.sh, bench/mpi/efficiency.sh):
# what Debian 12's Open MPI 4.1.4 needs on a CI machine or container — running as root
# (OMPI_ALLOW_RUN_AS_ROOT*, --allow-run-as-root), more ranks than cores (oversubscription), no
# cross-memory attach, which needs ptrace rights a container may not grant (vader's single-copy
# mechanism off), shared memory and loopback only (no InfiniBand or UCX probing), and no pinning
# (two oversubscribed ranks pinned to one core would take turns on it). Defines `mpirun_flags`.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1
export OMPI_MCA_hwloc_base_binding_policy=none
export PMIX_MCA_gds=hash
# shellcheck disable=SC2034  # used by the scripts that source this file
mpirun_flags=(--allow-run-as-root --oversubscribe)
