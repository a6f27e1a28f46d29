#!/usr/bin/env bash
# run-bench.sh BUILD_DIR: the `make bench` driver.
#
#   1. the Google Benchmark micro-benchmarks that were built (geo_bench, server_bench);
#   2. a fresh patrolmapd on a temporary data dir (auto-registration, a gateway
#      token, no per-token rate limit), loaded by ingest_load with HTTP batches
#      of 100 and of 1,000 pings from several connections, 100,000 units;
#   3. if redis-server is installed, its own redis-server on 127.0.0.1 (free
#      port, temporary dir) and the GEOADD peer on the same points: first with
#      appendonly yes + appendfsync everysec, then with no persistence;
#   4. a summary. Everything started here is stopped on exit, even on failure.
#
# Environment (all optional):
#   BENCH_DURATION=15      seconds measured per ingest run
#   BENCH_CONNECTIONS=16   HTTP connections / Redis connections
#   BENCH_UNITS=100000     units (devices)
#   BENCH_BATCHES="100 1000"
#   BENCH_GEO_MIN_TIME=0.2 --benchmark_min_time for the micro-benchmarks; BENCH_GEO=0 skips them
#   BENCH_REDIS=0          skip the Redis peer even if installed
#   BENCH_FULL_SYNC=1      also run store.synchronous=full vs Redis appendfsync always
#   BENCH_HTTP_THREADS=N   --set http.threads=N for the daemon (default: the daemon's own)
#   BENCH_WAIT_QUIET=S     wait up to S s for the machine to be idle before starting (default 0)
#   BENCH_KEEP=1           keep the temporary directory (logs, JSON results)
set -euo pipefail

build=${1:?usage: tools/bench/run-bench.sh BUILD_DIR}
bin=$(cd "$build" && pwd)/bin
repo=$(cd "$(dirname "$0")/../.." && pwd)
duration=${BENCH_DURATION:-15}
conns=${BENCH_CONNECTIONS:-16}
units=${BENCH_UNITS:-100000}
batches=${BENCH_BATCHES:-"100 1000"}

for b in patrolmapd ingest_load; do
  [[ -x "$bin/$b" ]] || { echo "bench: $bin/$b is missing; build first (make build)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/patrolmap-bench.XXXXXX")
pm_pid="" redis_pid=""
stop_pid() {  # stop one process we started, by its id; SIGKILL if it lingers
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$pm_pid"
  stop_pid "$redis_pid"
  if [[ "${BENCH_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
    echo "bench: logs and results kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'bench: %s\n' "$*"; }

# Field of a flat JSON line (numbers and simple strings): jget LINE KEY
jget() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1" | head -1; }

# ---------------------------------------------------------------- machine
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_gb=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
say "machine: $(nproc) cores, ${cpu_model:-unknown CPU}, ${mem_gb} GB RAM, $(uname -sr)"
say "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
say "commit:  $commit"
# Busy % of the whole machine over 2 s (from /proc/stat).
busy_pct() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local busy=$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))
  local idle=$(( (b[4]+b[5]) - (a[4]+a[5]) ))
  echo $(( 100 * busy / (busy + idle + 1) ))
}
# Others share this machine: optionally wait (up to BENCH_WAIT_QUIET s) until it is idle.
wait_quiet() {
  local waited=0 b
  while (( waited < ${BENCH_WAIT_QUIET:-0} )); do
    b=$(busy_pct)
    (( b < 10 )) && return 0
    (( waited == 0 )) && say "machine busy (${b}%); waiting up to ${BENCH_WAIT_QUIET}s for it to go quiet"
    sleep 3
    waited=$((waited + 5))
  done
}
wait_quiet
read -r load1 _ < /proc/loadavg
say "load:    $load1 (1-minute load average before starting)"
if awk -v l="$load1" 'BEGIN{exit !(l > 0.5)}'; then
  say "WARNING: the machine is busy (load $load1); figures will be low and noisy"
fi

# ---------------------------------------------------------------- micro-benchmarks
# Every Google Benchmark binary that was built (geo_bench, server_bench, ...).
micro=()
for b in "$bin"/*_bench; do [[ -x "$b" ]] && micro+=("$b"); done
if [[ "${BENCH_GEO:-1}" != 0 && ${#micro[@]} -gt 0 ]]; then
  for b in "${micro[@]}"; do
    name=$(basename "$b")
    say "$name (Google Benchmark, min_time ${BENCH_GEO_MIN_TIME:-0.2} s per case)..."
    "$b" --benchmark_min_time="${BENCH_GEO_MIN_TIME:-0.2}" --benchmark_out="$work/$name.json" \
      --benchmark_out_format=json 2>"$work/$name.err" | tee "$work/$name.txt" | sed 's/^/  /' || {
      say "$name failed (see below); continuing"
      tail -5 "$work/$name.err" | sed 's/^/  /'
    }
  done
elif [[ "${BENCH_GEO:-1}" != 0 ]]; then
  say "no *_bench binary built: skipping the micro-benchmarks"
fi

# ---------------------------------------------------------------- daemon
start_daemon() {  # start_daemon DATA_DIR [--set K=V ...]
  local data=$1
  shift
  "$bin/patrolmapd" tokens add --data-dir "$data" --role gateway --name bench >"$work/token"
  token=$(<"$work/token")
  local sets=(--set ingest.registration=auto --set http.rate_per_token=0 --set log.level=warn "$@")
  [[ -n "${BENCH_HTTP_THREADS:-}" ]] && sets+=(--set "http.threads=$BENCH_HTTP_THREADS")
  "$bin/patrolmapd" --listen 127.0.0.1:0 --nmea-listen 127.0.0.1:0 --lip-listen 127.0.0.1:0 --data-dir "$data" \
    "${sets[@]}" >"$work/patrolmapd.out" 2>>"$work/patrolmapd.log" &
  pm_pid=$!
  pm_port=""
  for _ in $(seq 100); do
    pm_port=$(sed -n 's/^listening http .*:\([0-9]*\)$/\1/p' "$work/patrolmapd.out")
    [[ -n "$pm_port" ]] && break
    kill -0 "$pm_pid" 2>/dev/null || { cat "$work/patrolmapd.log" >&2; say "patrolmapd exited"; exit 1; }
    sleep 0.1
  done
  [[ -n "$pm_port" ]] || { say "patrolmapd did not report its port"; exit 1; }
  say "patrolmapd pid $pm_pid on 127.0.0.1:$pm_port, data in $data (${*:-default store settings})"
}

# ---------------------------------------------------------------- redis
redis_port=""
start_redis() {  # start_redis [redis-server options...]
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { redis_port=$p; break; }
  done
  [[ -n "$redis_port" ]] || { say "no free port for redis-server"; return 1; }
  mkdir -p "$work/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --daemonize no --protected-mode yes \
    --logfile "$work/redis.log" --save '' "$@" &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    kill -0 "$redis_pid" 2>/dev/null || { say "redis-server exited"; tail -5 "$work/redis.log"; return 1; }
    sleep 0.1
  done
  say "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') pid $redis_pid on 127.0.0.1:$redis_port ($*)"
}

have_redis=0
if [[ "${BENCH_REDIS:-1}" != 0 ]] && command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  have_redis=1
elif [[ "${BENCH_REDIS:-1}" != 0 ]]; then
  say "redis-server not installed (Debian: apt-get install redis-server redis-tools): no peer comparison"
fi

results="$work/results.jsonl"
: >"$results"
load() {  # load LABEL ARGS...: one ingest_load run; its JSON lines go to results, tagged
  local label=$1
  shift
  wait_quiet
  say "ingest_load $label: $*"
  "$bin/ingest_load" --units "$units" --connections "$conns" --json "$@" >"$work/run.out"
  grep -v '^{' "$work/run.out" | sed 's/^/  /'
  grep '^{' "$work/run.out" | sed "s/^{/{\"run\":\"$label\",/" >>"$results"
}

start_daemon "$work/data"
if [[ $have_redis == 1 ]]; then
  start_redis --appendonly yes --appendfsync everysec
fi
for b in $batches; do
  args=(--port "$pm_port" --token "$token" --batch "$b" --duration "$duration" --server-pid "$pm_pid")
  [[ -n "$redis_pid" ]] && args+=(--redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid")
  load "b$b" "${args[@]}"
done
if [[ -n "$redis_pid" ]]; then
  say "redis: switching persistence off (CONFIG SET appendonly no, save '')"
  redis-cli -p "$redis_port" config set appendonly no >/dev/null
  redis-cli -p "$redis_port" config set save '' >/dev/null
  for b in $batches; do
    load "redis-nopersist-b$b" --redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid" --batch "$b" --duration "$duration"
  done
fi
stop_pid "$pm_pid"
pm_pid=""

if [[ "${BENCH_FULL_SYNC:-0}" == 1 ]]; then
  start_daemon "$work/data-full" --set store.synchronous=full
  if [[ -n "$redis_pid" ]]; then
    redis-cli -p "$redis_port" config set appendfsync always >/dev/null
    redis-cli -p "$redis_port" config set appendonly yes >/dev/null
    sleep 1  # the AOF rewrite that turning it on starts
  fi
  for b in $batches; do
    args=(--port "$pm_port" --token "$token" --batch "$b" --duration "$duration" --server-pid "$pm_pid")
    [[ -n "$redis_pid" ]] && args+=(--redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid")
    load "fullsync-b$b" "${args[@]}"
  done
  stop_pid "$pm_pid"
  pm_pid=""
fi

# ---------------------------------------------------------------- summary
echo
say "summary ($units units, $conns connections, ${duration} s per run; $(nproc) cores, ${cpu_model:-?}; $(date -u '+%Y-%m-%d'); $commit)"
printf '  %-22s %-9s %6s %12s %10s %9s %9s %7s %10s %7s\n' run target batch pings/s req/s p50_ms p99_ms errors server_cpu others
while IFS= read -r line; do
  target=$(jget "$line" target)
  [[ "$target" == ratio ]] && continue
  errs=$(jget "$line" failed_requests)
  printf '  %-22s %-9s %6s %12s %10s %9s %9s %7s %9s%% %6s%%\n' "$(jget "$line" run)" "$target" "$(jget "$line" batch)" \
    "$(jget "$line" pings_per_s)" "$(jget "$line" requests_per_s)" "$(jget "$line" p50_ms)" "$(jget "$line" p99_ms)" \
    "$errs" "$(jget "$line" server_cpu_pct)" "$(jget "$line" others_cpu_pct)"
done <"$results"
while IFS= read -r line; do
  [[ "$(jget "$line" target)" == ratio ]] || continue
  printf '  ratio %-16s patrolmap/redis = %s  (redis %s)\n' "$(jget "$line" run)" "$(jget "$line" patrolmap_over_redis)" \
    "$(jget "$line" redis_persistence)"
done <"$results"
target_ok=$(awk -F'"pings_per_s":' '/"target":"patrolmap"/ {split($2,a,","); if (a[1]+0 >= 300000) ok=1} END{print ok?"met":"NOT met"}' "$results")
say "target >= 300,000 durable pings/s through HTTP batches: $target_ok"
if [[ -n "${BENCH_RESULTS:-}" ]]; then cp "$results" "$BENCH_RESULTS"; fi
