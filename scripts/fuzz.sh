#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 600), one after the
# other, seeded from the real captures in $PATROLMAP_DATA and the seeds in
# tests/fuzz/seeds. Findings land in build/fuzz/artifacts; the run fails if
# any target crashes, leaks, hangs or runs out of memory.
#
#   scripts/fuzz.sh build/fuzz 600      # make fuzz
#   scripts/fuzz.sh build/fuzz 30       # make fuzz-smoke (CI regression check)
set -uo pipefail
build=${1:?build dir}
secs=${2:-600}
DATA=${PATROLMAP_DATA:-../shared/data}
root=$(cd "$(dirname "$0")/.." && pwd)
corpora="$build/corpus"
artifacts="$build/artifacts"
mkdir -p "$artifacts"

seed() {  # seed <target> <files...>: copies seed inputs into the target's corpus
  local t=$1; shift
  mkdir -p "$corpora/$t"
  for f in "$@"; do [[ -f "$f" ]] && cp -n "$f" "$corpora/$t/" 2>/dev/null; done
  if [[ -d "$root/tests/fuzz/seeds/$t" ]]; then cp -n "$root/tests/fuzz/seeds/$t"/* "$corpora/$t/" 2>/dev/null; fi
  return 0
}
# The real captures, with a PGID line in front for NMEA (the captures have none).
mkdir -p "$corpora/nmea"
PGID_SUM=43  # XOR of the characters of "PGID,GPS1"
for f in "$DATA"/nmea/*.log; do
  [[ -f "$f" ]] && { printf '$PGID,GPS1*%s\r\n' "$PGID_SUM"; head -c 4000 "$f"; } > "$corpora/nmea/$(basename "$f")"
done
seed pei "$DATA/lip/pei-capture-part1.txt"
# LIP seeds: the capture's LIP payload lines, alone and in the UDP datagram form.
mkdir -p "$corpora/lip"
if [[ -f "$DATA/lip/pei-capture-part1.txt" ]]; then
  n=0
  while IFS= read -r line; do
    line=${line%$'\r'}
    [[ "$line" =~ ^0A[0-9A-Fa-f]+$ ]] || continue
    n=$((n + 1)); [[ $n -gt 64 ]] && break
    printf '%s' "$line" > "$corpora/lip/payload-$n"
    printf '2001234,%s\n' "$line" > "$corpora/lip/datagram-$n"
  done < "$DATA/lip/pei-capture-part1.txt"
fi
seed lip
seed json_pings
seed osmand
seed rota
seed ws_frame
seed gpx "$DATA"/gpx/*.gpx

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/fuzz/ubsan.supp"
export ASAN_OPTIONS="detect_leaks=1"
failed=0
for t in json_pings osmand nmea pei lip rota ws_frame gpx; do
  bin="$build/bin/${t}_fuzz"
  [[ -x "$bin" ]] || { echo "fuzz: $bin not built" >&2; failed=1; continue; }
  mkdir -p "$corpora/$t"
  echo "fuzz: $t for ${secs}s (corpus $(ls "$corpora/$t" | wc -l) inputs)"
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=8192 -print_final_stats=1 \
       -artifact_prefix="$artifacts/$t-" "$corpora/$t" > "$build/$t.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$t.log" | tr '\n' ' '; echo
  else
    echo "fuzz: $t FAILED; last lines of $build/$t.log:" >&2
    tail -30 "$build/$t.log" >&2
    failed=1
  fi
done
exit $failed
