// The offline basemap: with basemap.osm_file set, the page draws the daemon's
// GET /api/v1/basemap layers (roads, water, places) under the live layers and
// keeps the OpenStreetMap attribution visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withPage, shot, waitInPage, repo } from './harness.mjs';

const extract = join(process.env.PATROLMAP_DATA || join(repo, '..', 'shared', 'data'), 'osm', 'rutland-latest.osm.pbf');

test('the basemap layers are drawn from the daemon', { skip: !existsSync(extract) && `no ${extract}` }, async () => {
  await withPage('basemap', (h) => `/#token=${h.tokens.dispatcher}`, async ({ page }) => {
    await waitInPage(page, () => window.__patrolmap.feedState === 'live', null, 20000, 'live');
    await waitInPage(page, () => window.__patrolmap.layerNames().filter((n) => n.startsWith('basemap:')).length === 4,
      null, 20000, 'four basemap layers');
    const names = await page.evaluate(() => window.__patrolmap.layerNames());
    for (const l of ['basemap:roads_major', 'basemap:roads_minor', 'basemap:water', 'basemap:places'])
      assert.ok(names.includes(l), `${l} in ${names}`);
    // Live layers stay on top of it.
    assert.ok(names.indexOf('units') >= 0 && names.indexOf('incidents') >= 0);
    assert.match(await page.textContent('.ol-attribution'), /OpenStreetMap contributors/);
    await page.waitForTimeout(500);  // let the image layers draw
    await shot(page, 'basemap-rutland');
    assert.deepEqual(page.errors, []);
  }, { extra: ['--set', `basemap.osm_file=${extract}`] });
});
