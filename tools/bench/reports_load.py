#!/usr/bin/env python3
"""Seeds a running patrolmapd with a synthetic force and times the management
reports (docs/performance.md "Management reports").

  patrolmapd --data-dir D --set ingest.registration=auto --set ingest.too_old_s=0 \\
             --set http.rate_per_token=0 &
  tools/bench/reports_load.py --base http://127.0.0.1:8080 --gateway G --dispatcher T --manager M \\
             --units 100 --hours 168 --incidents 300

Each unit sends a fix every 5 s for --hours up to now (a random walk that moves or
parks in 10-minute spells, with GPS jitter while parked); then --incidents incidents
are created, each force-assigned and every other one reported on scene; then each
report is asked for 3 times in json and csv and the best time printed.
"""
import argparse
import json
import random
import sys
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="daemon URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--gateway", required=True, help="a gateway token (pings)")
    ap.add_argument("--dispatcher", required=True, help="a dispatcher token (incidents)")
    ap.add_argument("--manager", required=True, help="a manager token (reports)")
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--hours", type=int, default=168)
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--skip-load", action="store_true", help="only time the reports")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    random.seed(a.seed)
    print(f"seed {a.seed}", flush=True)

    def req(method, path, body, tok):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(a.base + path, data=data, method=method,
                                   headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read()

    if not a.skip_load:
        now = int(time.time() * 1000)
        start = now - a.hours * 3600 * 1000
        t0, sent = time.time(), 0
        for u in range(a.units):
            lat, lon = 52.60 + random.random() * 0.1, -1.20 + random.random() * 0.1
            batch, moving = [], True
            for k in range(a.hours * 720):
                if k % 120 == 0:
                    moving = random.random() < 0.6
                if moving:
                    lat += (random.random() - 0.5) * 0.0006
                    lon += (random.random() - 0.5) * 0.001
                    p = (lat, lon)
                else:
                    p = (lat + (random.random() - 0.5) * 0.00005, lon + (random.random() - 0.5) * 0.00008)
                batch.append({"device": "U%03d" % u, "t": start + k * 5000, "lat": p[0], "lon": p[1]})
                if len(batch) == 5000:
                    req("POST", "/api/v1/pings", batch, a.gateway)
                    sent, batch = sent + len(batch), []
            if batch:
                req("POST", "/api/v1/pings", batch, a.gateway)
                sent += len(batch)
            print(f"unit {u + 1}/{a.units}: {sent} fixes, {time.time() - t0:.0f} s", flush=True)
        for i in range(a.incidents):
            _, b = req("POST", "/api/v1/incidents", {"grade": 1 + i % 3, "type": "x", "lat": 52.5 + random.random() * 0.01,
                                                      "lon": -1.5 + random.random() * 0.01}, a.dispatcher)
            iid = json.loads(b)["id"]
            unit = "U%03d" % (i % a.units)
            req("POST", f"/api/v1/incidents/{iid}/assign", {"unit": unit, "force": True}, a.dispatcher)
            if i % 2:
                req("POST", f"/api/v1/incidents/{iid}/events", {"unit": unit, "kind": "on_scene"}, a.dispatcher)
        print(f"{a.incidents} incidents", flush=True)
        time.sleep(3)
    for name in ["response-times", "deployments", "mileage", "demand"]:
        for fmt in ["json", "csv"]:
            best, size = 1e9, 0
            for _ in range(3):
                t1 = time.time()
                _, b = req("GET", f"/api/v1/reports/{name}?format={fmt}", None, a.manager)
                best, size = min(best, time.time() - t1), len(b)
            print(f"{name:15} {fmt:4} {best * 1000:8.1f} ms {size:9d} bytes", flush=True)


if __name__ == "__main__":
    sys.exit(main())
