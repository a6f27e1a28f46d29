// The manager's reports page (/manager.html) on the real daemon: incidents
// made through the dispatch API, arrivals and a drive sent as pings, then the
// page's four tables checked against numbers worked out here from what was
// sent (response times from the incidents' creation times and the fix times,
// kilometres by Vincenty's formula, hours of the week by counting), a chart
// bar, the CSV download, and a token of the wrong role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { withPage, shot, waitInPage, ping, call, daemon } from './harness.mjs';

// Geodesic distance on WGS84 (Vincenty 1975, inverse), metres.
function vincenty(lat1, lon1, lat2, lon2) {
  const a = 6378137, f = 1 / 298.257223563, b = a * (1 - f);
  const rad = Math.PI / 180;
  const L = (lon2 - lon1) * rad;
  const U1 = Math.atan((1 - f) * Math.tan(lat1 * rad)), U2 = Math.atan((1 - f) * Math.tan(lat2 * rad));
  const sU1 = Math.sin(U1), cU1 = Math.cos(U1), sU2 = Math.sin(U2), cU2 = Math.cos(U2);
  let lambda = L, prev, sinS, cosS, sigma, cos2a, cos2sm;
  do {
    const sl = Math.sin(lambda), cl = Math.cos(lambda);
    sinS = Math.hypot(cU2 * sl, cU1 * sU2 - sU1 * cU2 * cl);
    if (sinS === 0) return 0;
    cosS = sU1 * sU2 + cU1 * cU2 * cl;
    sigma = Math.atan2(sinS, cosS);
    const sinA = (cU1 * cU2 * sl) / sinS;
    cos2a = 1 - sinA * sinA;
    cos2sm = cos2a ? cosS - (2 * sU1 * sU2) / cos2a : 0;
    const C = (f / 16) * cos2a * (4 + f * (4 - 3 * cos2a));
    prev = lambda;
    lambda = L + (1 - C) * f * sinA * (sigma + C * sinS * (cos2sm + C * cosS * (-1 + 2 * cos2sm * cos2sm)));
  } while (Math.abs(lambda - prev) > 1e-12);
  const u2 = (cos2a * (a * a - b * b)) / (b * b);
  const A = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  const B = (u2 / 1024) * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  const dS = B * sinS * (cos2sm + (B / 4) * (cosS * (-1 + 2 * cos2sm * cos2sm) - (B / 6) * cos2sm * (-3 + 4 * sinS * sinS) * (-3 + 4 * cos2sm * cos2sm)));
  return b * A * (sigma - dS);
}

const HOUR = 3600000;
const iso = (ms) => new Date(ms).toISOString();
// One shift a day, starting at the next whole UTC hour: the last 23 hours are
// all in one shift whenever the test runs.
const nextHour = (new Date().getUTCHours() + 1) % 24;
const boundary = `${String(nextHour).padStart(2, '0')}:00`;

const cells = (page, sel) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));

test('manager reports page shows the four reports with hand-worked numbers', { timeout: 110000 }, async () => {
  let managerToken = null;
  const prepare = (dataDir) => {
    managerToken = execFileSync(daemon, ['tokens', 'add', '--data-dir', dataDir, '--role', 'manager', '--name', 'browser-manager'],
      { encoding: 'utf8' }).trim();
  };
  const extra = ['--set', 'shift.timezone=UTC0', '--set', `shift.boundaries=${boundary}`, '--set', 'ingest.future_s=600'];
  await withPage('manager', () => '/manager.html', async ({ h, page }) => {
    h.tokens.manager = managerToken;
    const fixes = [];  // [unit, t] of every fix sent: the units on duty by hour
    const send = async (ps) => {
      await ping(h, ps);
      for (const p of ps) fixes.push([p.device, p.t]);
    };
    // NA24 drives 2 hours ago, 5 km south of the incidents: 20 legs north of
    // ~100 m every 10 s, 30 fixes parked with ~3 m of jitter, 20 legs east.
    const lat0 = 52.6345 - 0.045, lon0 = -1.1352;
    const drive = [];
    let t = Date.now() - 2 * HOUR;
    for (let i = 0; i <= 20; ++i, t += 10000) drive.push({ device: 'NA24', t, lat: lat0 + 0.0009 * i, lon: lon0 });
    const plat = lat0 + 0.0009 * 21;
    for (let i = 0; i < 30; ++i, t += 10000) drive.push({ device: 'NA24', t, lat: plat + (i % 2 ? 0.00003 : -0.00003), lon: lon0 });
    for (let i = 1; i <= 20; ++i, t += 10000) drive.push({ device: 'NA24', t, lat: plat, lon: lon0 + 0.0015 * i });
    await send(drive);
    // Trips: fixes 0..21 (into the first parked fix) and 50..70; the parked jitter is not mileage.
    let metres = 0;
    for (const [a, b] of [[0, 21], [50, 70]])
      for (let k = a; k < b; ++k) metres += vincenty(drive[k].lat, drive[k].lon, drive[k + 1].lat, drive[k + 1].lon);
    const km = metres / 1000;

    // NA21 and NA22 appear (auto registration) with a fix far from everything.
    await send([{ device: 'NA21', t: Date.now() - 60000, lat: 52.70, lon: -1.20 }, { device: 'NA22', t: Date.now() - 60000, lat: 52.70, lon: -1.19 }]);
    const P1 = { lat: 52.6345, lon: -1.1352 }, P2 = { lat: 52.6345, lon: -1.1202 };
    const i1 = await call(h, 'POST', '/api/v1/incidents', { grade: 1, type: 'assault', ...P1 });
    assert.equal(i1.status, 201, JSON.stringify(i1.body));
    const c1 = Date.parse(i1.body.created);
    // NA21 arrives at I1 unassigned 30 s after the call: a self-deployment.
    await send([{ device: 'NA21', t: c1 + 30000, ...P1 }]);
    const i2 = await call(h, 'POST', '/api/v1/incidents', { grade: 1, type: 'theft', ...P2 });
    assert.equal(i2.status, 201, JSON.stringify(i2.body));
    const c2 = Date.parse(i2.body.created);
    assert.equal((await call(h, 'POST', `/api/v1/incidents/${i2.body.id}/assign`, { unit: 'NA22' })).status, 200);
    // NA21 is on scene at I1: sending it too needs force (a forced deployment).
    assert.equal((await call(h, 'POST', `/api/v1/incidents/${i2.body.id}/assign`, { unit: 'NA21' })).status, 409);
    assert.equal((await call(h, 'POST', `/api/v1/incidents/${i2.body.id}/assign`, { unit: 'NA21', force: true })).status, 200);
    // NA22 arrives 90 s after the call: on scene from its own fix.
    await send([{ device: 'NA22', t: c2 + 90000, ...P2 }]);
    const responses = [30, 90];  // seconds: median 60, nearest-rank p90 = 90

    await page.evaluate((tok) => { location.hash = `token=${tok}`; location.reload(); }, managerToken);
    await waitInPage(page, () => window.__manager && window.__manager.state.loads >= 1, null, 20000, 'reports loaded');

    // Response times: grade 1 row.
    const resp = await cells(page, '#response-table');
    assert.deepEqual(resp[0], ['Grade 1', '2', '2', (60 / 60).toFixed(1), (90 / 60).toFixed(1), '100%', '0', '0', '0']);
    assert.deepEqual(resp[1].slice(0, 4), ['Grade 2', '0', '0', '']);
    assert.equal(responses.length, 2);
    assert.deepEqual(await cells(page, '#breach-table'), []);
    const bar = await page.$eval('#response-chart rect[data-label="Grade 1"]', (r) => Number(r.dataset.value));
    assert.equal(bar, 100);

    // Mileage: NA24 in the one shift, barely used (~4 km < 5 km).
    const miles = await cells(page, '#mileage-table');
    const na24 = miles.find((r) => r[0] === 'NA24');
    assert.ok(na24, JSON.stringify(miles));
    assert.ok(Math.abs(Number(na24[2]) - km) <= 0.0051, `km ${na24[2]} vs ${km}`);
    assert.equal(na24[3], String(drive.length));
    assert.equal(na24[4], '1');
    assert.equal(na24[5], ((21 * 10 + 20 * 10) / 60).toFixed(1));
    assert.equal(na24[7], 'barely used');
    // A 3 km threshold: NA24 is no longer barely used.
    await page.fill('#barely-km', '3');
    await page.dispatchEvent('#barely-km', 'change');
    await waitInPage(page, () => [...document.querySelectorAll('#mileage-table tbody tr')].some((tr) => tr.cells[0].textContent === 'NA24' && tr.cells[7].textContent === ''), null, 10000, 'NA24 not barely used at 3 km');

    // Deployments: every shift of the window is a row; only the current one had incidents.
    const dep = (await cells(page, '#deployment-table')).filter((r) => r[1] !== '0');
    assert.equal(dep.length, 1, JSON.stringify(dep));
    assert.deepEqual(dep[0].slice(1), ['2', '3', '1', '1', '1']);
    const listed = await cells(page, '#deployment-list');
    assert.deepEqual(listed.map((r) => r.slice(1)), [
      [String(i1.body.id), '1', 'NA21 (self)'],
      [String(i2.body.id), '1', 'NA22 (dispatched), NA21 (forced)'],
    ]);

    // Demand: count it here. The window is the page's (its last 7 days); a slot
    // is a UTC hour overlapping it (shift.timezone is UTC0 here).
    const a = await page.evaluate(() => window.__manager.answer('demand'));
    const from = Date.parse(a.from), to = Date.parse(a.to);
    const friSat = (ms) => [5, 6].includes(new Date(ms).getUTCDay());
    const prof = { sun_thu: [], fri_sat: [] };
    for (const k of Object.keys(prof)) for (let hr = 0; hr < 24; ++hr) prof[k].push({ slots: 0, incidents: 0, units: 0 });
    const key = (ms) => prof[friSat(ms) ? 'fri_sat' : 'sun_thu'][new Date(ms).getUTCHours()];
    for (let hs = Math.floor(from / HOUR) * HOUR; hs < to; hs += HOUR) key(hs).slots++;
    for (const c of [c1, c2]) key(c).incidents++;
    const unitHours = new Set(fixes.map(([u, ft]) => `${u} ${Math.floor(ft / HOUR)}`));
    for (const uh of unitHours) {
      const hs = Number(uh.split(' ')[1]) * HOUR;
      if (hs < to && hs + HOUR > from) key(hs).units++;  // slots are the hours overlapping the window
    }
    const fmt = (x, d) => String(Number(x.toFixed(d)));
    const want = [];
    for (let hr = 0; hr < 24; ++hr) {
      const st = prof.sun_thu[hr], fs = prof.fri_sat[hr];
      const per = (c, v, d) => fmt(c.slots ? v / c.slots : 0, d);
      want.push([`${String(hr).padStart(2, '0')}:00`, per(st, st.incidents, 2), per(st, st.units, 1), per(fs, fs.incidents, 2), per(fs, fs.units, 1)]);
    }
    assert.deepEqual(await cells(page, '#demand-table'), want);
    const dbars = await page.$$eval('#demand-chart rect[data-hour]', (rs) => rs.length);
    assert.equal(dbars, 48);
    await shot(page, 'manager');

    // CSV of the response times, through a blob.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#response button.csv')]);
    assert.equal(download.suggestedFilename(), 'response-times.csv');
    const csv = readFileSync(await download.path(), 'utf8').split('\r\n');
    assert.equal(csv[0], 'grade,incidents,attended,cancelled,pending,met,judged,median_s,p90_s,share_within_target,breaches');
    assert.equal(csv[1], '1,2,2,0,0,2,2,60,90,1,0');

    // A dispatcher token: 403, the sign-in dialog asks for another role.
    await page.evaluate((tok) => { sessionStorage.setItem('patrolmap.token', tok); location.reload(); }, h.tokens.dispatcher);
    await waitInPage(page, () => window.__manager && window.__manager.state.error === 'forbidden', null, 10000, '403');
    assert.ok(await page.$eval('#sign-in', (d) => d.open));
    assert.match(await page.textContent('#sign-in-why'), /manager, sergeant or admin/);
    assert.deepEqual(page.errors.filter((e) => !/403/.test(e)), []);
  }, { extra, prepare });
});
