#!/usr/bin/env bash
# Checks that the real public data the tests and demo read is present in
# $PATROLMAP_DATA (default ../shared/data). Where a file is missing it says
# which public file it is and tries to fetch it from its publisher; files
# that cannot be fetched that way (test captures from other projects) are
# named with where they come from.
set -uo pipefail
DATA=${PATROLMAP_DATA:-../shared/data}
missing=0

need() {  # need <relative path> <source url or description>
  local f="$DATA/$1"
  [[ -s "$f" ]] && return 0
  echo "check-data: missing $f" >&2
  echo "            source: $2" >&2
  if [[ "$2" == http* ]] && command -v curl >/dev/null; then
    mkdir -p "$(dirname "$f")"
    if curl -fsSL --max-time 120 -o "$f.part" "$2"; then mv "$f.part" "$f"; echo "check-data: fetched $1" >&2; return 0; fi
    rm -f "$f.part"
    echo "check-data: could not fetch it (no network?)" >&2
  fi
  missing=1
}

need osm/rutland-latest.osm.pbf "https://download.geofabrik.de/europe/united-kingdom/england/rutland-latest.osm.pbf"
need boundaries/rutland-parishes.geojson "osmium export of admin_level=10 boundaries from osm/rutland-latest.osm.pbf (see shared/data/README.md)"
need boundaries/leicestershire-county-wards.geojson "ONS electoral wards, Leicestershire county (OGL v3), via rogerbeecham/gridmappr"
need boundaries/leicester-city/E05010463_Castle.geojsonl "ONS ward boundaries via open-innovations/geography-bits (OGL v3)"
need crime/2022-10-leicestershire-street.csv "https://data.police.uk/data/ (Leicestershire Police, 2022-10, street-level crime)"
need nmea/nd-1005.log "gpsd regression suite, test/daemon (BSD-2-Clause)"
need lip/pei-capture-part1.txt "moehrem/tetraControl test capture (MIT)"
need gpx/gpsbabel_garmin_xt_strk.gpx "GPSBabel reference/track (GPL-2.0-or-later)"

if [[ $missing -ne 0 ]]; then
  echo "check-data: set PATROLMAP_DATA to a directory holding these files (see ../shared/data/README.md)" >&2
  exit 1
fi
