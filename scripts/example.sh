#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the flagship example and runs it: BOMF on a real
# fine-tuning task (WordNet noun gloss -> supersense, a GloVe-initialized transformer in
# libtorch), stage 1 + member collection + fusion search + every baseline, with a report on the
# test split (examples/supersense/README.md). Full mode takes about 6-10 minutes on 2 cores.
# Extra arguments are passed to the example (e.g. --smoke, --seed 1, --journal runs/s1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/fetch-data.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${BOMF_JOBS:-$(nproc)}" --target bomf_supersense
exec build/release/examples/supersense/bomf_supersense "$@"
