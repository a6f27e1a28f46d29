// Bundles the pages into dist/ (served by patrolmapd from http.web_root):
// the dispatcher's dist/index.html, dist/app.js, dist/app.css (the page's CSS and
// OpenLayers' ol.css) and the sergeant's dist/sergeant.html, dist/sergeant.js,
// dist/sergeant.css, the manager's dist/manager.html, dist/manager.js,
// dist/manager.css, and the replay page's dist/replay.html, dist/replay.js,
// dist/replay.css. Shared modules are bundled into each page.
//   npm run build            one build
//   node build.mjs --watch   rebuild on change
//   NO_MINIFY=1 npm run build   readable output (profiling)
import * as esbuild from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const watch = process.argv.includes('--watch');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
for (const page of ['index.html', 'sergeant.html', 'manager.html', 'replay.html']) await copyFile(join(here, 'src', page), join(dist, page));

const options = {
  entryPoints: {
    app: join(here, 'src', 'main.js'),
    sergeant: join(here, 'src', 'sergeant.js'),
    manager: join(here, 'src', 'manager.js'),
    replay: join(here, 'src', 'replay.js'),
  },
  outdir: dist,
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: !watch && !process.env.NO_MINIFY,
  sourcemap: true,
  legalComments: 'eof',
  logLevel: 'info',
};
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
