// (b) Units appear where their pings put them, drawn at that spot (hit
// detection on the rendered map), coloured by status; and move when new pings
// arrive (needs the server's live deltas, SPEC section 6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, shot, waitInPage, ping, call } from './harness.mjs';

const T0 = Date.now() - 60000;
const FLEET = [
  { device: 'NA21', lat: 52.6703, lon: -0.7277, heading_deg: 90, speed_mps: 8 },   // Oakham
  { device: 'NA22', lat: 52.6563, lon: -0.4836, heading_deg: 200, speed_mps: 12 }, // Stamford road
  { device: 'NA23', lat: 52.5893, lon: -0.7222 },                                  // Uppingham, no heading
];

test('units appear at their positions and move with new pings', async (t) => {
  await withPage('units', (h) => `/?center=-0.62,52.64&zoom=11#token=${h.tokens.dispatcher}`, async ({ h, page }) => {
    await ping(h, FLEET.map((u, i) => ({ ...u, t: T0 + i })));
    // NA22 is unavailable: its colour differs (grey), checked through its status.
    assert.equal((await call(h, 'POST', '/api/v1/units/NA22/status', { status: 'unavailable' })).status, 200);
    await page.reload();  // the snapshot carries what was there before the page
    await waitInPage(page, () => window.__patrolmap.feedState === 'live' && window.__patrolmap.unitCount === 3, null, 15000, '3 units');
    const box = await page.locator('#map').boundingBox();
    for (const u of FLEET) {
      const got = await page.evaluate((id) => window.__patrolmap.unit(id), u.device);
      assert.ok(got, `unit ${u.device} on the page`);
      assert.ok(Math.abs(got.lat - u.lat) < 1e-6 && Math.abs(got.lon - u.lon) < 1e-6, `${u.device} at ${got.lat},${got.lon}`);
      const px = await page.evaluate((id) => window.__patrolmap.unitPixel(id), u.device);
      assert.ok(px[0] > 0 && px[1] > 0 && px[0] < box.width && px[1] < box.height, `${u.device} inside the map at ${px}`);
      // The map really draws it there: hit detection on the rendered styles.
      const hits = await page.evaluate(([x, y]) => window.__patrolmap.hitAt(x, y), px);
      assert.ok(hits.some((x) => x.kind === 'unit' && x.id === u.device), `${u.device} drawn at ${px}: ${JSON.stringify(hits)}`);
    }
    assert.equal((await page.evaluate(() => window.__patrolmap.unit('NA22'))).status, 'unavailable');
    assert.equal((await page.evaluate(() => window.__patrolmap.unit('NA21'))).heading_deg, 90);
    await shot(page, 'b-units');

    await t.test('a new ping moves the unit on the open page', async (st) => {
      const to = { device: 'NA21', lat: 52.6750, lon: -0.7100, heading_deg: 45, speed_mps: 10, t: Date.now() - 1000 };
      await ping(h, to);
      try {
        await waitInPage(page, (p) => {
          const u = window.__patrolmap.unit('NA21');
          return u && Math.abs(u.lat - p.lat) < 1e-6 && Math.abs(u.lon - p.lon) < 1e-6;
        }, to, 8000, 'NA21 moved');
      } catch (e) {
        if ((await page.evaluate(() => window.__patrolmap.deltas)) === 0) {
          // The server sends only the snapshot until deltas are wired (docs/api.md, Live feed).
          st.todo('pending: the server sends no live deltas yet');
          return;
        }
        throw e;
      }
      const px = await page.evaluate(() => window.__patrolmap.unitPixel('NA21'));
      const hits = await page.evaluate(([x, y]) => window.__patrolmap.hitAt(x, y), px);
      assert.ok(hits.some((x) => x.id === 'NA21'), 'NA21 drawn at its new place');
      await shot(page, 'b-units-moved');
    });

    // Thousands of units stay smooth: one layer, features moved in place,
    // cached styles. Software rendering in headless Chromium, so the bound is loose.
    const N = 3000;
    const rng = mulberry32(20261122);
    console.log('seed 20261122');
    const fleet = Array.from({ length: N }, (_, i) => ({
      device: `LOAD${i}`, t: Date.now() - 2000, lat: 52.56 + rng() * 0.18, lon: -0.80 + rng() * 0.32,
      heading_deg: Math.floor(rng() * 360), speed_mps: rng() * 20,
    }));
    for (let i = 0; i < N; i += 1000) await ping(h, fleet.slice(i, i + 1000));
    await page.reload();
    await waitInPage(page, (n) => window.__patrolmap.unitCount >= n, N + 3, 30000, `${N + 3} units`);
    await page.evaluate(() => window.__patrolmap.measurePan(5));  // warm up
    const msZoomedOut = await page.evaluate(() => window.__patrolmap.measurePan(30));
    console.log(`render with ${N + 3} units: ${msZoomedOut.toFixed(1)} ms per frame`);
    assert.ok(msZoomedOut < 200, `${msZoomedOut} ms per frame`);
    await shot(page, 'b-units-3000');
    assert.deepEqual(page.errors, []);
  });
});

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
