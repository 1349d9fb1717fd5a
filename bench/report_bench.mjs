// Browser benchmark of `rdpt report` (a script, not a test): builds fixture stores of N responses
// (tests/report/report_fixture), writes their reports, opens each in headless Chromium and prints
// the time to the loading indicator, to the first chart, to an opened response in the viewer,
// the page's size and the JS heap.
//   node bench/report_bench.mjs --rdpt build/src/rdpt --fixture build/tests/report_fixture \
//        [--n 10000,100000] [--out /tmp/rdpt_report_bench] [--viewer-responses 2000] [--chromium /usr/bin/chromium]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? a.concat([[x.slice(2), all[i + 1]]]) : a), []));
if (!args.rdpt || !args.fixture) {
  console.error('usage: node bench/report_bench.mjs --rdpt BIN --fixture BIN [--n 10000,100000] [--out DIR] [--viewer-responses N]');
  process.exit(2);
}
const sizes = (args.n || '10000,100000').split(',').map(Number);
const outDir = args.out || path.join(os.tmpdir(), 'rdpt_report_bench');
const require = createRequire(path.join(args['node-modules'] || path.resolve(here, '../report/node_modules'), 'noop.js'));
const { chromium } = require('playwright-core');
fs.mkdirSync(outDir, { recursive: true });

function timed(bin, argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, argv, { encoding: 'utf8' });
  if (r.status !== 0) { console.error(`${bin} ${argv.join(' ')} failed:\n${r.stderr}`); process.exit(1); }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const rows = [];
for (const n of sizes) {
  const db = path.join(outDir, `store-${n}.db`), html = path.join(outDir, `report-${n}.html`);
  const tStore = fs.existsSync(db) ? 0 : timed(args.fixture, [db, String(n)]);
  const extra = args['viewer-responses'] ? ['--viewer-responses', args['viewer-responses']] : [];
  const tReport = timed(args.rdpt, ['report', '--store', db, '--out', html, ...extra]);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rdpt-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium || '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const page = context.pages()[0] || await context.newPage();
  await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
  const t0 = Date.now();
  await page.goto(pathToFileURL(html).href, { waitUntil: 'commit', timeout: 600000 });
  await page.waitForSelector('#loading', { timeout: 600000 });
  const tLoading = (Date.now() - t0) / 1000;
  await page.waitForSelector('#curve-charts svg', { timeout: 600000 });
  const tChart = (Date.now() - t0) / 1000;
  await page.evaluate(() => window.rdptReport.ready);
  const tReady = (Date.now() - t0) / 1000;
  const t1 = Date.now();
  await page.evaluate(() => window.rdptReport.show('viewer'));
  await page.waitForSelector('#trace-chart svg, #trace-chart canvas', { timeout: 600000 });
  const tViewer = (Date.now() - t1) / 1000;
  const heap = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize / 1048576 : NaN));
  const embedded = await page.evaluate(() => window.rdptReport.data().meta.counts.embedded);
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  rows.push({ n, store_s: tStore, report_s: tReport, page_mb: fs.statSync(html).size / 1048576, embedded,
              loading_s: tLoading, first_chart_s: tChart, ready_s: tReady, viewer_s: tViewer, heap_mb: heap });
}
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log('responses  store s  report s  page MB  embedded  loading s  first chart s  ready s  open response s  JS heap MB');
for (const r of rows)
  console.log(`${String(r.n).padStart(9)}  ${f(r.store_s, 1).padStart(7)}  ${f(r.report_s, 1).padStart(8)}  ${f(r.page_mb, 1).padStart(7)}  ` +
              `${String(r.embedded).padStart(8)}  ${f(r.loading_s).padStart(9)}  ${f(r.first_chart_s).padStart(13)}  ${f(r.ready_s).padStart(7)}  ` +
              `${f(r.viewer_s).padStart(15)}  ${f(r.heap_mb, 0).padStart(10)}`);
