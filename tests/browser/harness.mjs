// Browser-test harness: starts the real patrolmapd on free ports with a
// temporary data directory and the built web/dist, opens headless Chromium
// (Debian's /usr/bin/chromium through playwright-core), and cleans both up
// even when the test fails.
//
//   const h = await startDaemon();                 // h.base, h.tokens.dispatcher, .gateway, .sergeant
//   const { browser, page } = await openPage(h, '/#token=' + h.tokens.dispatcher);
//   ... await shot(page, 'name');
//   await closeAll(browser, h);
//
// Environment (set by tests/browser/CMakeLists.txt): PATROLMAPD (the daemon; the
// tools built beside it, patrolsim and hotspots, are found next to it),
// PATROLMAP_REPO (source tree), PATROLMAP_SCREENSHOTS (where *.png go),
// CHROMIUM (default /usr/bin/chromium).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = process.env.PATROLMAP_REPO || resolve(here, '..', '..');
export const daemon = process.env.PATROLMAPD || join(repo, 'build', 'release', 'bin', 'patrolmapd');
const screenshots = process.env.PATROLMAP_SCREENSHOTS || join(repo, 'build', 'artifacts', 'screenshots');
// playwright-core is a devDependency of web/ (npm ci there installs it).
const { chromium } = createRequire(join(repo, 'web', 'package.json'))('playwright-core');

export async function startDaemon({ extra = [], prepare = null } = {}) {
  const webRoot = join(repo, 'web', 'dist');
  if (!existsSync(join(webRoot, 'index.html'))) throw new Error(`${webRoot}/index.html missing: run make web`);
  const dataDir = mkdtempSync(join(tmpdir(), 'patrolmap-browser-'));
  // Tokens go into the store before the daemon opens it.
  const token = (role) =>
    execFileSync(daemon, ['tokens', 'add', '--data-dir', dataDir, '--role', role, '--name', `browser-${role}`], { encoding: 'utf8' }).trim();
  const tokens = { dispatcher: token('dispatcher'), gateway: token('gateway'), sergeant: token('sergeant') };
  if (prepare) prepare(dataDir);  // files the daemon reads at start (the demo's hot spots)
  const args = ['--listen', '127.0.0.1:0', '--nmea-listen', '127.0.0.1:0', '--lip-listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--set', `http.web_root=${webRoot}`, '--set', 'ingest.registration=auto', ...extra];
  const proc = spawn(daemon, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const h = { proc, dataDir, tokens, stderr: () => stderr };
  try {
    const port = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('patrolmapd did not print its http port within 30 s\n' + stderr)), 30000);
      proc.on('exit', (code) => rej(new Error(`patrolmapd exited with ${code}\n${stderr}`)));
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const m = /^listening http 127\.0\.0\.1:(\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
    });
    h.base = `http://127.0.0.1:${port}`;
  } catch (e) {
    await stopDaemon(h);
    throw e;
  }
  return h;
}

export async function stopDaemon(h) {
  if (!h) return;
  let clean = true;
  if (h.proc && h.proc.exitCode === null && h.proc.signalCode === null) {
    const exited = new Promise((r) => h.proc.once('exit', (code, signal) => r({ code, signal })));
    h.proc.kill('SIGTERM');
    const t = setTimeout(() => h.proc.kill('SIGKILL'), 10000);
    const { code, signal } = await exited;
    clearTimeout(t);
    clean = code === 0 && signal === null;
  } else if (h.proc) {
    clean = false;  // it died before we asked it to stop
  }
  if (h.dataDir) rmSync(h.dataDir, { recursive: true, force: true });
  return clean;
}

export async function openPage(h, path, { width = 1400, height = 900 } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    headless: true,
  });
  const page = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Script errors fail a test; a failed request is logged by Chromium as a
  // console error too, and optional endpoints (basemap, areas) answer 404.
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  page.errors = errors;
  await page.goto(h.base + path);
  return { browser, page };
}

export async function shot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  const file = join(screenshots, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`screenshot ${file}`);
  return file;
}

// Runs `body` with a daemon and a page, always cleaning up; screenshots the
// page as <name>-failure.png when the body throws.
export async function withPage(name, path, body, opts = {}) {
  let h, browser, page, failedStop = false;
  try {
    h = await startDaemon(opts);
    ({ browser, page } = await openPage(h, typeof path === 'function' ? path(h) : path));
    await body({ h, page });
  } catch (e) {
    if (page) await shot(page, `${name}-failure`).catch(() => {});
    if (h) console.error('patrolmapd stderr (tail):\n' + h.stderr().slice(-3000));
    if (page && page.errors.length) console.error('page errors:\n' + page.errors.join('\n'));
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    // A daemon that does not stop cleanly (sanitizer report, crash) fails the test.
    if (!(await stopDaemon(h)) && h) {
      console.error('patrolmapd stderr (tail):\n' + h.stderr().slice(-3000));
      failedStop = true;
    }
  }
  if (failedStop) throw new Error('patrolmapd did not exit cleanly on SIGTERM');
}

// POST /api/v1/pings with a gateway token; throws unless everything is accepted.
export async function ping(h, pings) {
  const res = await fetch(h.base + '/api/v1/pings', {
    method: 'POST',
    headers: { Authorization: `Bearer ${h.tokens.gateway}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(pings),
  });
  const body = await res.json();
  if (res.status !== 202 || body.accepted !== (Array.isArray(pings) ? pings.length : 1))
    throw new Error(`pings not accepted: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function call(h, method, path, body, role = 'dispatcher') {
  const res = await fetch(h.base + path, {
    method,
    headers: { Authorization: `Bearer ${h.tokens[role]}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// Polls `f` in the page until it returns a truthy value (or throws after `ms`).
export async function waitInPage(page, f, arg, ms = 10000, what = 'condition') {
  try {
    return await page.waitForFunction(f, arg, { timeout: ms, polling: 100 });
  } catch (e) {
    throw new Error(`timed out after ${ms} ms waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

// The first non-transparent pixel the map's canvases hold at a map pixel.
export const pixelColour = (page, xy) => page.evaluate(([x, y]) => {
  const map = document.getElementById('map').getBoundingClientRect();
  for (const c of document.querySelectorAll('#map canvas')) {
    const r = c.getBoundingClientRect();
    const k = c.width / r.width;
    const d = c.getContext('2d').getImageData(Math.round((x + map.left - r.left) * k), Math.round((y + map.top - r.top) * k), 1, 1).data;
    if (d[3] > 0) return [...d];
  }
  return null;
}, xy);

// Minutes since the current shift began (07:00, 14:00, 22:00 UK time), worked
// out here from the clock, independently of the daemon's shift code.
export function minutesIntoShift(now) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .formatToParts(now).map((p) => [p.type, p.value]));
  const m = Number(parts.hour) * 60 + Number(parts.minute);
  if (m >= 22 * 60) return m - 22 * 60;
  if (m >= 14 * 60) return m - 14 * 60;
  if (m >= 7 * 60) return m - 7 * 60;
  return m + 120;
}
