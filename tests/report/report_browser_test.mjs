// Browser test of `rdpt report`: builds a store with hand-made scores (report_fixture), writes the
// report, opens it in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core from
// report/node_modules) with the network cut, and checks every view. Screenshots go to OUT_DIR.
//   node report_browser_test.mjs --rdpt BIN --fixture BIN --out OUT_DIR [--n 40] [--chromium PATH]
// Exit 0 when every check passes; each failure prints "FAIL: ..." with expected vs got.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? a.concat([[x.slice(2), all[i + 1]]]) : a), []));
const need = (k) => { if (!args[k]) { console.error(`usage: --${k} is required`); process.exit(2); } return args[k]; };
const rdpt = need('rdpt'), fixture = need('fixture'), outDir = need('out');
const n = parseInt(args.n || '40', 10);
const chromiumPath = args.chromium || '/usr/bin/chromium';
const nodeModules = args['node-modules'] || path.resolve(here, '../../report/node_modules');
const require = createRequire(path.join(nodeModules, 'noop.js'));
const { chromium } = require('playwright-core');

fs.mkdirSync(outDir, { recursive: true });
let failures = 0, checks = 0;
function check(cond, what, expected, got) {
  checks++;
  if (cond) return;
  failures++;
  console.log(`FAIL: ${what}` + (expected !== undefined ? `\n  expected: ${JSON.stringify(expected)}\n  got:      ${JSON.stringify(got)}` : ''));
}
function run(bin, argv) {
  const r = spawnSync(bin, argv, { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`FAIL: ${bin} ${argv.join(' ')} exited ${r.status}\n${r.stderr}`);
    process.exit(1);
  }
  return r;
}

// 1. Store and extra inputs.
const db = path.join(outDir, 'report_test.db');
run(fixture, [db, String(n)]);
const selFile = path.join(outDir, 'selection.json');
fs.writeFileSync(selFile, JSON.stringify({ strategy: 'teacher-count', n_groups: 10, n_candidates: 43, n_chosen: 10,
  mean_teacher_share_before: 0.31, mean_teacher_share_after: 0.44, note: '</script><script>window.__pwned=6</script>' }));
// A real rdpt select summary over the fixture's responses (its beta search drawn on the Selection tab).
// The candidates are the stored records themselves (select refuses a text other than the scored
// one): each response is its actions' texts in order; report_fixture asks every question alike.
const exported = run(rdpt, ['export', '--store', db, '--format', 'jsonl']).stdout.trim().split('\n').map((l) => JSON.parse(l));
const byId = new Map();
for (const r of exported) {
  if (!byId.has(r.id)) byId.set(r.id, { id: r.id, question_id: r.group, question: 'What is the answer?', response: '' });
  byId.get(r.id).response += r.text;
}
const candFile = path.join(outDir, 'candidates.jsonl');
fs.writeFileSync(candFile, [...byId.values()].map((r) => JSON.stringify(r)).join('\n') + '\n');
const selReal = path.join(outDir, 'selection_real.json');
run(rdpt, ['select', '--data', candFile, '--store', db, '--out', path.join(outDir, 'chosen.jsonl'), '--summary-json', selReal, '--compare']);
const alignFile = path.join(outDir, 'alignment.json');
fs.writeFileSync(alignFile, JSON.stringify({ teacher: 'teacher', distilled: 'distilled', bins: 8, range: [-1, 1], sets: [
  { name: 'teacher, train questions', n_responses: 5, count: [0, 1, 3, 9, 20, 9, 3, 1], fraction: [0, 0.02, 0.07, 0.2, 0.43, 0.2, 0.07, 0.02] },
  { name: 'distilled, test questions', n_responses: 5, count: [1, 2, 6, 10, 12, 8, 4, 2], fraction: [0.02, 0.04, 0.13, 0.22, 0.27, 0.18, 0.09, 0.04] }] }));
const attrFile = path.join(outDir, 'attribution.json');
fs.writeFileSync(attrFile, JSON.stringify({ student: 'student', distilled: 'distilled', n_responses: 43, teachers: [
  { teacher: 'teacher-a', rank: 1, teacher_share: { mean: 0.41, lo: 0.36, hi: 0.46, n_responses: 43 }, student_share: { mean: 0.12, lo: 0.1, hi: 0.15, n_responses: 43 } },
  { teacher: '<b>teacher-b</b>', rank: 2, teacher_share: { mean: 0.22, lo: 0.18, hi: 0.27, n_responses: 43 }, student_share: { mean: 0.3, lo: 0.25, hi: 0.34, n_responses: 43 } }] }));

// A second store with more Teacher actions (a fifth of the draws moved from Shared to Teacher),
// and the report's own store with teacher and student swapped: the Comparison tab's two runs.
const dbMore = path.join(outDir, 'report_test_more.db');
run(fixture, [dbMore, String(n), '0.2']);

// 2. The report.
const html = path.join(outDir, 'report.html');
const rep = run(rdpt, ['report', '--store', db, '--out', html, '--viewer-id', 'xss-1', '--select-summary', selFile, '--select-summary', selReal,
  '--alignment', alignFile, '--attribution', attrFile, '--generated-at', '2026-01-01T00:00:00Z', '--token-mark', '200',
  '--label', 'base', '--compare', 'more-teacher=' + dbMore, '--compare', 'swapped=' + db + '#teacher=student,student=teacher'].filter(Boolean));
check(rep.stdout.trim() === path.resolve(html), 'rdpt report prints the report path on stdout', path.resolve(html), rep.stdout.trim());
const text = fs.readFileSync(html, 'utf8');
const opens = (text.match(/<script[\s>]/gi) || []).length, closes = (text.match(/<\/script/gi) || []).length;
check(opens === closes, 'every <script> in the file is one of ours (opening and closing tags pair up)', opens, closes);
check(!text.includes('window.__pwned=1</script>'), 'the payload of xss-1 appears only escaped in the file');
check(!/https?:\/\/[^"'\s]*\.(js|css)/i.test(text.replace(/<script>[\s\S]*?<\/script>/g, '')), 'no external script or stylesheet');

// Bad inputs: one line on stderr naming the problem, exit 2 for usage, 1 for data.
for (const [argv, code, what] of [
  [['--teacher', 'nobody'], 2, "no model 'nobody'"],
  [['--beta', 'x1'], 2, '--beta'],
  [['--viewer-id', 'no-such-id'], 2, 'no-such-id'],
  [['--alignment', path.join(outDir, 'missing.json')], 1, 'missing.json'],
  [['--alignment', fixture], 1, 'not JSON'],
  [['--compare', 'nolabel'], 2, '--compare: expected LABEL=STORE'],
  [['--compare', 'x=' + db + '#tutor=t'], 2, "'tutor=t'"],
  [['--compare', 'x=' + db + '#teacher=nobody'], 2, "--compare 'x'"],
  [['--compare', 'x=' + db, '--compare', 'x=' + db], 2, 'labels must be non-empty and differ'],
  [['--compare', 'x=' + db + '#distilled=none'], 2, 'three-way'],
  [['--compare', 'x=' + db + '#teacher=student'], 2, 'one model in two roles'],
  [['--compare', 'x=' + db + '#teacher=a,teacher=b'], 2, 'teacher= given twice'],
  [['--compare', 'x=#teacher=t'], 2, 'no store path']]) {
  const r = spawnSync(rdpt, ['report', '--store', db, '--out', path.join(outDir, 'bad.html'), ...argv], { encoding: 'utf8' });
  const lines = r.stderr.trim().split('\n');
  check(r.status === code && lines.length === 1 && r.stderr.includes(what), `rdpt report ${argv.join(' ')} fails clearly`,
        { status: code, stderr: what }, { status: r.status, stderr: r.stderr.slice(0, 300) });
  check(!fs.existsSync(path.join(outDir, 'bad.html')), 'a failed run leaves no output file');
}

// 3. The browser.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rdpt-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath, headless: true, viewport: { width: 1400, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run'] });
const requests = [], pageErrors = [], consoleErrors = [];
await context.route('**/*', (route) => {
  const u = route.request().url();
  if (u.startsWith('file:')) return route.continue();
  requests.push(u);
  return route.abort();
});
const page = context.pages()[0] || await context.newPage();
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
try {
  await page.goto(pathToFileURL(html).href);
  await page.evaluate(() => window.rdptReport.ready);
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  check(state === 'ready', 'the page reaches state ready', 'ready', state);

  // Curves: one chart per four-way type, each with a line of many points and bands.
  const curves = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) => ({
    type: d.dataset.type,
    lines: Array.from(d.querySelectorAll('svg .mark-line path')).map((p) => (p.getAttribute('d') || '').length),
    areas: d.querySelectorAll('svg .mark-area path').length,
    rules: d.querySelectorAll('svg .mark-rule line, svg .mark-rule path').length })));
  check(curves.map((c) => c.type).join() === 'Shared,Teacher,Student,Boosted', 'a curve chart per type', 'Shared,Teacher,Student,Boosted', curves.map((c) => c.type).join());
  check(curves.every((c) => c.lines.length >= 2 && c.lines.every((l) => l > 50)), 'each curve chart draws non-empty lines (correct, incorrect, all)', '>= 2 lines, d > 50 chars', curves);
  check(curves.every((c) => c.areas >= 2), 'each curve chart draws interval bands', '>= 2', curves.map((c) => c.areas));
  // Issue 14 defects: integer position ticks; the legend in the lines' colours, every label whole;
  // token marks labelled on every type chart, in thousands (not 1024ths).
  const axes = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div, #curve-n, #curve-tokens')).map((d) =>
    Array.from(d.querySelectorAll('svg g[aria-label^="X-axis"] .role-axis-label text')).map((t) => t.textContent)));
  check(axes.length === 6 && axes.every((a) => a.length >= 2 && a.every((x) => /^\d+$/.test(x))),
        'position axes have integer tick labels only', 'integers', axes);
  // Loading indicator: in the page as written, hidden once the report is ready.
  check(/<p id="loading"[^>]*>Loading/.test(text), 'the page carries a loading indicator that shows while it parses');
  const loadingHidden = await page.evaluate(() => document.getElementById('loading').hidden);
  check(loadingHidden === true, 'the loading indicator hides once the report is ready', true, loadingHidden);
  // Clamped inputs show the clamped value; an impossible "min responses" says why nothing is drawn.
  const setInput = (id, v) => page.evaluate(([id, v]) => { const m = document.getElementById(id); m.value = v; m.dispatchEvent(new Event('change')); }, [id, v]);
  await setInput('curve-maxj', '99999');
  await setInput('curve-minn', '-5');
  await page.waitForTimeout(300);
  const clamped = await page.evaluate(() => [document.getElementById('curve-minn').value, document.getElementById('curve-maxj').value, document.getElementById('curve-maxj').max]);
  check(clamped[0] === '1' && clamped[1] === clamped[2], 'clamped inputs show the clamped values', ['1', clamped[2]], clamped);
  await setInput('curve-minn', '100000');
  await page.waitForTimeout(300);
  const emptyView = await page.evaluate(() => ({ charts: document.querySelectorAll('#curve-charts > div.chart').length,
    note: (document.querySelector('#curve-charts .empty-curves') || {}).textContent || '' }));
  check(emptyView.charts === 0 && /No position has 100000 or more responses/.test(emptyView.note) && /Lower "min responses"/.test(emptyView.note),
        'an impossible "min responses" explains the empty view', 'a note, no empty charts', emptyView);
  await setInput('curve-minn', '1');
  await page.waitForFunction(() => document.querySelectorAll('#curve-charts > div.chart svg').length === 4);
  // A small "last position" (3): still integer ticks (vega would put 1.0, 1.5, ... 3.0 there).
  await page.evaluate(() => { const m = document.getElementById('curve-maxj'); m.dataset.was = m.value; m.value = '3'; m.dispatchEvent(new Event('change')); });
  await page.waitForTimeout(400);
  const small = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) =>
    Array.from(d.querySelectorAll('svg g[aria-label^="X-axis"] .role-axis-label text')).map((t) => t.textContent)));
  check(small.length === 4 && small.every((a) => a.join() === '1,2,3'), 'positions 1-3: ticks 1, 2, 3 only', '1,2,3', small);
  await page.evaluate(() => { const m = document.getElementById('curve-maxj'); m.value = m.dataset.was; m.dispatchEvent(new Event('change')); });
  await page.waitForTimeout(400);
  const legends = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) => ({
    symbols: Array.from(d.querySelectorAll('svg .role-legend-symbol path')).map((p) => [p.getAttribute('stroke'), p.getAttribute('opacity') || p.getAttribute('stroke-opacity') || '1']),
    labels: Array.from(d.querySelectorAll('svg .role-legend-label text')).map((t) => t.textContent),
    lines: Array.from(d.querySelectorAll('svg .mark-line path')).map((p) => p.getAttribute('stroke')) })));
  check(legends.every((l) => l.labels.join() === 'correct,incorrect,all'), 'each curve legend names correct, incorrect, all in full',
        'correct,incorrect,all', legends.map((l) => l.labels));
  check(legends.every((l) => l.symbols.length === 3 && l.symbols.every(([c, o]) => l.lines.includes(c) && Number(o) === 1)),
        'legend symbols are the lines\' colours, fully opaque', legends[0].lines, legends.map((l) => l.symbols));
  const markLabels = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) =>
    Array.from(d.querySelectorAll('svg .mark-text.role-mark text')).map((t) => t.textContent)));
  const wantMarks = await page.evaluate(() => window.rdptReport.data().curves.marks.map((m) => m.tokens));
  const maxTok = await page.evaluate(() => Math.max(...window.rdptReport.data().curves.tokens.filter((x) => x !== null)));
  check(wantMarks.length >= 1, 'the fixture reaches a token mark', '>= 1', { marks: wantMarks.length, maxTok });
  const fmtK = (t) => (t >= 1000 ? `${+(t / 1000).toPrecision(3)}k tok` : `${t} tok`);
  check(markLabels.every((ls) => ls.length === wantMarks.length && ls.join() === wantMarks.map(fmtK).join()),
        'every type chart labels each token mark', wantMarks.map(fmtK), markLabels);
  const labels = await page.evaluate(() => [200, 1000, 4096, 12288].map((t) => window.rdptReport.tokenLabel(t)));
  check(labels.join() === '200 tok,1k tok,4.1k tok,12.3k tok', 'token marks in thousands, not 1024ths',
        '200 tok,1k tok,4.1k tok,12.3k tok', labels);
  const side = await page.evaluate(() => ['#curve-n', '#curve-tokens'].map((s) => document.querySelectorAll(s + ' svg .mark-line path').length));
  check(side[0] >= 1 && side[1] >= 1, 'n_j and token charts render', [1, 1], side);
  const sharesRows = await page.evaluate(() => document.querySelectorAll('#shares-table tr').length);
  check(sharesRows === 6, 'shares table: header + 4 types + responses', 6, sharesRows);
  // Toggle a type and a subset off: the chart disappears, lines drop to two.
  await page.click('#curve-types input[data-type="Boosted"]');
  await page.click('#curve-subsets input[data-subset="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#curve-charts > div').length === 3 &&
    document.querySelector('#curve-charts > div svg') !== null);
  await page.waitForTimeout(300);
  const after = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) => d.querySelectorAll('svg .mark-line path').length));
  check(after.length === 3 && after.every((x) => x === 2), 'toggles: 3 charts with 2 lines each', [2, 2, 2], after);
  await page.click('#curve-types input[data-type="Boosted"]');
  await page.click('#curve-subsets input[data-subset="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#curve-charts > div svg').length === 4);
  await page.waitForTimeout(300);
  // Paper Fig. 3: all types stacked, one chart per subset; at each position the four fractions sum to 1.
  const stacked = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-stacked > div')).map((d) => ({
    subset: d.dataset.subset, areas: d.querySelectorAll('svg .mark-area path').length })));
  check(stacked.map((x) => x.subset).join() === 'correct,incorrect,all' && stacked.every((x) => x.areas === 4),
        'a stacked all-types chart per subset', 'correct,incorrect,all with 4 areas each', stacked);
  const [sdl] = await Promise.all([page.waitForEvent('download'), page.click('#curve-stacked > div[data-subset="all"] .chart-tools button[data-tool="spec"]')]);
  await sdl.saveAs(path.join(outDir, 'export-stacked.vl.json'));
  const sums = {};
  for (const r of JSON.parse(fs.readFileSync(path.join(outDir, 'export-stacked.vl.json'), 'utf8')).data.values) sums[r.j] = (sums[r.j] || 0) + r.f;
  check(Object.values(sums).length > 5 && Object.values(sums).every((v) => Math.abs(v - 1) < 1e-9), 'stacked fractions sum to 1 at every position', 1, sums);
  // x by mean cumulative tokens: the axis says so and its ticks grow.
  await page.selectOption('#curve-x', 'tokens');
  await page.waitForTimeout(400);
  const tokAxis = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div, #curve-stacked > div')).map((d) => ({
    title: (d.querySelector('svg g[aria-label^="X-axis"] .role-axis-title text') || {}).textContent,
    ticks: Array.from(d.querySelectorAll('svg g[aria-label^="X-axis"] .role-axis-label text')).map((t) => Number(t.textContent.replace(/,/g, ''))) })));
  check(tokAxis.length === 7 && tokAxis.every((a) => a.title === 'mean cumulative tokens' && a.ticks.length >= 2 && a.ticks.every((v, i) => i === 0 || v > a.ticks[i - 1])),
        'curves by mean cumulative tokens', 'titled, increasing ticks', tokAxis);
  // x by normalised position: 20 bins on [0, 1]; the exported data are the embedded bin means, and
  // the stacked bins sum to 1 (each response's shares in a bin do).
  await page.selectOption('#curve-x', 'norm');
  await page.waitForTimeout(400);
  const normAxis = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div')).map((d) =>
    (d.querySelector('svg g[aria-label^="X-axis"] .role-axis-title text') || {}).textContent));
  check(normAxis.length === 4 && normAxis.every((t) => /normalised position/.test(t)), 'curves by normalised position', 4, normAxis);
  const [ndl] = await Promise.all([page.waitForEvent('download'), page.click('#curve-stacked > div[data-subset="all"] .chart-tools button[data-tool="CSV"]')]);
  await ndl.saveAs(path.join(outDir, 'export-stacked-norm.csv'));
  const normRows = fs.readFileSync(path.join(outDir, 'export-stacked-norm.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const normD = await page.evaluate(() => window.rdptReport.data().curves.norm);
  const bySum = {};
  for (const r of normRows) bySum[r[0]] = (bySum[r[0]] || 0) + Number(r[3]);
  check(normD.bins === 20 && Object.keys(bySum).length === 20 && Object.values(bySum).every((v) => Math.abs(v - 1) < 2e-3),
        'normalised-position bins: 20, their type shares summing to 1', 20, bySum);
  await page.selectOption('#curve-x', 'j');
  await page.waitForTimeout(400);
  // Subsets differ by dashes as well as colours; the behaviour mix is drawn too.
  const dashes = await page.evaluate(() => Array.from(document.querySelectorAll('#curve-charts > div[data-type="Teacher"] svg .mark-line path'))
    .map((p) => p.getAttribute('stroke-dasharray') || 'solid'));
  check(dashes.length === 3 && new Set(dashes).size === 3, 'the three subset lines have three dash patterns', 3, dashes);
  const behBars = await page.evaluate(() => document.querySelectorAll('#behaviour-chart svg .mark-rect path').length);
  check(behBars === 12, 'the behaviour chart: 3 behaviours stacked per type', 12, behBars);
  // Export: a chart saves as SVG and PNG, its data as CSV, its Vega-Lite spec as JSON.
  const saved = {};
  for (const tool of ['SVG', 'PNG', 'CSV', 'spec']) {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }),
      page.click(`#curve-charts > div[data-type="Teacher"] .chart-tools button[data-tool="${tool}"]`)]);
    const file = path.join(outDir, 'export-' + dl.suggestedFilename());
    await dl.saveAs(file);
    saved[tool] = { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
  }
  const svgText = saved.SVG.bytes.toString('utf8');
  check(saved.SVG.name === 'Teacher.svg' && svgText.startsWith('<svg') && svgText.includes('Teacher') && /<path[^>]* d="M/.test(svgText),
        'a chart saves as SVG', 'Teacher.svg, <svg ... with paths', [saved.SVG.name, svgText.slice(0, 80)]);
  check(saved.PNG.name === 'Teacher.png' && saved.PNG.bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) &&
        saved.PNG.bytes.length > 5000, 'a chart saves as PNG', 'Teacher.png, PNG magic, > 5 kB', [saved.PNG.name, saved.PNG.bytes.length]);
  const csvLines = saved.CSV.bytes.toString('utf8').trim().split('\n');
  const wantRows = await page.evaluate(() => { const C = window.rdptReport.data().curves, minn = Number(document.getElementById('curve-minn').value);
    return C.n.reduce((a, n) => a + n.filter((x) => x >= minn).length, 0); });
  const dataRow = /^\d+,\d+,(correct|incorrect|all),/;
  check(csvLines[0].startsWith('j,x,subset,f,lo,hi,n,k') && csvLines.filter((l) => dataRow.test(l)).length === wantRows,
        "a chart's data saves as CSV (one row per position and subset drawn)", { header: 'j,x,subset,f,lo,hi,n,k...', rows: wantRows },
        { header: csvLines[0], rows: csvLines.filter((l) => dataRow.test(l)).length });
  let specOk = false;
  try { const sp = JSON.parse(saved.spec.bytes.toString('utf8')); specOk = Array.isArray(sp.layer) && sp.layer.length >= 2 && sp.data.values.length === wantRows; } catch (e) { specOk = false; }
  check(saved.spec.name === 'Teacher.vl.json' && specOk, "a chart's Vega-Lite spec saves as JSON with its data", 'Teacher.vl.json', saved.spec.name);
  await page.screenshot({ path: path.join(outDir, 'view-curves.png'), fullPage: true });

  // Beta: one card per candidate (four defaults), exactly one picked, each with drawn areas.
  await page.click('nav button[data-view="beta"]');
  await page.evaluate(() => window.rdptReport.show('beta'));
  const beta = await page.evaluate(() => ({
    cards: Array.from(document.querySelectorAll('#beta-charts .card')).map((c) => ({ beta: c.dataset.beta, picked: c.classList.contains('picked'),
      areas: c.querySelectorAll('svg .mark-area path').length, badge: c.querySelector('h4').textContent })),
    rows: document.querySelectorAll('#beta-table tr').length }));
  check(beta.cards.map((c) => c.beta).join() === '0.05,0.1,0.15,0.2', 'a beta card per default candidate', '0.05,0.1,0.15,0.2', beta.cards.map((c) => c.beta).join());
  check(beta.cards.filter((c) => c.picked).length === 1, 'exactly one candidate marked picked', 1, beta.cards.filter((c) => c.picked).length);
  check(beta.cards.every((c) => c.areas === 4), 'each candidate draws 4 histograms', 4, beta.cards.map((c) => c.areas));
  check(beta.cards.some((c) => c.picked && /pick/.test(c.badge)), 'the picked card carries a pick badge');
  check(beta.rows === 5, 'beta table: header + 4 candidates', 5, beta.rows);
  await page.screenshot({ path: path.join(outDir, 'view-beta.png'), fullPage: true });

  // Viewer: the hostile response, rendered as text, every sentence highlighted by type.
  await page.click('nav button[data-view="viewer"]');
  await page.evaluate(() => window.rdptReport.selectId('xss-1'));
  await page.waitForFunction(() => document.querySelector('#trace-chart svg .mark-line path'));
  const v = await page.evaluate(() => {
    const spans = Array.from(document.querySelectorAll('#trace-text .act'));
    return { head: document.querySelector('#trace-head').textContent, text: document.querySelector('#trace-text').textContent,
      n: spans.length, classes: spans.map((s) => s.className), bgs: spans.map((s) => getComputedStyle(s).backgroundColor),
      injected: document.querySelectorAll('#trace-text *:not(span)').length + document.querySelectorAll('body img, body iframe').length,
      rects: document.querySelectorAll('#trace-chart svg .mark-rect path').length,
      lines: document.querySelectorAll('#trace-chart svg .mark-line path').length };
  });
  const xss1 = '<think>\nLet me try <script>window.__pwned=1</script> here. Then more text follows.</think>\nThe answer is <b>4</b> & done.';
  check(v.head.startsWith('xss-1'), 'the viewer shows the chosen response', 'xss-1 ...', v.head);
  check(v.text === xss1, 'the response text renders verbatim, as text', xss1, v.text);
  check(v.n === 5, 'one span per action (<think>, 2 sentences, </think>, answer)', 5, v.n);
  const typed = v.classes.filter((c) => /t-[TUSB]/.test(c));
  check(typed.length === v.n, 'every action of xss-1 is highlighted by its type', v.n, v.classes);
  check(v.bgs.every((b) => b !== 'rgba(0, 0, 0, 0)'), 'highlighted spans have a background colour', 'non-transparent', v.bgs);
  check(v.injected === 0, 'no element created from response text', 0, v.injected);
  check(v.rects >= 1 && v.lines === 3, 'trace chart: type background and three probability lines', '>=1 rects, 3 lines', [v.rects, v.lines]);
  // The question, reference answer, group, and the other responses to the same question.
  const qv = await page.evaluate(() => ({ text: document.querySelector('#trace-q').textContent,
    qtext: (document.querySelector('#trace-q .qtext') || {}).textContent,
    sibs: Array.from(document.querySelectorAll('#trace-q .sib')).map((b) => b.textContent) }));
  const wantSibs = await page.evaluate(() => { const I = window.rdptReport.data().index, k = I.id.indexOf('xss-1');
    return I.id.filter((id, g) => g !== k && I.g[g] === I.g[k]); });
  check(qv.qtext === 'What is the answer?' && /group q0/.test(qv.text) && /reference answer/.test(qv.text),
        'the viewer shows the question, its group and reference answer', 'What is the answer? / group q0', qv);
  check(wantSibs.length >= 3 && qv.sibs.join() === wantSibs.join(), 'the viewer links the other responses to the question', wantSibs, qv.sibs);
  await page.click('#trace-q .sib');
  await page.waitForTimeout(200);
  const sibHead = await page.evaluate(() => document.querySelector('#trace-head .id').textContent);
  check(sibHead === wantSibs[0], 'a click on another response to the question opens it', wantSibs[0], sibHead);
  await page.evaluate(() => window.rdptReport.selectId('xss-1'));
  // Probabilities keep significant digits (they used to show as 0.0000), and the chart has a log scale.
  const fp = await page.evaluate(() => [0.5, 0.12345, 2e-5, 1.234e-9].map((p) => window.rdptReport.formatP(p)));
  check(fp.join() === '0.5000,0.1235,2.00e-5,1.23e-9', 'small probabilities show in significant digits', '0.5000,0.1235,2.00e-5,1.23e-9', fp);
  await page.check('#trace-log');
  await page.waitForTimeout(300);
  const logAxis = await page.evaluate(() => (document.querySelector('#trace-chart svg g[aria-label^="Y-axis"] .role-axis-title text') || {}).textContent);
  check(/log scale/.test(logAxis || ''), 'the viewer chart switches to a log scale', 'p (...), log scale', logAxis);
  await page.uncheck('#trace-log');
  await page.waitForTimeout(300);
  // Keyboard: right / left arrows step through the actions; the picker's items take focus and Enter.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.evaluate(() => { const s = document.querySelector('#trace-text .act[data-j="1"]'); s.dispatchEvent(new MouseEvent('mouseover', { bubbles: true })); });
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowLeft');
  const kbd = await page.evaluate(() => Number(document.querySelector('#trace-text .act.hl').dataset.j));
  check(kbd === 2, 'arrow keys step through the actions', 2, kbd);
  await page.focus('#pick-list li:nth-child(1)');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(200);
  const kbdSel = await page.evaluate(() => [document.querySelector('#pick-list li:nth-child(2) .id').textContent, document.querySelector('#trace-head .id').textContent]);
  check(kbdSel[0] === kbdSel[1], 'the picker works by keyboard (arrow down, Enter)', kbdSel[0], kbdSel[1]);
  await page.evaluate(() => window.rdptReport.selectId('xss-1'));
  // Hover: the tooltip shows the three probabilities.
  await page.hover('#trace-text .act[data-j="1"]');
  const tip = await page.evaluate(() => ({ hidden: document.querySelector('#trace-tip').hidden, text: document.querySelector('#trace-tip').textContent }));
  check(!tip.hidden && /pT = \d\.\d{4}/.test(tip.text) && /pS = /.test(tip.text) && /pD = /.test(tip.text), 'hover shows pT, pS, pD', 'pT = 0.xxxx ...', tip);
  // A click anywhere above an action (not on a point marker: near the top of the plot, in a type
  // band) selects that action; it used to select action 1 or nothing.
  for (const j of [4, 2, 5]) {
    const at = await page.evaluate((j) => {
      const v = window.rdptReport.viewerView(), s = v.scale('x'), r = v.container().querySelector('svg, canvas').getBoundingClientRect();
      return { x: r.left + v.origin()[0] + s(j) + 0.3 * (s(j + 1) - s(j)), y: r.top + v.origin()[1] + 6 };
    }, j);
    await page.mouse.click(at.x, at.y);
    await page.waitForTimeout(150);
    const hl = await page.evaluate(() => { const e = document.querySelector('#trace-text .act.hl'); return e ? Number(e.dataset.j) + 1 : 0; });
    check(hl === j, `a click above action ${j} selects it`, j, hl);
  }
  await page.screenshot({ path: path.join(outDir, 'view-viewer.png'), fullPage: true });
  // Near the right edge of the window the hover box stays inside it.
  const lastAct = await page.evaluate(() => { const r = document.querySelector('#trace-text').getBoundingClientRect(); return { x: r.right - 30, y: r.top + 12 }; });
  await page.hover('#trace-text .act[data-j="4"]');
  await page.mouse.move(lastAct.x, lastAct.y);
  const tipBox = await page.evaluate(() => { const t = document.querySelector('#trace-tip'); const r = t.getBoundingClientRect(); return { hidden: t.hidden, right: r.right, w: window.innerWidth }; });
  check(!tipBox.hidden && tipBox.right <= tipBox.w, 'the hover box is not cut off at the right edge', `shown, right <= ${tipBox.w}`, tipBox);
  // A 3000-character id and a 6000-character word wrap: the page keeps the window's width.
  await page.evaluate(() => window.rdptReport.selectId('long-' + 'x'.repeat(3000)));
  await page.waitForTimeout(200);
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, win: window.innerWidth,
    head: document.querySelector('#trace-head').getBoundingClientRect().width }));
  check(widths.page <= widths.win, 'a long id and word do not widen the page', `<= ${widths.win}`, widths);
  await page.screenshot({ path: path.join(outDir, 'view-viewer-long.png') });
  // The other hostile response and the HTML id.
  await page.evaluate(() => window.rdptReport.selectId('xss-2'));
  const t2 = await page.evaluate(() => document.querySelector('#trace-text').textContent);
  check(t2.startsWith('</script><img src=x onerror="window.__pwned=2">'), 'xss-2 renders as text', '</script><img ...', t2.slice(0, 60));
  await page.evaluate(() => window.rdptReport.selectId('<img src=x onerror="window.__pwned=3">'));
  const h3 = await page.evaluate(() => document.querySelector('#trace-head .id').textContent);
  check(h3 === '<img src=x onerror="window.__pwned=3">', 'an HTML id renders as text', '<img ...>', h3);
  await page.screenshot({ path: path.join(outDir, 'view-viewer-xss2.png'), fullPage: true });
  // Picker: search and filter.
  await page.fill('#pick-search', 'xss');
  await page.waitForTimeout(350);  // the search is debounced
  const found = await page.evaluate(() => Array.from(document.querySelectorAll('#pick-list li .id')).map((e) => e.textContent));
  check(found.join() === 'xss-1,xss-2', 'search by id', 'xss-1,xss-2', found.join());
  // Search by text (3 characters or more), case-insensitive.
  await page.fill('#pick-search', 'THEN MORE TEXT follows');
  await page.waitForTimeout(350);  // the search is debounced
  const byText = await page.evaluate(() => Array.from(document.querySelectorAll('#pick-list li .id')).map((e) => e.textContent));
  check(byText.join() === 'xss-1', 'search finds a response by its text', 'xss-1', byText.join());
  await page.fill('#pick-search', '');
  await page.waitForTimeout(350);  // the search is debounced
  // Sorting by Teacher share (highest first), by length, correct first.
  const order = async (how) => { await page.selectOption('#pick-sort', how); return page.evaluate(() => {
    const I = window.rdptReport.data().index;
    return Array.from(document.querySelectorAll('#pick-list li')).map((li) => Number(li.dataset.k)).map((k) => ({ t: I.t[k], n: I.n[k], c: I.c[k] })); }); };
  const byT = await order('teacher');
  const tv = byT.map((x) => x.t).filter((t) => t >= 0);
  check(tv.length > 10 && tv.every((t, i) => i === 0 || tv[i - 1] >= t) && byT.slice(0, tv.length).every((x) => x.t >= 0),
        'sort by Teacher share, highest first (unscored last)', 'non-increasing', byT.map((x) => x.t));
  const byN = (await order('length')).map((x) => x.n);
  check(byN.every((v, i) => i === 0 || byN[i - 1] >= v), 'sort by length, longest first', 'non-increasing', byN);
  const byC = (await order('correct')).map((x) => x.c);
  check(byC.join('').replace(/1*0*-*/, '') === '', 'sort correct first, then incorrect, then unlabelled', '1..0..-..', byC.join(''));
  await page.selectOption('#pick-sort', 'input');
  // A deep link: the selected response's id is in the address, and opening it shows that response.
  await page.evaluate(() => window.rdptReport.selectId('xss-2'));
  const hash = await page.evaluate(() => location.hash);
  check(hash === '#r=xss-2', 'the address links to the selected response', '#r=xss-2', hash);
  const page2 = await context.newPage();
  await page2.goto(pathToFileURL(html).href + '#r=' + encodeURIComponent('<img src=x onerror="window.__pwned=3">'));
  await page2.evaluate(() => window.rdptReport.ready);
  const deep = await page2.evaluate(() => ({ view: document.querySelector('nav button.active').dataset.view,
    head: document.querySelector('#trace-head .id') && document.querySelector('#trace-head .id').textContent, state: document.documentElement.dataset.state }));
  check(deep.view === 'viewer' && deep.head === '<img src=x onerror="window.__pwned=3">' && deep.state === 'ready',
        'report.html#r=ID opens the viewer on that response', 'viewer, the HTML id, ready', deep);
  // A malformed link (a bare %) still renders the report and says what it could not find.
  await page2.close();
  const page3 = await context.newPage();
  await page3.goto(pathToFileURL(html).href + '#r=50%off');
  await page3.evaluate(() => window.rdptReport.ready);
  await page3.waitForTimeout(300);
  const badLink = await page3.evaluate(() => ({ charts: document.querySelectorAll('#curve-charts svg').length, errors: window.rdptReport.errors.slice() }));
  check(badLink.charts === 4 && badLink.errors.length === 1 && /no embedded response 50%off/.test(badLink.errors[0]),
        'a malformed #r= link renders the report and names the missing response', '4 charts, 1 error', badLink);
  await page3.close();
  await page.fill('#pick-search', '');
  await page.waitForTimeout(350);  // the search is debounced
  await page.selectOption('#pick-filter', '0');
  const bad = await page.evaluate(() => Array.from(document.querySelectorAll('#pick-list li')).map((li) => li.querySelector('.bad') !== null));
  check(bad.length > 0 && bad.every(Boolean), 'filter incorrect lists only incorrect responses', 'all incorrect', bad);
  await page.selectOption('#pick-filter', 'all');
  const pager = await page.evaluate(() => document.querySelector('#pick-page').textContent);
  const nEmb = n + 4;  // the fixture's hostile and long-id responses
  check(pager === `page 1 of ${Math.ceil(nEmb / 50)}`, 'the picker is paginated', `page 1 of ${Math.ceil(nEmb / 50)}`, pager);
  const more = await page.evaluate(() => document.getElementById('pick-more').textContent);
  check(more.startsWith(`${nEmb} of ${nEmb} responses are embedded`) && more.includes('--viewer-responses') && more.includes('--viewer-id'),
        'the picker says how many responses are embedded and how to embed more', `${nEmb} of ${nEmb} ... --viewer-responses ... --viewer-id`, more);
  await page.click('#pick-list li:nth-child(2)');
  await page.waitForTimeout(200);

  // Extra sections and metadata.
  for (const kind of ['selection', 'attribution', 'alignment']) {
    const visible = await page.evaluate((k) => !document.querySelector(`nav button[data-view="${k}"]`).hidden, kind);
    check(visible, `${kind} tab shown when its input is given`);
    await page.click(`nav button[data-view="${kind}"]`);
    await page.evaluate((k) => window.rdptReport.show(k), kind);
    await page.screenshot({ path: path.join(outDir, `view-${kind}.png`), fullPage: true });
  }
  const alignLines = await page.evaluate(() => document.querySelectorAll('#alignment-body svg .mark-line path').length);
  check(alignLines === 2, 'alignment: one histogram line per set', 2, alignLines);
  const selText = await page.evaluate(() => document.querySelector('#selection-body').textContent);
  check(selText.includes('</script><script>window.__pwned=6</script>'), 'selection summary strings render as text');
  // The selection's beta search drawn as on the Beta tab, with a note on why its beta may differ.
  const selBeta = await page.evaluate(() => ({ cards: Array.from(document.querySelectorAll('#selection-body .sel-beta .card')).map((c) => ({
      beta: c.dataset.beta, areas: c.querySelectorAll('svg .mark-area path').length, picked: c.classList.contains('picked') })),
    note: document.querySelector('#selection-body').textContent }));
  const realSel = JSON.parse(fs.readFileSync(selReal, 'utf8'));
  check(selBeta.cards.length === realSel.beta_search.candidates.length && selBeta.cards.every((c) => c.areas === 3) &&
        selBeta.cards.filter((c) => c.picked).length === 1,
        "the selection's beta search is drawn (a card of 3 histograms per candidate, one picked)", realSel.beta_search.candidates.length, selBeta.cards);
  check(/typed its candidates at beta = /.test(selBeta.note) && /so the two can differ/.test(selBeta.note),
        "the Selection tab says why its beta and the header's may differ");
  // The strategy comparison (rdpt select --compare) shows as tables.
  const cmpTables = await page.evaluate(() => ({ rows: Array.from(document.querySelectorAll('#selection-body table.compare tr')).map((tr) => tr.firstChild.textContent),
    jac: Array.from(document.querySelectorAll('#selection-body table.overlaps tr')).map((tr) => Array.from(tr.children).map((c) => c.textContent)) }));
  const wantJac = {};
  for (const o of realSel.comparison.overlaps) wantJac[o.a + '|' + o.b] = wantJac[o.b + '|' + o.a] = o.jaccard;
  const ran = {};
  for (const x of realSel.comparison.strategies) ran[x.strategy] = !x.not_run;
  const jacOk = cmpTables.jac.length === 1 + realSel.comparison.strategies.length && cmpTables.jac.slice(1).every((row, a) => row.slice(1).every((cell, b) => {
    const A = cmpTables.jac[0][a + 1], B = cmpTables.jac[0][b + 1];
    if (!ran[A] || !ran[B]) return cell === '\u2013';  // rsr without student ranks did not run
    return a === b ? cell === '1' : Math.abs(Number(cell) - wantJac[A + '|' + B]) < 5e-4;
  }));
  check(cmpTables.rows.slice(1).join() === realSel.comparison.strategies.map((x) => x.strategy).join() && jacOk,
        'the --compare tables show on the Selection tab (strategies, Jaccard matrix)', realSel.comparison.overlaps.slice(0, 3), cmpTables);
  const attrBars = await page.evaluate(() => document.querySelectorAll('#attribution-body svg .mark-rect path').length);
  check(attrBars === 4, 'attribution: Teacher and Student share bars per teacher', 4, attrBars);
  const attrText = await page.evaluate(() => document.querySelector('#attribution-body table:nth-of-type(1)') ? document.querySelector('#attribution-body').textContent : '');
  check(attrText.includes('<b>teacher-b</b>'), 'attribution rows render names as text');
  // The Comparison tab: three runs; each difference recomputed here from the runs' embedded
  // counts, with Newcombe's interval from Wilson bounds computed here too.
  await page.click('nav button[data-view="compare"]');
  await page.evaluate(() => window.rdptReport.show('compare'));
  const cmp = await page.evaluate(() => {
    const D = window.rdptReport.data();
    return { runs: D.comparison.runs, diffs: D.comparison.diffs, types: D.types,
      rows: Array.from(document.querySelectorAll('#compare-table tr')).slice(1).map((tr) => tr.firstChild.textContent),
      charts: document.querySelectorAll('#compare-charts .chart svg').length, diffCharts: document.querySelectorAll('#compare-diffs .chart svg').length };
  });
  check(cmp.rows.join() === 'base,more-teacher,swapped', 'the Comparison tab lists the runs', 'base,more-teacher,swapped', cmp.rows);
  check(cmp.charts === cmp.types.length && cmp.diffCharts === cmp.types.length, 'one chart per type, and one of differences per type',
        cmp.types.length, [cmp.charts, cmp.diffCharts]);
  const z = 1.959963984540054;
  const wilson = (k, m) => { const p = k / m, d = 1 + z * z / m, c = (p + z * z / (2 * m)) / d, h = z / d * Math.sqrt(p * (1 - p) / m + z * z / (4 * m * m));
    return [Math.max(0, c - h), Math.min(1, c + h)]; };
  let worst = 0, compared = 0;
  cmp.diffs.forEach((f, r) => [0, 1, 2].forEach((si) => cmp.types.forEach((t, ti) => f.d[si][ti].forEach((d, j) => {
    const A = cmp.runs[0].curves, B = cmp.runs[r + 1].curves, na = A.n[si][j], nb = B.n[si][j];
    if (!na || !nb) { worst = Math.max(worst, d === null ? 0 : 1); return; }
    const p1 = B.count[si][ti][j] / nb, p2 = A.count[si][ti][j] / na, [l1, u1] = wilson(B.count[si][ti][j], nb), [l2, u2] = wilson(A.count[si][ti][j], na);
    const want = [p1 - p2, p1 - p2 - Math.hypot(p1 - l1, u2 - p2), p1 - p2 + Math.hypot(u1 - p1, p2 - l2)];
    [d, f.lo[si][ti][j], f.hi[si][ti][j]].forEach((x, i) => { worst = Math.max(worst, Math.abs(x - want[i])); });
    compared++;
  }))));
  check(compared > 100 && worst < 1e-4, 'each difference and its Newcombe interval recomputed from the embedded counts', '< 1e-4 over > 100', [worst, compared]);
  const ti = cmp.types.indexOf('Teacher');
  check(cmp.runs[1].shares.Teacher > cmp.runs[0].shares.Teacher + 0.05, 'the planted shift shows: more Teacher in more-teacher',
        '> base + 0.05', [cmp.runs[0].shares.Teacher, cmp.runs[1].shares.Teacher]);
  check(cmp.runs[2].models.teacher === 'student' && Math.abs(cmp.runs[2].shares.Teacher - cmp.runs[0].shares.Student) < 0.02,
        'the swapped run types the same store with the roles exchanged (its Teacher is the base run\u2019s Student, near enough)',
        cmp.runs[0].shares.Student, cmp.runs[2].shares.Teacher);
  await page.screenshot({ path: path.join(outDir, 'view-compare-top.png') });  // the window only (docs/report.md)
  const pathsOf = () => page.evaluate(() => Array.from(document.querySelectorAll('#compare-charts .mark-line path')).map((p) => p.getAttribute('d')).join('|'));
  const linesBefore = await pathsOf();
  await page.selectOption('#compare-subset', '0');
  await page.waitForTimeout(500);
  const linesAfter = await pathsOf();
  check(linesBefore.length > 0 && linesAfter.length > 0 && linesBefore !== linesAfter && ti >= 0, 'the subset control redraws the Comparison charts (correct responses only)',
        'other lines', [linesBefore.length, linesAfter.length]);
  check(cmp.diffs.every((f, r) => f.d[2][0].length === Math.min(cmp.runs[0].curves.n[2].length, cmp.runs[r + 1].curves.n[2].length)),
        'differences run to the shorter run');
  await page.screenshot({ path: path.join(outDir, 'view-compare.png'), fullPage: true });
  await page.click('nav button[data-view="meta"]');
  await page.evaluate(() => window.rdptReport.show('meta'));
  const meta = await page.evaluate(() => document.querySelector('#meta-body').textContent);
  check(meta.includes('/models/<script>window.__pwned=4</script>teacher.gguf') && meta.includes('sha256:teacher-fixture'), 'metadata lists the models as text');
  check(meta.includes('2026-01-01T00:00:00Z'), 'metadata shows the generation time');
  await page.screenshot({ path: path.join(outDir, 'view-meta.png'), fullPage: true });

  const pwned = await page.evaluate(() => typeof window.__pwned);
  check(pwned === 'undefined', 'window.__pwned stays undefined', 'undefined', pwned);
  const errs = await page.evaluate(() => window.rdptReport.errors.slice());
  check(errs.length === 0, 'the page reports no error', [], errs);
  check(pageErrors.length === 0, 'no uncaught page error', [], pageErrors);
  check(requests.length === 0, 'no network request', [], requests);
  const cspViolations = consoleErrors.filter((m) => /Content Security Policy/i.test(m));
  check(cspViolations.length === 0, 'no CSP violation by our own scripts', [], cspViolations);
} catch (e) {
  failures++;
  console.log('FAIL: exception: ' + (e && e.stack ? e.stack : e));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${checks - failures}/${checks} checks passed; screenshots in ${outDir}`);
process.exit(failures ? 1 : 0);
