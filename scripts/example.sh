#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the main example and runs it.
# Extra arguments are passed to the example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${BOMF_JOBS:-$(nproc)}" --target bomf_quickstart
exec build/release/examples/core_quickstart/bomf_quickstart "$@"
