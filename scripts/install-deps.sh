#!/usr/bin/env bash
# Installs the Debian 12 packages Patrolmap needs to build, test and benchmark.
# Idempotent and fast when everything is present: it asks dpkg first and only
# calls apt-get for what is missing.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh bench      also the peers the benchmarks compare with
set -euo pipefail

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
)
bench_pkgs=(
  redis-server redis-tools    # the GEOADD peer of the ingest benchmark
  postgresql-15 postgresql-client-15 postgresql-15-postgis-3  # the PostGIS KNN peer of the recommendation benchmark
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "bench" ]]; then want+=("${bench_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
