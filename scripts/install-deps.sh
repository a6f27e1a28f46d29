#!/usr/bin/env bash
# Installs the Debian 12 packages Patrolmap needs to build, test and benchmark.
# Idempotent and fast when everything is present: it asks dpkg first and only
# calls apt-get for what is missing.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh bench      also the peers the benchmarks compare with
#
# libosmium (header-only) is not apt-installed: Debian's libosmium2-dev depends
# on libboost-dev (1.74), which conflicts with our libboost1.81-dev. Its .deb is
# downloaded and unpacked into build/third_party/libosmium/include (git-ignored),
# where CMake's PATROLMAP_OSMIUM_INCLUDE looks by default.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
osmium_include="$repo/build/third_party/libosmium/include"

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev            # Asio + Beast (header-only parts we use)
  libgeos-dev                 # GEOS C API: area index, prepared geometries
  libproj-dev proj-data       # PROJ: WGS84 <-> EPSG:27700
  rapidjson-dev               # JSON on the wire
  libsqlite3-dev              # embedded store
  libssl-dev                  # SHA-256 token hashes, TLS
  googletest libgtest-dev libgmock-dev
  libbenchmark-dev
  curl                        # used by the demo and tests as an HTTP client
  clang-14 libclang-rt-14-dev # libFuzzer targets (make fuzz, make test's fuzz smoke run)
  sqlite3                     # inspecting the store by hand
  chromium                    # headless browser for tests/browser (driven by playwright-core)
  # libosmium's dependencies (PBF and XML readers); libosmium itself: see the top
  libprotozero-dev zlib1g-dev libexpat1-dev libbz2-dev liblz4-dev
  # (expat also reads KML in tools/areas: import-areas --kml)
  gdal-bin                    # ogr2ogr/ogrinfo: independent conversions and checks in tests (KML import, areas)
)
bench_pkgs=(
  redis-server redis-tools    # the GEOADD peer of the ingest benchmark
  postgresql-15 postgresql-client-15 postgresql-15-postgis-3  # the PostGIS KNN peer of the recommendation benchmark
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "bench" ]]; then want+=("${bench_pkgs[@]}"); fi
# Node.js and npm build web/ (npm ci, esbuild); an install from elsewhere (NodeSource) counts.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi

# Unpacks libosmium2-dev's headers into $osmium_include (see the top).
install_osmium() {
  [[ -f "$osmium_include/osmium/osm.hpp" ]] && return 0
  echo "install-deps: unpacking libosmium2-dev headers into $osmium_include"
  local tmp
  tmp=$(mktemp -d)
  # apt-get download runs as the _apt user when we are root: it must write here.
  chmod 0777 "$tmp"
  if ! (cd "$tmp" && apt-get download -qq libosmium2-dev 2>/dev/null); then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq
      (cd "$tmp" && apt-get download -qq libosmium2-dev)
    else
      echo "install-deps: apt-get download libosmium2-dev failed (run 'apt-get update' as root?)" >&2
      rm -rf "$tmp"
      return 1
    fi
  fi
  dpkg-deb -x "$tmp"/libosmium2-dev_*.deb "$tmp/x"
  # Copy beside, then rename: an interrupted run never leaves a partial tree
  # that the osm.hpp check above would take for complete.
  mkdir -p "$osmium_include"
  rm -rf "$osmium_include/osmium" "$osmium_include/osmium.partial"
  cp -r "$tmp/x/usr/include/osmium" "$osmium_include/osmium.partial"
  mv "$osmium_include/osmium.partial" "$osmium_include/osmium"
  rm -rf "$tmp"
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
install_osmium
