# Patrolmap on Debian 12. Build: docker build -t patrolmap .
# Run:  docker run -p 8080:8080 -v /srv/patrolmap:/var/lib/patrolmap patrolmap
# Demo: docker run -p 8080:8080 -v /path/to/shared/data:/data -e PATROLMAP_DATA=/data patrolmap --demo --data-dir /tmp/demo
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPATROLMAP_BUILD_TESTS=OFF -DPATROLMAP_BUILD_BENCH=OFF \
 && cmake --build build --target patrolmapd patrolsim \
 && (cd web && npm ci --no-audit --no-fund && npm run build)

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgeos-c1v5 libproj25 proj-data libsqlite3-0 libssl3 \
      zlib1g libexpat1 libbz2-1.0 liblz4-1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/patrolmapd /src/build/bin/patrolsim /usr/local/bin/
COPY --from=build /src/web/dist /usr/share/patrolmap/web
COPY --from=build /src/tools/sim/scenarios /src/tools/sim/scenarios
VOLUME /var/lib/patrolmap
EXPOSE 8080 5010 5010/udp 5020 5020/udp
ENTRYPOINT ["patrolmapd", "--data-dir", "/var/lib/patrolmap", "--listen", "0.0.0.0:8080", \
            "--set", "http.web_root=/usr/share/patrolmap/web"]
