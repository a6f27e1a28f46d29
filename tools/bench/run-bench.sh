#!/usr/bin/env bash
# run-bench.sh BUILD_DIR: the `make bench` driver.
#
#   1. the Google Benchmark micro-benchmarks that were built (geo_bench, server_bench, road_bench,
#      replay_bench: a 12-hour track and a 1,000-unit positions snapshot against their targets,
#      and the store writer's ingest rate with and without track chunking);
#   2. a fresh patrolmapd on a temporary data dir (auto-registration, a gateway
#      token, no per-token rate limit), loaded by ingest_load with HTTP batches
#      of 100 and of 1,000 pings from several connections, 100,000 units;
#   3. if redis-server is installed, its own redis-server on 127.0.0.1 (free
#      port, temporary dir) and the GEOADD peer on the same points: first with
#      appendonly yes + appendfsync everysec, then with no persistence;
#   4. UDP ingest on a fresh patrolmapd: NMEA and JSON datagrams of several pings
#      each to the NMEA port, durable pings/s read from /metrics, with the same
#      Redis peer (AOF everysec) on the same points right after each run;
#   5. recommendations vs PostGIS KNN, the live map's WebSocket fan-out (live_load), and the
#      coverage report vs PostGIS (coverage_load, tools/bench/coverage-report.sql);
#   6. a summary. Everything started here is stopped on exit, even on failure.
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
#   BENCH_REC_HTTP_THREADS=N  http.threads for the recommendation run (default: nproc, as PostgreSQL uses every core)
#   BENCH_WAIT_QUIET=S     wait up to S s for the machine to be idle before starting (default 0)
#   BENCH_KEEP=1           keep the temporary directory (logs, JSON results)
#   BENCH_UDP="nmea json"  UDP datagram formats to run ("" or 0 skips UDP)
#   BENCH_UDP_PER_DATAGRAM=10  pings per datagram
#   BENCH_UDP_RATES="0 450000"  offered rates in pings/s, one run each (0: as fast as the
#                          driver can send, which costs it most of a core)
#   BENCH_UDP_DURATION     seconds per UDP run (default BENCH_DURATION)
#   BENCH_UDP_SETS="k=v ..."  extra daemon settings for the UDP runs (e.g. store.track_chunk_s=0)
#   BENCH_INGEST=0         skip the ingest runs (HTTP, UDP, Redis), e.g. to run one later section alone
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
# Replay targets (issue 7) from replay_bench's table (times in ms).
if [[ -s "$work/replay_bench.txt" ]]; then
  track_ms=$(awk '$1 == "BM_Track12h/0" {print $2}' "$work/replay_bench.txt")
  pos_ms=$(awk '$1 == "BM_Positions" {print $2}' "$work/replay_bench.txt")
  say "target one unit's 12-hour track at 5 s (json) < 5 ms server time: $(awk -v t="$track_ms" 'BEGIN{print (t != "" && t < 5) ? "met" : "NOT met"}') (${track_ms:-?} ms)"
  say "target positions snapshot of 1,000 units < 20 ms: $(awk -v t="$pos_ms" 'BEGIN{print (t != "" && t < 20) ? "met" : "NOT met"}') (${pos_ms:-?} ms)"
fi

# ---------------------------------------------------------------- daemon
start_daemon() {  # start_daemon DATA_DIR [--set K=V ...]
  local data=$1
  shift
  "$bin/patrolmapd" tokens add --data-dir "$data" --role gateway --name bench >"$work/token"
  token=$(<"$work/token")
  "$bin/patrolmapd" tokens add --data-dir "$data" --role admin --name bench-metrics >"$work/admin-token"
  admin_token=$(<"$work/admin-token")
  local sets=(--set ingest.registration=auto --set http.rate_per_token=0 --set log.level=warn "$@")
  [[ -n "${BENCH_HTTP_THREADS:-}" ]] && sets+=(--set "http.threads=$BENCH_HTTP_THREADS")
  "$bin/patrolmapd" --listen 127.0.0.1:0 --nmea-listen 127.0.0.1:0 --lip-listen 127.0.0.1:0 --data-dir "$data" \
    "${sets[@]}" >"$work/patrolmapd.out" 2>>"$work/patrolmapd.log" &
  pm_pid=$!
  pm_port=""
  for _ in $(seq 100); do
    pm_port=$(sed -n 's/^listening http .*:\([0-9]*\)$/\1/p' "$work/patrolmapd.out")
    nmea_port=$(sed -n 's/^listening nmea .*:\([0-9]*\)$/\1/p' "$work/patrolmapd.out")
    [[ -n "$pm_port" && -n "$nmea_port" ]] && break
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

if [[ "${BENCH_INGEST:-1}" != 0 ]]; then
  start_daemon "$work/data"
  if [[ $have_redis == 1 ]]; then
    start_redis --appendonly yes --appendfsync everysec
  fi
  for b in $batches; do
    args=(--port "$pm_port" --token "$token" --batch "$b" --duration "$duration" --server-pid "$pm_pid")
    [[ -n "$redis_pid" ]] && args+=(--redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid")
    load "b$b" "${args[@]}"
  done

  # UDP: a fresh daemon (its figure does not depend on what the HTTP runs stored).
  udp_formats=${BENCH_UDP-"nmea json"}
  [[ "$udp_formats" == 0 ]] && udp_formats=""
  if [[ -n "$udp_formats" ]]; then
    stop_pid "$pm_pid"
    pm_pid=""
    udp_sets=()
    for kv in ${BENCH_UDP_SETS:-}; do udp_sets+=(--set "$kv"); done
    start_daemon "$work/data-udp" "${udp_sets[@]}"
    per_dg=${BENCH_UDP_PER_DATAGRAM:-10}
    warmed=0
    for f in $udp_formats; do
      for r in ${BENCH_UDP_RATES:-0 450000}; do
        args=(--port "$pm_port" --token "$admin_token" --udp "$f" --udp-port "$nmea_port" --per-datagram "$per_dg"
              --rate "$r" --duration "${BENCH_UDP_DURATION:-$duration}" --server-pid "$pm_pid")
        # The first run registers the units (one datagram each); later runs find them.
        (( warmed )) && args+=(--warmup 0)
        warmed=1
        [[ -n "$redis_pid" ]] && args+=(--redis "127.0.0.1:$redis_port" --redis-pid "$redis_pid")
        load "udp-$f-x$per_dg-r$r" "${args[@]}"
      done
    done
  fi

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
fi

# ---------------------------------------------------------------- recommendations vs PostGIS KNN
# Dispatch recommendations over HTTP against PostGIS KNN on the same points (issue 4):
# a fresh patrolmapd gets BENCH_REC_UNITS units (one fresh ping each, batches of 1,000)
# and BENCH_REC_INCIDENTS incidents; recommend_load then asks
# GET /api/v1/incidents/{random id}/recommendations?k=5 on BENCH_CONNECTIONS keep-alive
# connections for BENCH_REC_DURATION s. If PostgreSQL and PostGIS are installed (Debian:
# postgresql-15-postgis-3), its own cluster on 127.0.0.1 (free port, temporary dir, run
# as the postgres user when we are root) loads the same points from recommend_load's CSV
# files into units(id, status, fix_t, geom geometry(Point,27700)) with a GiST index, and
# pgbench (-M prepared, same clients, -j 2, same duration, same warm-up; once with the default
# plan_cache_mode and once with force_generic_plan) runs
#   SELECT id FROM units WHERE status = 'available' AND fix_t > now() - interval '300 s'
#   ORDER BY geom <-> (the incident's point) LIMIT 5
# for a random incident of the same set. Both answers are compared for the first 50.
#   BENCH_REC=0 skips this section; BENCH_POSTGIS=0 skips the PostGIS peer;
#   BENCH_REC_UNITS (default BENCH_UNITS), BENCH_REC_INCIDENTS=1000,
#   BENCH_REC_DURATION (default BENCH_DURATION), BENCH_REC_THREADS=1 (driver threads),
#   BENCH_PG_BIN (default: the newest /usr/lib/postgresql/*/bin), BENCH_PG_JOBS=2 (pgbench -j),
#   BENCH_PG_PLAN_MODES="auto force_generic_plan" (one pgbench run per plan_cache_mode),
#   BENCH_REC_RESULTS=FILE: the JSON result lines.
pg_dir="" pg_run_as=()
pg_stop() {  # stop the cluster we started (its postmaster, from its pid file) and remove it
  [[ -n "$pg_dir" ]] || return 0
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    "${pg_run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 && -f "$pg_dir/pg.log" ]]; then cp "$pg_dir/pg.log" "$work/postgres.log" || true; fi
  rm -rf "$pg_dir"
  pg_dir=""
}
pg_start() {  # pg_start: if PostgreSQL + PostGIS are installed (and BENCH_POSTGIS != 0), a fresh
  # cluster on 127.0.0.1 (free port, temporary dir, as the postgres user when we are root) with
  # the postgis extension; sets pg_ok=1, pg_dir, pg_port, pg_pid, postgis_ver and pg_psql.
  pg_bin=${BENCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  pg_ver=$(basename "$(dirname "${pg_bin:-/none/x}")")
  pg_ok=0
  if [[ "${BENCH_POSTGIS:-1}" == 0 ]]; then
    :
  elif [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" || ! -x "$pg_bin/pg_ctl" || ! -x "$pg_bin/pgbench" ]]; then
    say "PostgreSQL not installed (Debian: apt-get install postgresql-15-postgis-3): no PostGIS comparison"
  elif [[ ! -f "/usr/share/postgresql/$pg_ver/extension/postgis.control" ]]; then
    say "PostGIS not installed for PostgreSQL $pg_ver (Debian: apt-get install postgresql-$pg_ver-postgis-3): no PostGIS comparison"
  elif [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
    say "running as root and there is no postgres user to run initdb as: no PostGIS comparison"
  else
    pg_ok=1
  fi
  [[ $pg_ok == 1 ]] || return 0
  # initdb refuses root: as root the cluster belongs to the postgres user (Debian creates it).
  [[ $(id -u) == 0 ]] && pg_run_as=(runuser -u postgres --)
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/patrolmap-pg.XXXXXX")
  [[ $(id -u) == 0 ]] && chown postgres: "$pg_dir"
  pg_port=""
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { pg_port=$p; break; }
  done
  [[ -n "$pg_port" ]] || { say "no free port for PostgreSQL"; exit 1; }
  "${pg_run_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$work/initdb.log" 2>&1 || { tail -20 "$work/initdb.log"; say "initdb failed"; exit 1; }
  # Defaults (shared_buffers 128 MB), except where it listens; no other tuning.
  "${pg_run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/pg.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories='$pg_dir'" start >/dev/null ||
    { tail -20 "$pg_dir/pg.log"; say "PostgreSQL did not start"; exit 1; }
  pg_psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
  pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")
  postgis_ver=$(pg_psql -Atc "CREATE EXTENSION postgis; SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
  say "PostgreSQL $("$pg_bin/postgres" --version | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p') + PostGIS $postgis_ver, postmaster pid $pg_pid on 127.0.0.1:$pg_port, data in $pg_dir"
}
pg_cpu_s() {  # CPU seconds of a postmaster and of its exited (reaped) backends
  awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13 + $14 + $15) / hz}' "/proc/$1/stat"
}
self_children_cpu_s() {  # CPU seconds of this shell's reaped children (cutime + cstime)
  awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($14 + $15) / hz}' "/proc/$$/stat"
}
machine_busy_s() {  # CPU seconds the whole machine was busy (first line of /proc/stat)
  awk -v hz="$(getconf CLK_TCK)" 'NR == 1 {print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit}' /proc/stat
}
# cleanup (above) stops patrolmapd and redis; the cluster goes first. `(exit $rc)` hands
# cleanup the exit status (it reads $?), hence set +e here.
trap 'rc=$?; set +e; pg_stop; (exit $rc); cleanup' EXIT

if [[ "${BENCH_REC:-1}" != 0 && ! -x "$bin/recommend_load" ]]; then
  say "$bin/recommend_load is missing: skipping recommendations vs PostGIS"
elif [[ "${BENCH_REC:-1}" != 0 ]]; then
  rec_units=${BENCH_REC_UNITS:-$units}
  rec_incidents=${BENCH_REC_INCIDENTS:-1000}
  rec_duration=${BENCH_REC_DURATION:-$duration}
  rec_warmup=2
  rec_results="$work/rec.jsonl"
  : >"$rec_results"
  stop_pid "$pm_pid"
  pm_pid=""
  "$bin/patrolmapd" tokens add --data-dir "$work/data-rec" --role dispatcher --name bench-dispatch >"$work/dispatcher-token"
  # PostgreSQL serves its clients from every core; patrolmapd gets as many
  # HTTP I/O threads (http.threads defaults to cores - 1, sized for ingest,
  # where the store writer has the remaining core).
  rec_threads=${BENCH_REC_HTTP_THREADS:-$(nproc)}
  start_daemon "$work/data-rec" --set "http.threads=$rec_threads"
  wait_quiet
  read -r rec_load _ </proc/loadavg
  say "recommend_load: $rec_units units, $rec_incidents incidents, k=5, $conns connections, ${rec_duration} s, http.threads=$rec_threads (load $rec_load)"
  "$bin/recommend_load" --port "$pm_port" --token "$token" --dispatcher-token "$(<"$work/dispatcher-token")" \
    --units "$rec_units" --incidents "$rec_incidents" --connections "$conns" --threads "${BENCH_REC_THREADS:-1}" \
    --duration "$rec_duration" --warmup "$rec_warmup" --k 5 --server-pid "$pm_pid" --json \
    --units-csv "$work/rec-units.csv" --incidents-csv "$work/rec-incidents.csv" \
    --answers-csv "$work/rec-answers.csv" --answers 50 >"$work/rec.out" 2>"$work/rec.err" || {
    sed 's/^/  /' "$work/rec.err"
    say "recommend_load failed"
    exit 1
  }
  sed 's/^/  /' "$work/rec.err"
  rec_line=$(grep '^{' "$work/rec.out")
  sed "s/^{/{\"run\":\"recommend\",\"load1\":$rec_load,/" <<<"$rec_line" >>"$rec_results"
  stop_pid "$pm_pid"
  pm_pid=""

  # ---- the PostGIS peer
  pg_start
  if [[ $pg_ok == 1 ]]; then
    # Same points (the text recommend_load sent), same fix times, same incidents.
    t_load=$(date +%s.%N)
    pg_psql >"$work/pg-load.log" 2>&1 <<SQL || { cat "$work/pg-load.log"; say "loading PostGIS failed"; exit 1; }
CREATE TEMP TABLE units_in (id text, lon float8, lat float8, t_ms bigint);
\\copy units_in FROM '$work/rec-units.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE units (id text PRIMARY KEY, status text NOT NULL, fix_t timestamptz NOT NULL,
                    geom geometry(Point, 27700) NOT NULL);
INSERT INTO units
  SELECT id, 'available', to_timestamp(t_ms / 1000.0), ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 27700)
  FROM units_in;
CREATE TEMP TABLE incidents_in (id bigint, lon float8, lat float8);
\\copy incidents_in FROM '$work/rec-incidents.csv' WITH (FORMAT csv, HEADER true)
-- n: 1..M for pgbench's random pick; id: patrolmapd's incident id (the answers compared below)
CREATE TABLE incidents (n int PRIMARY KEY, id bigint NOT NULL, geom geometry(Point, 27700) NOT NULL);
INSERT INTO incidents
  SELECT row_number() OVER (ORDER BY id), id, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 27700)
  FROM incidents_in;
CREATE INDEX units_geom_gist ON units USING gist (geom);
VACUUM ANALYZE units;
VACUUM ANALYZE incidents;
SQL
    pg_units=$(pg_psql -Atc "SELECT count(*) FROM units")
    pg_incidents=$(pg_psql -Atc "SELECT count(*) FROM incidents")
    say "PostGIS: $pg_units units, $pg_incidents incidents loaded and indexed in $(awk -v a="$t_load" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
    rec_query="SELECT id FROM units WHERE status = 'available' AND fix_t > now() - interval '300 s' ORDER BY geom <-> (SELECT geom FROM incidents WHERE n = :n) LIMIT 5;"
    printf '\\set n random(1, %s)\n%s\n' "$pg_incidents" "$rec_query" >"$work/knn.sql"
    # The plan must be the KNN index scan (Order By: geom <-> $0), else the figure means nothing.
    pg_psql -Atc "EXPLAIN ${rec_query//:n/1}" >"$work/pg-plan.txt"
    if ! grep -q 'Index Scan using units_geom_gist' "$work/pg-plan.txt"; then
      sed 's/^/  /' "$work/pg-plan.txt"
      say "WARNING: the PostGIS plan is not a GiST KNN index scan"
    fi
    pg_short=$(pg_psql -Atc "SELECT count(*) FROM incidents i WHERE (SELECT count(*) FROM (SELECT 1 FROM units u
      WHERE u.status = 'available' AND u.fix_t > now() - interval '300 s' ORDER BY u.geom <-> i.geom LIMIT 5) s) < 5")
    # The same question for the first 50 incidents: same 5 units as patrolmapd?
    pg_psql -Atc "SELECT i.id, k.id FROM incidents i CROSS JOIN LATERAL (SELECT u.id FROM units u
      WHERE u.status = 'available' AND u.fix_t > now() - interval '300 s' ORDER BY u.geom <-> i.geom LIMIT 5) k
      WHERE i.id IN ($(tail -n +2 "$work/rec-answers.csv" | cut -d, -f1 | sort -un | paste -sd, -))" |
      tr '|' ',' | sort >"$work/pg-answers.txt"
    tail -n +2 "$work/rec-answers.csv" | cut -d, -f1,3 | sort >"$work/pm-answers.txt"
    # One line per incident: its id and its 5 units in a fixed order; count identical lines.
    by_incident() { awk -F, '{a[$1] = a[$1] " " $2} END {for (k in a) print k ":" a[k]}' "$1" | sort; }
    n_inc=$(by_incident "$work/pm-answers.txt" | wc -l)
    n_same=$(comm -12 <(by_incident "$work/pm-answers.txt") <(by_incident "$work/pg-answers.txt") | wc -l)
    pgb=("$pg_bin/pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared -c "$conns" -j "${BENCH_PG_JOBS:-2}"
         -f "$work/knn.sql")
    # Two runs: PostgreSQL's default plan cache (plan_cache_mode=auto: here it keeps re-planning
    # the prepared statement, and planning a PostGIS KNN query costs more than running it), and
    # plan_cache_mode=force_generic_plan (plan once, the tuned setting). The target is judged
    # against the faster of the two.
    for pg_mode in ${BENCH_PG_PLAN_MODES:-auto force_generic_plan}; do
      pg_label=postgis
      if [[ "$pg_mode" != auto ]]; then pg_label=${pg_mode#force_}; pg_label=postgis-${pg_label%_plan}; fi
      wait_quiet
      read -r pg_load1 _ </proc/loadavg
      say "pgbench (PostGIS KNN, plan_cache_mode=$pg_mode): -M prepared -c $conns -j ${BENCH_PG_JOBS:-2}, ${rec_warmup} s warm-up + ${rec_duration} s (load $pg_load1)"
      PGOPTIONS="-c plan_cache_mode=$pg_mode" "${pgb[@]}" -T "$rec_warmup" postgres >/dev/null 2>&1
      rm -rf "$work/pgbench-log"
      mkdir -p "$work/pgbench-log"
      # CPU: the postmaster's own + its reaped backends' (cutime, cstime), pgbench's (this
      # shell's reaped children), and the machine's, to tell what other processes took.
      cpu0=($(pg_cpu_s "$pg_pid") $(self_children_cpu_s) $(machine_busy_s))
      t0=$(date +%s.%N)
      (cd "$work/pgbench-log" &&
        PGOPTIONS="-c plan_cache_mode=$pg_mode" "${pgb[@]}" -T "$rec_duration" -P 5 -l --log-prefix=knn postgres) \
        >"$work/pgbench-$pg_label.out" 2>&1 || { cat "$work/pgbench-$pg_label.out"; say "pgbench failed"; exit 1; }
      sleep 0.3  # the postmaster reaps the backends
      cpu1=($(pg_cpu_s "$pg_pid") $(self_children_cpu_s) $(machine_busy_s))
      read -r pg_cpu pgb_cpu pg_others < <(awk -v t="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b - a - 0.3}')" \
        -v a0="${cpu0[0]}" -v a1="${cpu1[0]}" -v b0="${cpu0[1]}" -v b1="${cpu1[1]}" -v c0="${cpu0[2]}" -v c1="${cpu1[2]}" \
        'BEGIN{p = 100*(a1-a0)/t; q = 100*(b1-b0)/t; o = 100*(c1-c0)/t - p - q; printf "%.0f %.0f %.0f\n", p, q, (o > 0) ? o : 0}')
      grep -E '^(progress|number of|latency|tps)' "$work/pgbench-$pg_label.out" | sed 's/^/  /'
      pg_tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$work/pgbench-$pg_label.out")
      pg_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench-$pg_label.out")
      # Per-transaction latencies (column 3, us) from pgbench's log files.
      read -r pg_n pg_p50 pg_p90 pg_p99 pg_p999 pg_max < <(cat "$work"/pgbench-log/knn.* | awk '{print $3}' | sort -n |
        awk '{v[NR]=$1} END{n=NR; split("0.5 0.9 0.99 0.999", p, " ");
          printf "%d", n; for (i=1;i<=4;i++){ k=int(p[i]*n + 0.999999); if (k<1) k=1; printf " %.3f", v[k]/1000 } printf " %.3f\n", v[n]/1000}')
      say "PostGIS KNN ($pg_mode): $pg_tps queries/s, p50 $pg_p50 ms, p90 $pg_p90 ms, p99 $pg_p99 ms, p99.9 $pg_p999 ms," \
        "max $pg_max ms ($pg_n logged, ${pg_failed:-0} failed, $pg_short incidents with fewer than 5 eligible units);" \
        "PostgreSQL CPU $pg_cpu %, pgbench CPU $pgb_cpu %, other processes $pg_others %"
      echo "{\"run\":\"$pg_label\",\"target\":\"postgis_knn\",\"plan_cache_mode\":\"$pg_mode\",\"load1\":$pg_load1,\"units\":$pg_units,\"incidents\":$pg_incidents,\"k\":5,\"connections\":$conns,\"duration_s\":$rec_duration,\"requests_per_s\":$pg_tps,\"p50_ms\":$pg_p50,\"p90_ms\":$pg_p90,\"p99_ms\":$pg_p99,\"p999_ms\":$pg_p999,\"max_ms\":$pg_max,\"server_cpu_pct\":$pg_cpu,\"driver_cpu_pct\":$pgb_cpu,\"others_cpu_pct\":$pg_others,\"errors\":${pg_failed:-0},\"short_answers\":$pg_short,\"same_answers\":$n_same,\"compared\":$n_inc,\"postgis\":\"$postgis_ver\"}" >>"$rec_results"
    done
    pg_stop
  fi

  echo
  say "recommendations, k=5 ($rec_units units, $rec_incidents incidents, $conns connections, ${rec_duration} s each; $(nproc) cores)"
  printf '  %-16s %12s %8s %8s %8s %8s %6s %6s %10s %10s %7s\n' run req/s p50_ms p90_ms p99_ms p99.9_ms \
    errors short server_cpu client_cpu others
  while IFS= read -r line; do
    printf '  %-16s %12.0f %8s %8s %8s %8s %6s %6s %9.0f%% %9.0f%% %6.0f%%\n' "$(jget "$line" run)" "$(jget "$line" requests_per_s)" \
      "$(jget "$line" p50_ms)" "$(jget "$line" p90_ms)" "$(jget "$line" p99_ms)" "$(jget "$line" p999_ms)" \
      "$(jget "$line" errors)" "$(jget "$line" short_answers)" "$(jget "$line" server_cpu_pct)" \
      "$(jget "$line" driver_cpu_pct)" "$(jget "$line" others_cpu_pct)"
  done <"$rec_results"
  if grep -q '"target":"postgis_knn"' "$rec_results"; then
    pm_rps=$(jget "$(grep '"run":"recommend"' "$rec_results")" requests_per_s)
    while IFS= read -r line; do
      [[ "$(jget "$line" target)" == postgis_knn ]] || continue
      printf '  ratio patrolmap / %-16s = %s\n' "$(jget "$line" run)" \
        "$(awk -v a="$pm_rps" -v b="$(jget "$line" requests_per_s)" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}')"
    done <"$rec_results"
    pg_best=$(awk -F'"requests_per_s":' '/"target":"postgis_knn"/ {split($2, a, /[,}]/); if (a[1] + 0 > b) b = a[1] + 0} END{print b + 0}' "$rec_results")
    rec_ratio=$(awk -v a="$pm_rps" -v b="$pg_best" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}')
    rec_ok=$(awk -v r="$rec_ratio" 'BEGIN{print (r >= 3) ? "met" : "NOT met"}')
    say "same 5 units as PostGIS for $n_same of $n_inc incidents compared (PostGIS ranks by EPSG:27700 distance, patrolmapd by geodesic)"
    say "target recommendations/s >= 3 x PostGIS KNN (its faster plan cache mode; same points, same clients, same run): $rec_ok (ratio $rec_ratio)"
  fi
  if [[ -n "${BENCH_REC_RESULTS:-}" ]]; then cp "$rec_results" "$BENCH_REC_RESULTS"; fi
fi

# ---------------------------------------------------------------- live map fan-out
# A fresh patrolmapd (http.threads = BENCH_LIVE_HTTP_THREADS, default nproc) gets
# BENCH_LIVE_UNITS units pinging at 1 Hz over HTTP while BENCH_LIVE_CLIENTS WebSocket
# clients watch the whole area (live_load): ping-to-frame latency, frames/s, bytes/s,
# server CPU and peak memory. Target (issue 5): p99 < 250 ms with live.flush_ms 200,
# server under one core. BENCH_LIVE=0 skips it; BENCH_LIVE_DURATION (default BENCH_DURATION).
if [[ "${BENCH_LIVE:-1}" != 0 && -x "$bin/live_load" ]]; then
  stop_pid "$pm_pid"
  mkdir -p "$work/data-live"
  "$bin/patrolmapd" tokens add --data-dir "$work/data-live" --role dispatcher --name bench-live >"$work/live-token"
  start_daemon "$work/data-live" --set "http.threads=${BENCH_LIVE_HTTP_THREADS:-$(nproc)}" --set live.flush_ms=200
  live_line=$("$bin/live_load" --port "$pm_port" --gateway-token "$token" --staff-token "$(<"$work/live-token")" \
    --units "${BENCH_LIVE_UNITS:-20000}" --clients "${BENCH_LIVE_CLIENTS:-500}" --probes 20 \
    --seconds "${BENCH_LIVE_DURATION:-$duration}" --warmup 5 --server-pid "$pm_pid" --json | tee "$work/live.txt" | tail -1)
  sed '$d' "$work/live.txt"
  live_p99=$(jget "$live_line" p99_ms)
  live_cpu=$(jget "$live_line" server_cpu_pct)
  live_ok=$(awk -v p="$live_p99" -v c="$live_cpu" 'BEGIN{print (p < 250 && c < 100) ? "met" : "NOT met"}')
  say "target live map p99 < 250 ms at flush 200 ms and server < 1 core: $live_ok (p99 $live_p99 ms, server $live_cpu% of a core)"
  stop_pid "$pm_pid"
  pm_pid=""
fi

# ---------------------------------------------------------------- coverage report (issue 6)
# A fresh patrolmapd gets 1,000 hot spots + 1,000 beats and 500 units x 8 h at 5 s (2.88 M
# fixes, times in the last 8 h) from coverage_load, which then times
# GET /api/v1/reports/coverage for the 8 h window from the live accounting (source=auto)
# and recomputed from SQLite (source=store), checks the two agree, and reports the
# accounting thread's CPU per fix. If PostgreSQL + PostGIS are installed, its own cluster
# (pg_start) loads the same areas and fixes (EPSG:27700, the daemon's projection of what
# was sent) through psql \copy and runs tools/bench/coverage-report.sql for the same window
# BENCH_COV_PG_RUNS times (the data are in its cache after loading: no warm-up run); per-area unit_seconds, presence_seconds and visits are compared.
# Target (issue 6): the report in < 1 s.
#   BENCH_COVERAGE=0 skips it; BENCH_COV_RUNS=5 timed reports per source after a warm-up;
#   BENCH_COV_PG_RUNS=2 PostGIS runs;
#   BENCH_COV_UNITS=500, BENCH_COV_HOURS=8, BENCH_COV_AREAS=1000, BENCH_COV_EXTRA_AREAS=1000.
if [[ "${BENCH_COVERAGE:-1}" != 0 && -x "$bin/coverage_load" ]]; then
  stop_pid "$pm_pid"
  pm_pid=""
  cov_dir="$work/coverage"
  cov_runs=${BENCH_COV_RUNS:-5}
  cov_pg_runs=${BENCH_COV_PG_RUNS:-2}
  mkdir -p "$cov_dir"
  cov_areas=(--areas "${BENCH_COV_AREAS:-1000}" --extra-areas "${BENCH_COV_EXTRA_AREAS:-1000}" --out-dir "$cov_dir")
  # Areas first, then a restart: a daemon started with areas answers every window of the
  # last coverage.live_hours from memory (one that got its first areas while running
  # answers only windows from that moment).
  start_daemon "$work/data-cov"
  "$bin/coverage_load" --port "$pm_port" --token "$token" --admin-token "$admin_token" "${cov_areas[@]}" \
    --only-areas 2> >(sed 's/^/  /' >&2) || { say "coverage_load --only-areas failed"; exit 1; }
  stop_pid "$pm_pid"
  start_daemon "$work/data-cov"
  wait_quiet
  read -r cov_load _ </proc/loadavg
  say "coverage_load (load $cov_load)"
  "$bin/coverage_load" --port "$pm_port" --token "$token" --admin-token "$admin_token" --pid "$pm_pid" --no-areas \
    --units "${BENCH_COV_UNITS:-500}" --hours "${BENCH_COV_HOURS:-8}" "${cov_areas[@]}" --runs "$cov_runs" --json \
    >"$cov_dir/out.txt" 2> >(sed 's/^/  /' >&2) || { cat "$cov_dir/out.txt"; say "coverage_load failed"; exit 1; }
  grep -v '^{' "$cov_dir/out.txt"
  cov_line=$(grep '^{' "$cov_dir/out.txt")
  stop_pid "$pm_pid"
  pm_pid=""
  cov_pg_ms=""
  pg_start
  if [[ $pg_ok == 1 ]]; then
    t_load=$(date +%s.%N)
    pg_psql >"$cov_dir/pg-load.log" 2>&1 <<SQL || { cat "$cov_dir/pg-load.log"; say "loading PostGIS failed"; exit 1; }
CREATE TEMP TABLE areas_in (id text, wkt text);
\\copy areas_in FROM '$cov_dir/areas.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE areas (id text PRIMARY KEY, geom geometry(Polygon, 27700) NOT NULL);
INSERT INTO areas SELECT id, ST_GeomFromText(wkt, 27700) FROM areas_in;
CREATE INDEX areas_geom ON areas USING gist (geom);
CREATE TABLE fixes (unit text NOT NULL, t_ms bigint NOT NULL, x float8 NOT NULL, y float8 NOT NULL);
\\copy fixes FROM '$cov_dir/fixes.csv' WITH (FORMAT csv, HEADER true)
CREATE INDEX fixes_t ON fixes (t_ms);
CREATE TABLE pm (id text PRIMARY KEY, unit_seconds float8, presence_seconds float8, visits bigint);
\\copy pm FROM '$cov_dir/patrolmap.csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE;
SQL
    say "PostGIS: areas and $(pg_psql -Atc 'SELECT count(*) FROM fixes') fixes loaded in $(awk -v a="$t_load" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
    cov_from=$(jget "$cov_line" from_ms)
    cov_to=$(jget "$cov_line" to_ms)
    : >"$cov_dir/pg-times"
    for i in $(seq 1 "$cov_pg_runs"); do
      c0=$(pg_cpu_s "$pg_pid")
      t0=$(date +%s.%N)
      pg_psql -v from="$cov_from" -v to="$cov_to" -f "$repo/tools/bench/coverage-report.sql" >"$cov_dir/pg-run.log" 2>&1 ||
        { cat "$cov_dir/pg-run.log"; say "the PostGIS report failed"; exit 1; }
      t1=$(date +%s.%N)
      c1=$(pg_cpu_s "$pg_pid")
      ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", (b - a) * 1000}')
      cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.0f", (b - a) * 1000}')
      say "  PostGIS report run $i: $ms ms wall, $cpu ms PostgreSQL CPU"
      echo "$ms $cpu" >>"$cov_dir/pg-times"
    done
    cov_pg_ms=$(sort -n "$cov_dir/pg-times" | awk '{w[NR] = $1} END{print (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2}')
    cov_pg_cpu=$(sort -n -k2 "$cov_dir/pg-times" | awk '{w[NR] = $2} END{print (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2}')
    # Patrolmap's answer is rounded to the millisecond: tolerance max(1e-6 relative, 1 ms).
    cov_cmp=$(pg_psql -At -F ' ' -c "SELECT count(*),
        count(*) FILTER (WHERE abs(r.unit_seconds - p.unit_seconds) > greatest(1e-6 * p.unit_seconds, 0.0015)),
        coalesce(max(abs(r.unit_seconds - p.unit_seconds) / p.unit_seconds) FILTER (WHERE p.unit_seconds >= 60), 0),
        count(*) FILTER (WHERE abs(r.presence_seconds - p.presence_seconds) > greatest(1e-6 * p.presence_seconds, 0.0015)),
        count(*) FILTER (WHERE r.visits <> p.visits), sum(r.visits), sum(p.visits)
      FROM pg_report r FULL JOIN pm p USING (id)")
    read -r n_cmp n_us rel_us n_pres n_vis pg_visits pm_visits <<<"$cov_cmp"
    say "PostGIS vs patrolmapd, $n_cmp areas: unit_seconds differ beyond max(1e-6, 1.5 ms) in $n_us (max relative difference $rel_us where >= 60 s), presence_seconds in $n_pres, visits in $n_vis ($pg_visits vs $pm_visits visits)"
    pg_stop
  fi
  cov_live=$(jget "$cov_line" live_ms)
  cov_store=$(jget "$cov_line" store_ms)
  say "coverage report ($(jget "$cov_line" areas) hot spots, $(jget "$cov_line" units) units, $(jget "$cov_line" fixes) fixes; median of $cov_runs, load $cov_load):"
  printf '  %-28s %10s %14s\n' "" wall_ms server_cpu_ms
  printf '  %-28s %10s %14s\n' "patrolmapd live (auto)" "$cov_live" "$(jget "$cov_line" live_cpu_ms)"
  printf '  %-28s %10s %14s\n' "patrolmapd store" "$cov_store" "$(jget "$cov_line" store_cpu_ms)"
  [[ -n "$cov_pg_ms" ]] && printf '  %-28s %10s %14s\n' "PostGIS (psql, median of $cov_pg_runs)" "$cov_pg_ms" "$cov_pg_cpu"
  say "live accounting: $(jget "$cov_line" live_ns_per_fix) ns CPU per fix with $(jget "$cov_line" areas_live) areas; live == store: $(jget "$cov_line" same)"
  cov_ok=$(awk -v a="$cov_live" -v b="$cov_store" 'BEGIN{print (a < 1000 && b < 1000) ? "met" : "NOT met"}')
  say "target coverage report < 1 s end to end (live and store): $cov_ok"
fi

# ---------------------------------------------------------------- summary
echo
say "summary ($units units, $conns connections, ${duration} s per run; $(nproc) cores, ${cpu_model:-?}; $(date -u '+%Y-%m-%d'); $commit)"
printf '  %-22s %-9s %6s %12s %10s %9s %9s %7s %10s %7s\n' run target batch pings/s req/s p50_ms p99_ms errors server_cpu others
while IFS= read -r line; do
  target=$(jget "$line" target)
  [[ "$target" == ratio || -n "$(jget "$line" udp)" ]] && continue
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
if grep -q '"udp":' "$results"; then
  echo
  say "UDP ingest: durable = counted in patrolmap_pings_accepted_total (after commit), per second of the window"
  printf '  %-22s %6s %9s %12s %12s %8s %12s %10s %7s\n' run format per_dg offered pings/s dgrams/s loss_% server_cpu others
  while IFS= read -r line; do
    [[ -n "$(jget "$line" udp)" ]] || continue
    offered=$(jget "$line" rate)
    [[ "$offered" == 0 ]] && offered=max
    printf '  %-22s %6s %9s %12s %12s %8s %12s %9s%% %6s%%\n' "$(jget "$line" run)" "$(jget "$line" udp)" \
      "$(jget "$line" per_datagram)" "$offered" "$(jget "$line" pings_per_s)" "$(jget "$line" datagrams_per_s)" \
      "$(jget "$line" loss_pct)" "$(jget "$line" server_cpu_pct)" "$(jget "$line" others_cpu_pct)"
  done <"$results"
  udp_best=$(awk -F'"patrolmap_over_redis":' '/"target":"ratio"/ && /"run":"udp-/ {split($2,a,/[,}]/); if (a[1]+0 > b) b=a[1]+0} END{printf "%.3f", b}' "$results")
  if [[ -n "$redis_pid" ]]; then
    udp_ok=$(awk -v b="$udp_best" 'BEGIN{print (b >= 1.5) ? "met" : "NOT met"}')
    say "target UDP durable pings/s >= 1.5 x Redis GEOADD pipelined (AOF everysec, same points, same run): $udp_ok (best ratio $udp_best)"
  fi
fi
if [[ "${BENCH_INGEST:-1}" != 0 ]]; then
  target_ok=$(awk -F'"pings_per_s":' '/"target":"patrolmap"/ && !/"udp":/ {split($2,a,","); if (a[1]+0 >= 300000) ok=1} END{print ok?"met":"NOT met"}' "$results")
  say "target >= 300,000 durable pings/s through HTTP batches: $target_ok"
fi
if [[ -n "${BENCH_RESULTS:-}" ]]; then cp "$results" "$BENCH_RESULTS"; fi
