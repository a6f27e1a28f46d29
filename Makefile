# Patrolmap: the two commands are `make demo` and `make test` (README.md).
# Each installs what is missing (Debian packages), builds, and runs.

SHELL := /bin/bash
PATROLMAP_DATA ?= $(abspath ../shared/data)
export PATROLMAP_DATA
JOBS ?= $(shell nproc)
CMAKE_COMMON := -G Ninja
RELEASE := build/release
ASAN := build/asan
FUZZ := build/fuzz
FUZZ_SECONDS ?= 600

.PHONY: all deps data build build-daemon build-asan build-fuzz fuzz fuzz-smoke test test-unit test-integration test-browser demo bench clean format help web

all: build

help:
	@echo "make demo    install deps, build, run patrolmapd with the Rutland demo on :8080"
	@echo "make test    install deps, build (ASan+UBSan), run unit and integration tests"
	@echo "make bench   build release, run micro-benchmarks and the ingest load driver"
	@echo "make fuzz    every decoder under libFuzzer, FUZZ_SECONDS each (default 600)"
	@echo "make build   release build only;  make clean  remove build/"
	@echo "make web     the dispatcher page: npm ci + esbuild into web/dist"
	@echo "make test-browser  only the headless-Chromium tests of the page (tests/browser)"
	@echo "PATROLMAP_DATA=$(PATROLMAP_DATA)"

deps:
	@scripts/install-deps.sh

data:
	@scripts/check-data.sh

# The dispatcher page (web/): npm ci when node_modules is missing or older
# than the lock file, esbuild when a source is newer than dist.
WEB_SRC := $(wildcard web/src/*) web/build.mjs web/package.json
web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	@# the browser tests are configured only once node_modules exists
	@touch tests/CMakeLists.txt

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build

web: deps web/dist/index.html

$(RELEASE)/build.ninja:
	cmake -S . -B $(RELEASE) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release

$(ASAN)/build.ninja:
	cmake -S . -B $(ASAN) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATROLMAP_SANITIZE=ON -DPATROLMAP_BUILD_BENCH=OFF

build: deps $(RELEASE)/build.ninja
	cmake --build $(RELEASE) -j $(JOBS)

build-asan: deps $(ASAN)/build.ninja
	cmake --build $(ASAN) -j $(JOBS)

$(FUZZ)/build.ninja:
	CXX=clang++-14 cmake -S . -B $(FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPATROLMAP_FUZZ=ON

build-fuzz: deps $(FUZZ)/build.ninja
	cmake --build $(FUZZ) -j $(JOBS)

# Every decoder under libFuzzer for FUZZ_SECONDS each (default 10 minutes).
fuzz: data build-fuzz
	scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

# The CI regression check: each fuzz target briefly on its corpus.
fuzz-smoke: data build-fuzz
	scripts/fuzz.sh $(FUZZ) 30

# Unit, integration and browser suites run under AddressSanitizer + UBSan
# (the browser tests drive the ASan patrolmapd), then the fuzz targets briefly.
test: deps data web build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600
	@$(MAKE) --no-print-directory fuzz-smoke

test-unit: build-asan
	cd $(ASAN) && ctest --output-on-failure -L unit -j $(JOBS)

test-integration: build-asan
	cd $(ASAN) && ctest --output-on-failure -L integration -j $(JOBS)

test-browser: web build-asan
	cd $(ASAN) && ctest --output-on-failure -L browser

# The daemon, the simulator its --demo starts and the hot-spot proposer.
build-daemon: deps $(RELEASE)/build.ninja
	cmake --build $(RELEASE) -j $(JOBS) --target patrolmapd patrolsim hotspots

# Hot spots from the October 2022 crime file inside the Rutland extract (tools/hotspots),
# then the daemon with the demo data and the simulated fleet.
RUTLAND_BBOX := -0.85,52.52,-0.39,52.77
demo: deps data web build-daemon
	@mkdir -p patrolmap-demo-data
	$(RELEASE)/bin/hotspots --crime $(PATROLMAP_DATA)/crime/2022-10-leicestershire-street.csv \
	  --bbox $(RUTLAND_BBOX) --min-per-year 36 --out patrolmap-demo-data/hotspots.geojson
	$(RELEASE)/bin/patrolmapd --demo --listen 0.0.0.0:8080

bench: data
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	tools/bench/run-bench.sh $(RELEASE)

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
