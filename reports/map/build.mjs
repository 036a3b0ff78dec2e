// Bundles the planner's map libraries into reports/assets, where the reports crate embeds them
// in every map page (so a page opened from disk makes no request, and building the twin needs
// no npm). Run `npm ci && node build.mjs` after changing package.json; CI runs it and fails if
// the committed files differ from what it builds.
import * as esbuild from 'esbuild';
import {readFileSync, writeFileSync, existsSync} from 'node:fs';
import {dirname, join} from 'node:path';

const assets = join(import.meta.dirname, '..', 'assets');
const modules = join(import.meta.dirname, 'node_modules');

const result = await esbuild.build({
  entryPoints: [join(import.meta.dirname, 'vendor.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  // deck.gl's build without WebGPU: the page draws with WebGL only.
  conditions: ['visgl:webgl-only'],
  legalComments: 'none',
  metafile: true,
  write: false,
  logLevel: 'warning',
});

// Every package the bundle took code from, with its version and licence text.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.add(m[1]);
}
packages.add('maplibre-gl');
const licences = [...packages].sort().map((name) => {
  const dir = join(modules, name);
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'LICENCE'].map((f) => join(dir, f)).find(existsSync);
  const text = file ? readFileSync(file, 'utf8').trim() : `(no licence file in the package; package.json says ${meta.license})`;
  return `== ${name} ${meta.version} (${meta.license})\n\n${text}\n`;
});

const banner = (what) =>
  `/* ${what}: bundled by reports/map/build.mjs from npm packages; their licences are in reports/assets/MAP-LICENSES.txt. */\n`;
const noScriptEnd = (text, file) => {
  // "</script" would end the page's script element early, and "<!--" can stop a later one ending.
  if (/<\/script|<!--/i.test(text)) throw new Error(`${file} holds "</script" or "<!--", unsafe inside a script element`);
  return text;
};
const vendor = noScriptEnd(result.outputFiles[0].text, 'map-vendor.js');
const workerPath = join(modules, 'maplibre-gl', 'dist', 'maplibre-gl-worker.mjs');
const worker = noScriptEnd(readFileSync(workerPath, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'), 'maplibre-gl-worker.mjs');

writeFileSync(join(assets, 'map-vendor.js'), banner('MapLibre GL JS and deck.gl (MapboxOverlay, TripsLayer, ScatterplotLayer)') + vendor);
writeFileSync(join(assets, 'maplibre-gl-worker.js'), banner("MapLibre GL JS's worker") + worker);
writeFileSync(join(assets, 'maplibre-gl.css'), readFileSync(join(modules, 'maplibre-gl', 'dist', 'maplibre-gl.css'), 'utf8'));
writeFileSync(
  join(assets, 'MAP-LICENSES.txt'),
  "Licences of the npm packages bundled into the planner's map (reports/assets/map-vendor.js,\n" +
    'maplibre-gl-worker.js, maplibre-gl.css), as reports/map/build.mjs found them.\n\n' +
    licences.join('\n'),
);
console.log(`map-vendor.js ${vendor.length} bytes, worker ${worker.length} bytes, ${packages.size} packages`);
