// The interactive maps in a real browser: Debian's Chromium (software WebGL), driven by
// playwright-core, each page opened from disk (file://, no server). A page fails on any console
// error, any request that leaves the page, a blank screenshot, or not marking itself ready
// (<body data-ready="true">). `run` makes the pages (a run, a post plan, a comparison of two
// layouts) and sets BAOAN_MAP_PAGES to them; screenshots and times go to BAOAN_MAP_OUT.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {writeFileSync, mkdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {chromium} from 'playwright-core';

const pages = Object.fromEntries(
  (process.env.BAOAN_MAP_PAGES || '').split(',').filter(Boolean).map((kv) => kv.split('=')),
);
const out = process.env.BAOAN_MAP_OUT || '/tmp/baoan-map-tests';
mkdirSync(out, {recursive: true});
const READY_TIMEOUT_MS = 120_000;
const timings = {};
let browser;

before(async () => {
  assert.ok(pages.run && pages.plan && pages.compare, `BAOAN_MAP_PAGES names run, plan and compare: ${JSON.stringify(pages)}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Software WebGL (SwiftShader); no background connections, which this machine refuses.
    args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--ignore-gpu-blocklist',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-default-apps'],
  });
});

after(async () => {
  writeFileSync(join(out, 'timings.json'), JSON.stringify(timings, null, 2) + '\n');
  await browser?.close();
});

// Opens a page and waits for it to mark itself ready; every console error, page error and
// request other than the page's own file and its in-memory workers is kept to fail on.
async function open(name) {
  const file = pages[name];
  const url = pathToFileURL(file).href;
  const page = await browser.newPage({viewport: {width: 1400, height: 900}});
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (u !== url && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`request: ${u}`);
  });
  const started = Date.now();
  await page.goto(url);
  assert.equal(await page.evaluate(() => document.body.dataset.ready), undefined, 'ready before its maps loaded');
  await page.waitForSelector('body[data-ready="true"]', {timeout: READY_TIMEOUT_MS});
  timings[name] = {ready_ms: Date.now() - started, bytes: statSync(file).size};
  return {page, problems};
}

// How many distinct colours a screenshot of the maps holds, and the share of it that is not the
// map's background: a blank or failed WebGL canvas has one or two colours.
async function screenshotLooks(page, path) {
  const png = await page.locator('#maps').screenshot({path});
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let drawn = 0;
    for (let i = 0; i < d.length; i += 4) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      // The page's background is #eef2f5.
      if (Math.abs(d[i] - 0xee) + Math.abs(d[i + 1] - 0xf2) + Math.abs(d[i + 2] - 0xf5) > 12) drawn += 1;
    }
    return {colours: colours.size, drawn: drawn / (d.length / 4)};
  }, png.toString('base64'));
}

for (const name of ['run', 'plan', 'compare']) {
  test(`the ${name} map loads from disk, makes no request, logs no error and draws the district`, async () => {
    const {page, problems} = await open(name);
    const path = join(out, `${name}.png`);
    const looks = await screenshotLooks(page, path);
    console.log(`${name}: ready in ${timings[name].ready_ms} ms, ${timings[name].bytes} bytes; screenshot ${path}: ${looks.colours} colours, ${(looks.drawn * 100).toFixed(0)}% drawn`);
    assert.deepEqual(problems, []);
    assert.ok(looks.colours > 50, `a blank map: ${looks.colours} colours`);
    assert.ok(looks.drawn > 0.2, `the district covers ${(looks.drawn * 100).toFixed(1)}% of the map`);
    const grids = await page.evaluate(() => window.baoanMap.views.map((v) => v.map.queryRenderedFeatures({layers: ['grids-fill']}).length));
    assert.ok(grids.every((n) => n > 0), `grids drawn per map: ${grids}`);
    await page.close();
  });
}

// Waits until every map has drawn what was last asked of it.
const settled = (page) => page.evaluate(() => Promise.all(window.baoanMap.views.map((v) => new Promise((ok) => {
  v.map.once('idle', ok);
  v.map.triggerRepaint();
}))));

test('the time slider replays the incidents, the trips and the backlog, and a layer toggles off', async () => {
  const {page, problems} = await open('run');
  const data = await page.evaluate(() => {
    const D = JSON.parse(document.getElementById('map-data').textContent);
    return {t: D.incidents.t, trips: D.trips.t, duration: D.duration_s};
  });
  assert.ok(data.t.length > 0, 'the run has incidents to replay');
  // A time when half the day's incidents have been heard of.
  const sorted = [...data.t].sort((a, b) => a - b);
  const mid = sorted[Math.floor(sorted.length / 2)];
  await page.locator('#time').fill(String(mid));
  await settled(page);
  // The slider moves in whole minutes.
  const now = await page.evaluate(() => window.baoanMap.state.time);
  assert.ok(Math.abs(now - mid) <= 60, `slider at ${now}, asked for ${mid}`);
  const drawn = () => page.evaluate(() => window.baoanMap.views[0].map.queryRenderedFeatures({layers: ['incidents']}).length);
  const expected = data.t.filter((t) => t <= now).length;
  assert.equal(await drawn(), expected, 'incidents drawn up to the slider time');
  assert.ok(expected < data.t.length, 'the slider hides incidents still to come');
  const clock = await page.textContent('#clock');
  assert.match(clock, new RegExp(`${expected} incidents so far`));
  const moving = data.trips.filter(([a, b]) => a <= now && now < b).length;
  assert.match(clock, new RegExp(`${moving} units on the move`));
  const tripsLayer = () => page.evaluate(() => {
    const l = window.baoanMap.views[0].tripsLayer;
    return l ? [[l.id, l.props.currentTime]] : [];
  });
  assert.deepEqual(await tripsLayer(), [['trips', now]]);
  // The backlog's cursor stands at the slider's time.
  const cursor = await page.evaluate(() => document.querySelector('#series svg line[stroke-dasharray]').getAttribute('x1'));
  assert.ok(Number(cursor) > 40 && Number(cursor) < 290, `cursor at ${cursor}`);
  await page.locator('#time').screenshot({path: join(out, 'run-slider.png')});
  await page.locator('#maps').screenshot({path: join(out, 'run-at-mid-day.png')});

  await page.locator('#layer-incidents').uncheck();
  await settled(page);
  assert.equal(await drawn(), 0, 'incidents hidden by their toggle');
  await page.locator('#layer-trips').uncheck();
  assert.deepEqual(await tripsLayer(), []);
  await page.locator('#layer-incidents').check();
  await settled(page);
  assert.equal(await drawn(), expected);

  // Another grid figure recolours the grids and the legend.
  const legend = await page.textContent('#legend-metric');
  await page.locator('#metric').selectOption({index: 0});
  assert.notEqual(await page.textContent('#legend-metric'), legend);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the comparison shows two layouts side by side and under a swipe', async () => {
  const {page, problems} = await open('compare');
  assert.equal(await page.evaluate(() => window.baoanMap.views.length), 2);
  await page.locator('#mode-swipe').click();
  await page.locator('#swipe').fill('30');
  const clip = await page.evaluate(() => document.querySelectorAll('.pane')[1].style.clipPath);
  assert.equal(clip, 'inset(0px 0px 0px 30%)');
  await settled(page);
  await page.locator('#maps').screenshot({path: join(out, 'compare-swipe.png')});
  await page.locator('#mode-side').click();
  assert.equal(await page.evaluate(() => document.querySelectorAll('.pane')[1].style.clipPath), '');
  assert.deepEqual(problems, []);
  await page.close();
});
