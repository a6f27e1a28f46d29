// The demo as `make demo` runs it: --demo with the Rutland parishes, hot spots
// proposed from the crime file by tools/hotspots, the road network, the
// offline basemap and the simulated fleet (patrolsim, real channels). The
// page shows the fleet, the areas and the basemap; the screenshot is the
// README's (docs/images/demo.png is copied from it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withPage, shot, waitInPage, call, repo, daemon } from './harness.mjs';

const data = process.env.PATROLMAP_DATA || join(repo, '..', 'shared', 'data');
const crime = join(data, 'crime', '2022-10-leicestershire-street.csv');
const extract = join(data, 'osm', 'rutland-latest.osm.pbf');
const tools = dirname(daemon);
const missing = [crime, extract, join(tools, 'patrolsim'), join(tools, 'hotspots')].find((f) => !existsSync(f));

test('the demo: a simulated shift in Rutland on the offline map', { skip: missing && `no ${missing}` }, async () => {
  const prepare = (dataDir) =>
    execFileSync(join(tools, 'hotspots'), ['--crime', crime, '--bbox', '-0.85,52.52,-0.39,52.77', '--min-per-year', '36',
      '--out', join(dataDir, 'hotspots.geojson')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await withPage('demo', (h) => `/?center=-0.66,52.64&zoom=11#token=${h.tokens.dispatcher}`, async ({ h, page }) => {
    await waitInPage(page, () => window.__patrolmap.feedState === 'live', null, 20000, 'live');
    // 28-30 of the scenario's 30 units are on shift; vehicles ping every 5 s, radios every 30-60 s.
    await waitInPage(page, () => window.__patrolmap.unitCount >= 20, null, 60000, '20 simulated units on the map');
    const names = await page.evaluate(() => window.__patrolmap.layerNames());
    assert.ok(names.includes('areas'), `areas layer in ${names}`);
    assert.equal(names.filter((n) => n.startsWith('basemap:')).length, 4);
    const areas = await call(h, 'GET', '/api/v1/areas');
    const kinds = {};
    for (const f of areas.body.features) kinds[f.properties.kind] = (kinds[f.properties.kind] || 0) + 1;
    assert.equal(kinds.neighbourhood, 57, JSON.stringify(kinds));
    assert.ok(kinds.hotspot >= 5, JSON.stringify(kinds));
    // An incident at a hot spot, so the picture has one with its recommendations' method.
    const spot = areas.body.features.find((f) => f.properties.kind === 'hotspot');
    const [lon, lat] = spot.geometry.coordinates[0][0];
    const created = await call(h, 'POST', '/api/v1/incidents', { grade: 2, type: 'asb', lat, lon, address: spot.properties.name });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.ok(created.body.recommendations.length > 0);
    assert.equal(created.body.recommendations[0].method, 'road', 'drive-time ETAs on the Rutland roads');
    await waitInPage(page, () => window.__patrolmap.incidentCount >= 1, null, 10000, 'the incident on the map');
    await page.waitForTimeout(1500);  // let the image layers draw
    await shot(page, 'demo');
    assert.deepEqual(page.errors, []);
  }, { extra: ['--demo'], prepare });
});
