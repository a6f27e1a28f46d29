// (a) The page loads from the daemon's static files, signs in from the URL
// fragment (token then gone from the URL), opens the live feed (badge "live");
// a refused token shows "signed out" and the sign-in form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, shot, waitInPage, openPage } from './harness.mjs';

test('page signs in from #token= and the feed goes live', async () => {
  await withPage('live-feed', (h) => `/#token=${h.tokens.dispatcher}`, async ({ h, page }) => {
    // Static files: types and caching as the daemon serves them, no token needed.
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/app.css', 'text/css']]) {
      const res = await fetch(h.base + path);
      assert.equal(res.status, 200, path);
      assert.ok(res.headers.get('content-type').startsWith(type), `${path}: ${res.headers.get('content-type')}`);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
    }
    assert.equal((await fetch(h.base + '/%2e%2e/%2e%2e/etc/passwd')).status, 404);
    assert.equal((await fetch(h.base + '/api/v1/units')).status, 401);

    await waitInPage(page, () => document.getElementById('feed-badge').dataset.state === 'live', null, 15000, 'badge live');
    assert.equal(await page.textContent('#feed-badge'), 'live');
    assert.equal(await page.evaluate(() => window.__patrolmap.feedState), 'live');
    assert.ok(await page.evaluate(() => window.__patrolmap.seq) >= 1, 'snapshot seq');
    // The token left the visible URL but stays for this tab.
    assert.ok(!page.url().includes('token'), page.url());
    assert.equal(await page.evaluate(() => sessionStorage.getItem('patrolmap.token')), h.tokens.dispatcher);
    // The map rendered a canvas and shows the OSM attribution.
    assert.ok(await page.locator('#map canvas').count() >= 1);
    assert.match(await page.textContent('.ol-attribution'), /OpenStreetMap/);
    await shot(page, 'a-live-feed');

    // A reload keeps the session (sessionStorage) and goes live again.
    await page.reload();
    await waitInPage(page, () => document.getElementById('feed-badge').dataset.state === 'live', null, 15000, 'badge live after reload');
    assert.deepEqual(page.errors, []);
  });
});

test('a refused token shows signed out and the sign-in form', async () => {
  await withPage('signed-out', '/#token=pm_not_a_real_token', async ({ h, page }) => {
    await waitInPage(page, () => document.getElementById('feed-badge').dataset.state === 'signed_out', null, 15000, 'badge signed out');
    assert.equal(await page.textContent('#feed-badge'), 'signed out');
    assert.ok(await page.locator('#sign-in[open]').isVisible());
    await shot(page, 'a-signed-out');
    // Signing in with a good token from the form recovers.
    await page.fill('#sign-in-token', h.tokens.dispatcher);
    await page.click('#sign-in-form button[type=submit]');
    await waitInPage(page, () => document.getElementById('feed-badge').dataset.state === 'live', null, 15000, 'live after sign-in');
  });
});
