// The replay page (/replay.html) on the real daemon: two units on straight
// lines at known speeds (one with a 5-minute tracking gap, one standing still
// for 5 minutes in a hot spot), a third unit tracked only before the window,
// an incident created during the test. The window is chosen in the page, the
// slider moved to chosen instants, and the markers, trails, stop, incident
// and coverage compared with values worked out below from the fixes sent
// (straight lines, so the position at any instant is arithmetic), never read
// back from the daemon. Speed: the page's clock is sampled while playing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, shot, waitInPage, ping, call, pixelColour, minutesIntoShift } from './harness.mjs';

const S = 1000;
const MIN = 60 * S;
// B: the window's start, on a whole minute 30 minutes ago (the custom window
// inputs have minute precision); the window runs 33 minutes, past the incident
// created at the start of the test.
const B = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
const WINDOW = { from: B, to: B + 33 * MIN };

// RA: east along lat 52.67 from lon -0.74, 0.001 degrees every 10 s (~6.8 m/s),
// fixes from B+60 s to B+600 s; nothing for 300 s (> max_gap_s 180: not
// tracked); again from B+900 s to B+1200 s, starting 0.02 degrees further east.
const RA = { lat: 52.67 };
const raLon = (s) => (s <= 600 ? -0.74 + 0.001 * (s - 60) / 10 : -0.74 + 0.054 + 0.02 + 0.001 * (s - 900) / 10);
// RB: north along lon -0.72 from lat 52.66, 0.0006 degrees every 10 s (~6.7 m/s)
// from B to B+300 s, standing at P (lat 52.678) from B+300 s to B+600 s (a stop:
// every fix within 30 m for 300 s >= 120 s, the fixes either side 67 m away),
// then north again until B+900 s.
const RB = { lon: -0.72 };
const P = 52.66 + 0.0006 * 30;
const rbLat = (s) => (s <= 300 ? 52.66 + 0.0006 * s / 10 : s <= 600 ? P : P + 0.0006 * (s - 600) / 10);
// The hot spot around P: +-0.0005 degrees of latitude. RB enters it 0.0005 /
// 0.0006 x 10 s = 8.333 s before reaching P and leaves 8.333 s after setting off.
const H = { id: 'H9', name: 'Stop corner', half: 0.0005 };
const ENTER = 300 - 0.0005 / 0.0006 * 10;
const LEAVE = 600 + 0.0005 / 0.0006 * 10;

function fixes() {
  const out = [];
  for (let s = 60; s <= 1200; s += 10) if (s <= 600 || s >= 900) out.push({ device: 'RA', t: B + s * S, lat: RA.lat, lon: raLon(s) });
  for (let s = 0; s <= 900; s += 10) out.push({ device: 'RB', t: B + s * S, lat: rbLat(s), lon: RB.lon });
  // RC: tracked an hour before the window only.
  for (let s = 0; s <= 300; s += 10) out.push({ device: 'RC', t: B - 60 * MIN + s * S, lat: 52.65, lon: -0.71 });
  return out;
}

const at = (s) => B + s * S;
// Moves the slider as a user would (its value is seconds from the window's start).
async function slide(page, ms) {
  await page.evaluate((v) => {
    const el = document.getElementById('slider');
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, Math.round((ms - WINDOW.from) / S));
  return page.evaluate(() => window.__replay.state.timeMs);
}
const positions = (page) => page.evaluate(() => window.__replay.positions());
const near = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

// The page's clock rate while playing: simulated ms per wall ms over `ms`.
const rate = (page, ms) => page.evaluate(async (wait) => {
  const a = [window.__replay.state.timeMs, performance.now()];
  await new Promise((r) => setTimeout(r, wait));
  const b = [window.__replay.state.timeMs, performance.now()];
  return (b[0] - a[0]) / (b[1] - a[1]);
}, ms);

test('the replay page: window, slider positions, gaps, trails, stop, incident, coverage, speed, follow', async () => {
  await withPage('replay', (h) => `/replay.html?center=-0.72,52.672&zoom=14#token=${h.tokens.sergeant}`, async ({ h, page }) => {
    const square = (lon, lat, dx, dy) => ({ type: 'Polygon',
      coordinates: [[[lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]]] });
    const areas = await call(h, 'POST', '/api/v1/areas', { type: 'FeatureCollection', features: [
      { type: 'Feature', geometry: square(RB.lon, P, 0.0008, H.half), properties: { id: H.id, name: H.name, kind: 'hotspot' } }] }, 'sergeant');
    assert.equal(areas.status, 200, JSON.stringify(areas.body));
    await ping(h, fixes());
    // The live accounting takes the fixes after the store commits them: wait
    // until it has RB's visit (only to synchronise; the figures are checked below).
    const visitsUrl = `/api/v1/reports/coverage/visits?area=${H.id}&from=${new Date(WINDOW.from).toISOString()}&to=${new Date(WINDOW.to).toISOString()}`;
    for (let i = 0; i < 100 && (await call(h, 'GET', visitsUrl, undefined, 'sergeant')).body.visits.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const created = await call(h, 'POST', '/api/v1/incidents', { grade: 1, type: 'assault', lat: 52.668, lon: -0.725 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const incident = created.body.id;
    const C = Date.parse(created.body.created);
    assert.ok(C > WINDOW.from + 30 * MIN && C < WINDOW.to - MIN, 'the incident lies in the window');

    // Choose the window: custom from/to (local time, as typed), all units.
    await waitInPage(page, () => document.querySelectorAll('#shift option[value=custom]').length === 1, null, 15000, 'the shifts');
    await page.selectOption('#shift', 'custom');
    await page.evaluate(([from, to]) => {
      const local = (ms) => {
        const d = new Date(ms);
        const p = (n) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      };
      for (const [id, v] of [['from', from], ['to', to]]) {
        const el = document.getElementById(id);
        el.value = local(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }
    }, [WINDOW.from, WINDOW.to]);
    await page.click('#load');
    await waitInPage(page, () => window.__replay.state.load === 'ready', null, 20000, 'the window loaded');
    const st = await page.evaluate(() => window.__replay.state);
    assert.equal(Date.parse(st.from), WINDOW.from);
    assert.equal(Date.parse(st.to), WINDOW.to);
    assert.equal(st.timeMs, WINDOW.from, 'starts at the window start');
    assert.equal(st.maxGapS, 180);
    // Every unit with a track in the window, and only those (RC was tracked before it).
    const units = await page.evaluate(() => window.__replay.units());
    assert.deepEqual(units.map((u) => [u.id, u.fixCount]).sort(), [['RA', 55 + 31], ['RB', 91]]);

    // Positions at chosen instants, against the straight lines above.
    const expectAt = async (s, want) => {
      const t = await slide(page, at(s));
      assert.equal(t, at(s));
      const got = await positions(page);
      for (const [id, w] of Object.entries(want)) {
        if (w === null) {
          assert.equal(got[id], null, `${id} hidden at B+${s} s`);
          continue;
        }
        assert.ok(got[id], `${id} drawn at B+${s} s`);
        near(got[id].lon, w[0], 2e-7, `${id} lon at B+${s} s`);
        near(got[id].lat, w[1], 2e-7, `${id} lat at B+${s} s`);
      }
      return got;
    };
    await expectAt(30, { RA: null, RB: [RB.lon, rbLat(30)] });             // RA not yet tracked
    await expectAt(125, { RA: [raLon(125), RA.lat], RB: [RB.lon, rbLat(125)] });  // between fixes
    await expectAt(450, { RA: [raLon(450), RA.lat], RB: [RB.lon, P] });    // RB stopped
    await expectAt(700, { RA: null, RB: [RB.lon, rbLat(700)] });           // RA's gap (300 s > 180 s)
    await expectAt(1003, { RA: [raLon(1003), RA.lat], RB: null });         // RB's track has ended
    // The server answers the same instant the same way (GET /api/v1/positions).
    const server = await call(h, 'GET', `/api/v1/positions?at=${new Date(at(125)).toISOString()}`, undefined, 'sergeant');
    assert.equal(server.status, 200, JSON.stringify(server.body));
    const ra = server.body.units.find((u) => u.unit === 'RA');
    near(ra.lon, raLon(125), 1e-6, 'server RA lon');
    near(ra.lat, RA.lat, 1e-6, 'server RA lat');

    // Trails: at B+1003 s RA's last 5 minutes reach back into its gap. Six 50 s
    // pieces, newest first: 953-1003 s (fixes 960-1000 and both ends: 7 points),
    // 903-953 s (7), 853-903 s (the fix at 900 and the end at 903: 2), then
    // nothing (not tracked 600-900 s).
    const pieces = await page.evaluate(() => window.__replay.trailPoints('RA'));
    assert.deepEqual(pieces, [7, 7, 2, 0, 0, 0], 'no trail across the gap');
    await slide(page, at(450));
    assert.ok((await page.evaluate(() => window.__replay.trailPoints('RA'))).every((n) => n >= 2), 'a full trail while tracked');

    // The marker is drawn where the map puts RA's hand-computed position (trails off).
    await page.selectOption('#trail', '0');
    await page.waitForTimeout(300);
    const px = await page.evaluate(([lon, lat]) => window.__replay.pixelFor(lon, lat), [raLon(450), RA.lat]);
    const colour = await pixelColour(page, px);
    assert.ok(colour && Math.abs(colour[0] - 0x55) < 12 && Math.abs(colour[1] - 0x55) < 12 && Math.abs(colour[2] - 0x55) < 12,
      `RA's marker at ${px}: ${colour}`);
    await page.selectOption('#trail', '5');

    // The stop: RB from B+300 s to B+600 s at P, a marker active during it.
    const stopAt = async (s) => {
      await slide(page, at(s));
      return (await page.evaluate(() => window.__replay.stops())).filter((x) => x.unit === 'RB');
    };
    let stops = await stopAt(450);
    assert.equal(stops.length, 1, JSON.stringify(stops));
    assert.equal(Date.parse(stops[0].start), at(300));
    assert.equal(Date.parse(stops[0].end), at(600));
    assert.equal(stops[0].duration_s, 300);
    near(stops[0].lat, P, 2e-7, 'stop lat');
    near(stops[0].lon, RB.lon, 2e-7, 'stop lon');
    assert.equal(stops[0].phase, 'active');
    assert.equal((await stopAt(200))[0].phase, 'future');
    assert.equal((await stopAt(700))[0].phase, 'past');
    assert.deepEqual((await page.evaluate(() => window.__replay.stops())).filter((x) => x.unit === 'RA'), [], 'RA never stops');
    assert.ok((await page.evaluate(() => window.__replay.layerNames())).includes('stops'));

    // Coverage of the hot spot builds up: nobody before RB enters, then the
    // time since it entered, then the whole visit.
    const coverage = async (s) => {
      await slide(page, at(s));
      return (await page.evaluate(() => window.__replay.coverage())).find((a) => a.id === H.id);
    };
    // The shades are the sergeant's page's blue scale: none, then under 15 minutes.
    const fill = (id) => page.evaluate((x) => window.__replay.areaFill(x), id);
    assert.deepEqual(await coverage(200), { id: H.id, name: H.name, seconds: 0, visits: 0 });
    assert.equal(await fill(H.id), 'rgba(222,235,247,0.6)');
    let c = await coverage(450);
    assert.equal(c.visits, 1);
    near(c.seconds, 450 - ENTER, 0.5, 'presence at B+450 s');
    assert.equal(await fill(H.id), 'rgba(158,202,225,0.65)');
    c = await coverage(1500);
    near(c.seconds, LEAVE - ENTER, 0.5, 'presence after the visit');
    assert.equal(await page.$eval(`#coverage-table tr[data-id="${H.id}"] td:nth-child(3)`, (td) => td.textContent),
      ((LEAVE - ENTER) / 60).toFixed(1));

    // The incident appears at its creation time.
    await slide(page, C - 30 * S);
    assert.deepEqual(await page.evaluate(() => window.__replay.incidents()), []);
    await slide(page, C + 30 * S);
    assert.deepEqual(await page.evaluate(() => window.__replay.incidents()), [incident]);
    assert.equal(await page.$$eval('#incident-list li', (lis) => lis.map((li) => Number(li.dataset.id))).then((x) => x.join()), String(incident));

    // Step: one minute forward and back.
    await slide(page, at(450));
    await page.selectOption('#step', '60');
    await page.click('#step-fwd');
    assert.equal(await page.evaluate(() => window.__replay.state.timeMs), at(510));
    await page.click('#step-back');
    await page.click('#step-back');
    assert.equal(await page.evaluate(() => window.__replay.state.timeMs), at(390));

    // Speed: 1x plays in real time, 60x sixty times as fast; pause stops the clock.
    await slide(page, at(60));
    await page.selectOption('#speed', '1');
    await page.click('#play');
    assert.equal(await page.evaluate(() => window.__replay.state.playing), true);
    const r1 = await rate(page, 1500);
    near(r1, 1, 0.05, 'rate at 1x');
    await page.selectOption('#speed', '60');
    const r60 = await rate(page, 1500);
    near(r60, 60, 3, 'rate at 60x');
    // The markers move with the clock (RA eastwards, RB northwards).
    const p1 = await positions(page);
    await page.waitForTimeout(500);
    const p2 = await positions(page);
    assert.ok(p2.RA.lon > p1.RA.lon && p2.RB.lat > p1.RB.lat, `moving: ${JSON.stringify([p1, p2])}`);
    const slider1 = Number(await page.$eval('#slider', (el) => el.value));
    assert.ok(slider1 > 60, `the slider follows the clock (${slider1})`);
    await page.click('#play');  // pause
    const paused = await page.evaluate(() => window.__replay.state);
    assert.equal(paused.playing, false);
    await page.waitForTimeout(400);
    assert.equal(await page.evaluate(() => window.__replay.state.timeMs), paused.timeMs);

    // Follow RB: the map's centre is its position.
    await page.selectOption('#follow', 'RB');
    await slide(page, at(250));
    const centre = await page.evaluate(() => window.__replay.center());
    near(centre[0], RB.lon, 1e-6, 'centre lon');
    near(centre[1], rbLat(250), 1e-6, 'centre lat');
    assert.equal(await page.$eval('#unit-list li.following', (li) => li.dataset.unit), 'RB');
    await slide(page, at(450));  // RB at its stop, in the hot spot
    await page.waitForTimeout(300);
    await shot(page, 'replay');

    // Units typed: only RA.
    await page.fill('#units', 'RA');
    const loads = await page.evaluate(() => window.__replay.state.loads);
    await page.click('#load');
    await waitInPage(page, (n) => window.__replay.state.loads > n && window.__replay.state.load === 'ready', loads, 20000, 'RA alone');
    assert.deepEqual((await page.evaluate(() => window.__replay.units())).map((u) => u.id), ['RA']);
    assert.equal(await page.evaluate(() => window.__replay.state.following), null, 'RB is not loaded: nobody followed');

    // A shift instead: the running one (07:00, 14:00 or 22:00 UK time, worked
    // out here) up to now.
    const shiftStart = () => Math.floor(Date.now() / MIN) * MIN - minutesIntoShift(new Date()) * MIN;
    const before = shiftStart();
    const loads2 = await page.evaluate(() => window.__replay.state.loads);
    await page.selectOption('#shift', 'current');
    await waitInPage(page, (n) => window.__replay.state.loads > n && window.__replay.state.load === 'ready', loads2, 20000, 'the current shift');
    const shift = await page.evaluate(() => window.__replay.state);
    assert.ok([before, shiftStart()].includes(Date.parse(shift.from)), `shift from ${shift.from}`);
    assert.ok(Math.abs(Date.parse(shift.to) - Date.now()) < 30 * S, `shift up to now: ${shift.to}`);

    // A link with the window, units and kind opens loaded (the token stays in the tab).
    const f2 = new Date(at(290)).toISOString(), t2 = new Date(at(615)).toISOString();
    await page.goto(`${h.base}/replay.html?from=${f2}&to=${t2}&units=RB&kind=none`);
    await waitInPage(page, () => window.__replay.state.load === 'ready', null, 20000, 'the linked window');
    const linked = await page.evaluate(() => window.__replay.state);
    assert.deepEqual([linked.from, linked.to, linked.timeMs], [f2, t2, at(290)]);
    assert.deepEqual(await page.evaluate(() => window.__replay.units()), [{ id: 'RB', fixes: 33, fixCount: 33, stops: 1, shown: true }]);
    assert.deepEqual(await page.evaluate(() => window.__replay.coverage()), []);
    assert.equal(await page.$eval('#shift', (s) => s.value), 'custom');
    assert.deepEqual(page.errors, []);
  });
});
