-- Issue 6's coverage report in PostGIS, the peer of GET /api/v1/reports/coverage
-- (tools/bench/run-bench.sh, "coverage report"), for the rules of docs/api.md
-- "Patrol coverage: exact rules" over the window [:from, :to) (epoch ms, psql -v):
-- segments between consecutive fixes of a unit (LEAD) when 0 < gap <= 180 s; the inside
-- pieces of a moving segment (ST_Intersection with the GiST-indexed areas, pieces under
-- 1 mm are touches) map to time in proportion to length; a stationary segment counts
-- whole when its point is covered; intervals are clipped to the window, then
-- unit_seconds = their sum, presence_seconds = the length of their union per area,
-- visits = per unit, intervals at most 60 s apart merge. Not expressed: the 1 microsecond
-- threshold tolerance, Koper visits, gaps and last visit (not compared).
-- The planner prefers a sequential scan of the small areas table per segment (1,000 rows,
-- a few pages), which costs ~1,000 bounding-box tests per segment; the GiST index is what
-- a PostGIS user would have it use.
SET enable_seqscan = off;
DROP TABLE IF EXISTS pg_report;
CREATE TABLE pg_report AS
WITH f AS (
  SELECT unit, t_ms, x, y, lead(t_ms) OVER w AS t1, lead(x) OVER w AS x1, lead(y) OVER w AS y1
  FROM fixes
  WHERE t_ms >= :from - 180000 AND t_ms <= :to + 180000
  WINDOW w AS (PARTITION BY unit ORDER BY t_ms)
), seg AS (
  SELECT unit, t_ms::float8 AS t0, t1::float8 AS t1, (x = x1 AND y = y1) AS still,
         CASE WHEN x = x1 AND y = y1 THEN ST_SetSRID(ST_MakePoint(x, y), 27700)
              ELSE ST_SetSRID(ST_MakeLine(ST_MakePoint(x, y), ST_MakePoint(x1, y1)), 27700) END AS g
  FROM f
  WHERE t1 IS NOT NULL AND t1 > t_ms AND t1 - t_ms <= 180000 AND t1 > :from AND t_ms < :to
), hit AS (
  SELECT a.id, s.unit, s.t0, s.t1, s.still, s.g, a.geom
  FROM seg s CROSS JOIN LATERAL (SELECT id, geom FROM areas a WHERE ST_Intersects(a.geom, s.g)) a
), iv AS (
  SELECT id, unit, t0 AS lo, t1 AS hi FROM hit WHERE still
  UNION ALL
  SELECT h.id, h.unit,
         h.t0 + (h.t1 - h.t0) * least(ST_LineLocatePoint(h.g, ST_StartPoint(p.geom)),
                                      ST_LineLocatePoint(h.g, ST_EndPoint(p.geom))),
         h.t0 + (h.t1 - h.t0) * greatest(ST_LineLocatePoint(h.g, ST_StartPoint(p.geom)),
                                         ST_LineLocatePoint(h.g, ST_EndPoint(p.geom)))
  FROM hit h, LATERAL ST_Dump(ST_Intersection(h.geom, h.g)) p
  WHERE NOT h.still AND ST_GeometryType(p.geom) = 'ST_LineString' AND ST_Length(p.geom) >= 0.001
), c AS (
  SELECT id, unit, greatest(lo, :from) AS lo, least(hi, :to) AS hi FROM iv
  WHERE least(hi, :to) > greatest(lo, :from)
), vb AS (
  SELECT id, unit, lo,
         max(hi) OVER (PARTITION BY id, unit ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev
  FROM c
), visits AS (
  SELECT id, count(*) FILTER (WHERE prev IS NULL OR lo - prev > 60000) AS visits FROM vb GROUP BY id
), pb AS (
  SELECT id, lo, hi, max(hi) OVER (PARTITION BY id ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev
  FROM c
), pg AS (
  SELECT id, lo, hi, sum(CASE WHEN prev IS NULL OR lo > prev THEN 1 ELSE 0 END)
                       OVER (PARTITION BY id ORDER BY lo, hi ROWS UNBOUNDED PRECEDING) AS grp
  FROM pb
), pres AS (
  SELECT id, sum(e - s) AS ms FROM (SELECT id, grp, min(lo) AS s, max(hi) AS e FROM pg GROUP BY id, grp) u GROUP BY id
), us AS (
  SELECT id, sum(hi - lo) AS ms FROM c GROUP BY id
)
SELECT a.id, coalesce(us.ms, 0) / 1000 AS unit_seconds, coalesce(pres.ms, 0) / 1000 AS presence_seconds,
       coalesce(visits.visits, 0) AS visits
FROM areas a LEFT JOIN us USING (id) LEFT JOIN pres USING (id) LEFT JOIN visits USING (id);
