#!/usr/bin/env bash
# Style checks: clang-format on every C++/CUDA file, clang-tidy (.clang-tidy) on the project's
# translation units, using build/dev/compile_commands.json (configure the dev preset first).
# Usage: scripts/lint.sh [--format-only]
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.hpp' '*.cpp' '*.cu' '*.h')
echo "lint: clang-format on $(echo "$files" | wc -l) files"
clang-format --dry-run -Werror $files
[[ ${1:-} == --format-only ]] && exit 0
db=build/dev
[[ -f $db/compile_commands.json ]] || cmake --preset dev >/dev/null
units=$(git ls-files 'src/*.cpp' 'examples/*.cpp' 'tests/*.cpp' 'bench/*.cpp' | grep -v '^tests/package/')
echo "lint: clang-tidy on $(echo "$units" | wc -l) translation units"
run-clang-tidy -quiet -p "$db" $units 2>/dev/null | grep -E "warning:|error:" | sort -u | tee /tmp/bomf-tidy.txt || true
[[ ! -s /tmp/bomf-tidy.txt ]]
