#!/usr/bin/env bash
# Gives each rank of an Open MPI job its own GPU, then runs the command (docs/mpi.md):
#   mpirun -np 5 examples/mpi_fusion/gpu_per_rank.sh ./bomf_mpi_fusion [options]
# Rank 0 runs the search and sees no GPU (CUDA_VISIBLE_DEVICES empty). A worker rank with local
# rank L on its node (OMPI_COMM_WORLD_LOCAL_RANK) sees GPU L mod G, where G is the number of
# GPUs of the node (GPUS_PER_NODE, default: the GPUs nvidia-smi lists): on the node of rank 0,
# local ranks 1 … G get GPUs 1, …, G − 1, 0; on the other nodes local ranks 0 … G − 1 get
# GPUs 0 … G − 1. Without GPUs (G = 0) CUDA_VISIBLE_DEVICES is left alone.
set -euo pipefail
rank=${OMPI_COMM_WORLD_RANK:?gpu_per_rank.sh: run it under Open MPI mpirun (OMPI_COMM_WORLD_RANK is unset)}
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:?gpu_per_rank.sh: OMPI_COMM_WORLD_LOCAL_RANK is unset}
gpus=${GPUS_PER_NODE:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)}
if [[ ! $gpus =~ ^[0-9]+$ ]]; then
  echo "gpu_per_rank.sh: GPUS_PER_NODE is '$gpus', expected a number of GPUs >= 0" >&2
  exit 2
fi
if ((rank == 0)); then
  export CUDA_VISIBLE_DEVICES=""
elif ((gpus > 0)); then
  export CUDA_VISIBLE_DEVICES=$((local_rank % gpus))
fi
exec "$@"
