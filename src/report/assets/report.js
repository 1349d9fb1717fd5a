// rdpt report page. Data comes from the JSON script blocks (rdpt-data, rdpt-page-N) written by rdpt;
// every string from the data is put in the page with textContent (never as HTML).
(function () {
  'use strict';
  var D = null;                  // the summary (rdpt-data)
  var pages = new Map();         // page number -> parsed page (small cache)
  var rendered = {};             // view -> promise of its first render
  var errors = [];
  var TYPE_COLOR = {Shared: '#8c8c8c', Teacher: '#e69f00', Student: '#0072b2', Boosted: '#009e73', Common: '#8c8c8c'};
  var TYPE_BG = {Shared: '#e6e6e6', Teacher: '#fbe0a6', Student: '#bcdcf2', Boosted: '#bde9d8', Common: '#e6e6e6'};
  var TYPE_CHAR = {S: 'Shared', T: 'Teacher', U: 'Student', B: 'Boosted', C: 'Common'};
  var SUBSET_COLOR = {correct: '#2f855a', incorrect: '#c53030', all: '#4a5568'};
  var INT_AXIS = {tickMinStep: 1, format: 'd'};  // positions are whole actions: integer ticks only
  var MODEL_COLOR = {pT: '#e69f00', pS: '#0072b2', pD: '#6b46c1'};

  function $(id) { return document.getElementById(id); }
  // Creates an element; `cls` a class string; children are nodes or strings (text nodes).
  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function fmt(x, d) {
    if (x === null || x === undefined || (typeof x === 'number' && !isFinite(x))) return '\u2013';
    return typeof x === 'number' ? (Number.isInteger(x) && d === undefined ? x.toLocaleString('en-US') : x.toFixed(d === undefined ? 4 : d)) : String(x);
  }
  function pct(x) { return x === null || x === undefined ? '\u2013' : (100 * x).toFixed(1) + '%'; }
  function fail(where, e) {
    var msg = where + ': ' + (e && e.message ? e.message : String(e));
    errors.push(msg);
    var box = $('error');
    box.hidden = false;
    box.appendChild(document.createTextNode(msg + '\n'));
  }
  function embed(target, spec, renderer) {
    spec.$schema = 'https://vega.github.io/schema/vega-lite/v6.json';
    spec.config = Object.assign({font: 'system-ui, sans-serif', view: {stroke: '#ccc'}, axis: {labelFontSize: 11, titleFontSize: 12}},
                                spec.config || {});
    return vegaEmbed(target, spec, {actions: false, renderer: renderer || 'svg', tooltip: true}).then(function (r) {
      addChartTools(target, spec, r.view);
      return r.view;
    });
  }
  // Every chart saves as SVG and PNG (vega's own renderers), its data as CSV, and its Vega-Lite spec
  // (to restyle in Python: altair.Chart.from_dict).
  function chartName(target, spec) {
    var t = spec.title && (spec.title.text || spec.title);
    var n = (typeof t === 'string' && t) || target.dataset.type || target.id || 'chart';
    return n.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  }
  function download(name, blob) {
    var a = document.createElement('a'), url = URL.createObjectURL(blob);
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  function csvCell(x) {
    var v = x === null || x === undefined ? '' : String(x);
    return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }
  function chartCsv(spec) {
    var rows = [];
    [spec].concat(spec.layer || []).forEach(function (l) {
      if (l.data && Array.isArray(l.data.values)) rows = rows.concat(l.data.values.map(function (r) {
        return l === spec ? r : Object.assign({layer: (spec.layer.indexOf(l) + 1)}, r);
      }));
    });
    var cols = [];
    rows.forEach(function (r) { Object.keys(r).forEach(function (c) { if (cols.indexOf(c) < 0) cols.push(c); }); });
    return [cols.map(csvCell).join(',')].concat(rows.map(function (r) {
      return cols.map(function (c) { return csvCell(r[c]); }).join(',');
    })).join('\n') + '\n';
  }
  function addChartTools(target, spec, view) {
    var old = target.querySelector(':scope > .chart-tools');
    if (old) old.remove();
    var name = chartName(target, spec), bar = el('div', 'chart-tools');
    var tool = function (label, what, f) {
      var b = el('button', '', label); b.type = 'button'; b.title = what; b.dataset.tool = label;
      b.addEventListener('click', function () { Promise.resolve().then(f).catch(function (e) { fail('saving ' + name, e); }); });
      bar.appendChild(b);
    };
    tool('SVG', 'save this chart as SVG', function () {
      return view.toSVG().then(function (svg) { download(name + '.svg', new Blob([svg], {type: 'image/svg+xml'})); });
    });
    tool('PNG', 'save this chart as PNG (2x)', function () {
      return view.toCanvas(2).then(function (c) { return new Promise(function (res) { c.toBlob(res, 'image/png'); }); })
        .then(function (b) { download(name + '.png', b); });
    });
    tool('CSV', "save this chart's data as CSV", function () { download(name + '.csv', new Blob([chartCsv(spec)], {type: 'text/csv'})); });
    tool('spec', 'save the Vega-Lite spec (JSON) to restyle the figure', function () {
      download(name + '.vl.json', new Blob([JSON.stringify(spec, null, 2)], {type: 'application/json'}));
    });
    target.appendChild(bar);
  }
  function table(head, rows, opts) {
    opts = opts || {};
    var t = el('table', 'data'), tr = el('tr');
    head.forEach(function (h, i) { tr.appendChild(el('th', i < (opts.left || 1) ? 'l' : '', h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el('tr', r.cls || '');
      (r.cells || r).forEach(function (c, i) { row.appendChild(el('td', i < (opts.left || 1) ? 'l' : '', c)); });
      t.appendChild(row);
    });
    return t;
  }

  // ---- views ------------------------------------------------------------------------------
  function show(view) {
    document.querySelectorAll('nav button').forEach(function (b) { b.classList.toggle('active', b.dataset.view === view); });
    document.querySelectorAll('.view').forEach(function (s) { s.classList.toggle('active', s.id === 'view-' + view); });
    if (!rendered[view]) {
      var f = {curves: renderCurves, beta: renderBeta, viewer: renderViewer, meta: renderMeta,
               selection: function () { return renderExtra('selection'); },
               attribution: function () { return renderExtra('attribution'); },
               alignment: function () { return renderExtra('alignment'); },
               compare: renderCompare}[view];
      rendered[view] = Promise.resolve().then(f).catch(function (e) { fail(view, e); });
    }
    return rendered[view];
  }

  // ---- curves -----------------------------------------------------------------------------
  var curveState = null;
  function renderCurves() {
    var C = D.curves, P = C.n[2].length;
    if (!P) { $('curve-charts').appendChild(el('p', 'note', 'No typed action in the store.')); return; }
    if (!curveState) {
      var nAll = D.meta.counts.typed;
      curveState = {types: {}, subsets: {correct: C.n_responses[0] > 0, incorrect: C.n_responses[1] > 0, all: true},
                    minn: Math.max(1, Math.min(30, Math.ceil(0.01 * nAll))), maxj: P, bands: true, x: 'j'};
      D.types.forEach(function (t) { curveState.types[t] = true; });
      if (!curveState.subsets.correct && !curveState.subsets.incorrect) curveState.subsets.all = true;
      var tbox = $('curve-types'), sbox = $('curve-subsets');
      D.types.forEach(function (t) {
        var cb = el('input'); cb.type = 'checkbox'; cb.checked = true; cb.dataset.type = t;
        cb.addEventListener('change', function () { curveState.types[t] = cb.checked; drawCurves(); });
        var sw = el('span', 'sw'); sw.style.background = TYPE_COLOR[t];
        tbox.appendChild(el('label', '', cb, sw, t));
      });
      C.subsets.forEach(function (s, i) {
        var cb = el('input'); cb.type = 'checkbox'; cb.checked = curveState.subsets[s]; cb.dataset.subset = s;
        cb.disabled = C.n_responses[i] === 0;
        cb.addEventListener('change', function () { curveState.subsets[s] = cb.checked; drawCurves(); });
        tbox.parentNode && sbox.appendChild(el('label', '', cb, s + ' (' + fmt(C.n_responses[i]) + ')'));
      });
      var minn = $('curve-minn'), maxj = $('curve-maxj'), bands = $('curve-bands');
      minn.value = curveState.minn; maxj.value = P; maxj.max = P;
      // A clamped value shows as clamped.
      minn.addEventListener('change', function () {
        curveState.minn = Math.max(1, parseInt(minn.value, 10) || 1); minn.value = curveState.minn; drawCurves();
      });
      maxj.addEventListener('change', function () {
        curveState.maxj = Math.max(1, Math.min(P, parseInt(maxj.value, 10) || P)); maxj.value = curveState.maxj; drawCurves();
      });
      bands.addEventListener('change', function () { curveState.bands = bands.checked; drawCurves(); });
      // Mean cumulative tokens at j averages over the responses reaching j, a set that shrinks, so
      // it can fall; an axis that went back would scramble the curves: by tokens, the charts stop
      // at the last position up to which it rises (said in the option's title).
      curveState.tokEnd = 0;
      while (curveState.tokEnd < P && C.tokens[curveState.tokEnd] !== null && C.tokens[curveState.tokEnd] !== undefined &&
             (curveState.tokEnd === 0 || C.tokens[curveState.tokEnd] > C.tokens[curveState.tokEnd - 1])) curveState.tokEnd++;
      var tokOpt = $('curve-x').querySelector('option[value="tokens"]');
      if (curveState.tokEnd < 2) tokOpt.disabled = true;
      else if (curveState.tokEnd < P) tokOpt.textContent = 'mean cumulative tokens (positions 1-' + curveState.tokEnd + ', where it rises)';
      $('curve-x').addEventListener('change', function (e) {
        curveState.x = e.target.value;
        $('curve-maxj').disabled = curveState.x === 'norm';  // bins cover whole responses
        drawCurves();
      });
    }
    var behaviourChart = renderSharesTable();
    return Promise.all([drawCurves(), drawCurveSide(), behaviourChart]);
  }
  function markRows(maxj) {
    if (curveState && curveState.x === 'norm') return [];  // token marks belong to positions
    return D.curves.marks.filter(function (m) { return m.position <= maxj; })
      .map(function (m) { return {position: m.position, tokens: m.tokens, label: tokenLabel(m.tokens), x: curveX(m.position - 1)}; })
      .filter(function (m) { return m.x !== null; });
  }
  // The curves' x for position index j (0-based): the position, or the mean cumulative token count
  // of the distilled model's responses at it (null where unknown).
  function curveX(j) {
    if (!curveState || curveState.x !== 'tokens') return j + 1;
    if (j >= curveState.tokEnd) return null;
    var t = D.curves.tokens[j];
    return t === null || t === undefined ? null : t;
  }
  function curveXEncoding() {
    var st = curveState;
    if (st.x === 'norm')
      return {field: 'x', type: 'quantitative', title: 'normalised position in the response (bin centres)', scale: {domain: [0, 1], nice: false}};
    if (st.x === 'tokens')
      return {field: 'x', type: 'quantitative', title: 'mean cumulative tokens', scale: {nice: false, zero: false}};
    return {field: 'x', type: 'quantitative', title: 'position j (action)', scale: {domain: [1, st.maxj], nice: false}, axis: INT_AXIS};
  }
  // By normalised position: bin b's mean share (over the responses with a typed action in it) at
  // the bin's centre; m responses, in place of n_j (min responses applies to it).
  function normRows(si, ti, s) {
    var N = D.curves.norm, B = N.bins, rows = [];
    for (var b = 0; b < B; b++) {
      var m = N.m[si][b];
      if (!m || m < curveState.minn || N.mean[si][ti][b] === null) continue;
      rows.push({j: b + 1, x: (b + 0.5) / B, subset: s, f: N.mean[si][ti][b], lo: N.lo[si][ti][b], hi: N.hi[si][ti][b], n: m, k: null});
    }
    return rows;
  }
  // Paper Fig. 3: per subset, the fractions of all types stacked at each position.
  function drawStacked() {
    var C = D.curves, st = curveState, box = $('curve-stacked'), jobs = [];
    clear(box);
    C.subsets.forEach(function (s, si) {
      if (!st.subsets[s] || !C.n_responses[si]) return;
      var rows = [], n = C.n[si];
      if (st.x === 'norm') D.types.forEach(function (t, ti) { rows = rows.concat(normRows(si, ti, s).map(function (r) { r.type = t; return r; })); });
      for (var j = 0; st.x !== 'norm' && j < Math.min(st.maxj, n.length); j++) {
        if (n[j] < st.minn || !n[j]) continue;
        var xv = curveX(j);
        if (xv === null) continue;
        D.types.forEach(function (t, ti) { rows.push({j: j + 1, x: xv, type: t, f: C.count[si][ti][j] / n[j], n: n[j]}); });
      }
      if (!rows.length) return;
      var div = el('div', 'chart card'); div.dataset.subset = s; box.appendChild(div);
      jobs.push(embed(div, {title: s + ' responses', width: 'container', height: 220, data: {values: rows},
        // By normalised position the points are bin centres: a centred step draws each bin over its own width.
        mark: {type: 'area', interpolate: st.x === 'norm' ? 'step' : 'step-after'},
        encoding: {x: curveXEncoding(), y: {field: 'f', type: 'quantitative', stack: 'zero',
                                             title: st.x === 'norm' ? 'mean share in the bin' : 'fraction of actions at j', scale: {domain: [0, 1]}},
          color: {field: 'type', type: 'nominal', title: 'type', scale: {domain: D.types, range: D.types.map(function (t) { return TYPE_COLOR[t]; })},
                  legend: {orient: 'bottom', direction: 'horizontal', labelLimit: 0}},
          order: {field: 'type', sort: 'ascending'},
          tooltip: [{field: 'j', title: st.x === 'norm' ? 'bin' : 'j'}, {field: 'type'}, {field: 'f', format: '.3f', title: 'fraction'},
                    {field: 'n', title: st.x === 'norm' ? 'responses in the bin' : 'n_j'}]}}));
    });
    return Promise.all(jobs);
  }
  // Embedded probabilities are surprisals in 1e-5 nat (report.h, quantise_probability).
  function probOf(v) { return Math.exp(-v / 100000); }
  // 0.1234 for ordinary values; small ones in significant digits (2.00e-5), never 0.0000.
  function formatP(p) { return p >= 1e-3 ? p.toFixed(4) : p > 0 ? p.toExponential(2) : '0'; }
  // 4096 -> "4.1k tok", 1000 -> "1k tok", 500 -> "500 tok" (thousands, 3 significant digits).
  function tokenLabel(t) { return t >= 1000 ? (+(t / 1000).toPrecision(3)) + 'k tok' : t + ' tok'; }

  function drawCurves() {
    var C = D.curves, box = $('curve-charts'), st = curveState, jobs = [], empty = [];
    clear(box);
    D.types.forEach(function (t, ti) {
      if (!st.types[t]) return;
      var rows = [];
      C.subsets.forEach(function (s, si) {
        if (!st.subsets[s]) return;
        if (st.x === 'norm') { rows = rows.concat(normRows(si, ti, s)); return; }
        var n = C.n[si], cnt = C.count[si][ti], lo = C.lo[si][ti], hi = C.hi[si][ti];
        for (var j = 0; j < Math.min(st.maxj, n.length); j++) {
          if (n[j] < st.minn) continue;
          var xv = curveX(j);
          if (xv === null) continue;
          rows.push({j: j + 1, x: xv, subset: s, f: cnt[j] / n[j], lo: lo[j], hi: hi[j], n: n[j], k: cnt[j]});
        }
      });
      if (!rows.length) { empty.push(t); return; }
      var div = el('div', 'chart card'); div.dataset.type = t; box.appendChild(div);
      var subs = C.subsets.filter(function (s) { return st.subsets[s]; });
      // The legend shows the lines' colours (not the pale bands'), below the chart so that it never
      // widens the card or cuts a label.
      var color = {field: 'subset', type: 'nominal', title: 'subset',
                   scale: {domain: subs, range: subs.map(function (s) { return SUBSET_COLOR[s]; })},
                   legend: {orient: 'bottom', direction: 'horizontal', symbolType: 'stroke', symbolOpacity: 1,
                            symbolStrokeWidth: 2.5, labelLimit: 0}};
      var x = curveXEncoding();
      var layers = [];
      if (st.bands) layers.push({mark: {type: 'area', opacity: 0.18}, encoding: {x: x, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, color: color}});
      // Dashes as well as colours tell the subsets apart (colour-blind readers, grey print).
      var dash = {field: 'subset', type: 'nominal', title: 'subset', legend: color.legend,
                  scale: {domain: ['correct', 'incorrect', 'all'], range: [[1, 0], [6, 3], [2, 2]]}};
      layers.push({mark: {type: 'line', strokeWidth: 1.6, clip: true}, encoding: {x: x,
        y: {field: 'f', type: 'quantitative', title: 'fraction ' + t, scale: {domain: [0, 1]}}, color: color, strokeDash: dash,
        tooltip: [{field: 'j', title: 'j'}, {field: 'subset'}, {field: 'f', format: '.3f', title: 'fraction'},
                  {field: 'lo', format: '.3f'}, {field: 'hi', format: '.3f'}, {field: 'k', title: 'count'},
                  {field: 'n', title: st.x === 'norm' ? 'responses in the bin' : 'n_j'}]}});
      var marks = markRows(st.maxj);
      if (marks.length) {
        layers.push({data: {values: marks}, mark: {type: 'rule', strokeDash: [4, 3], color: '#777'},
          encoding: {x: {field: 'x', type: 'quantitative'}, tooltip: [{field: 'label', title: 'tokens'}, {field: 'position'}]}});
        layers.push({data: {values: marks}, mark: {type: 'text', align: 'left', baseline: 'top', dx: 3, y: 2, fontSize: 10, color: '#555'},
          encoding: {x: {field: 'x', type: 'quantitative'}, text: {field: 'label'}}});
      }
      jobs.push(embed(div, {title: {text: t, color: TYPE_COLOR[t]}, width: 'container', height: 220, data: {values: rows}, layer: layers}));
    });
    jobs.push(drawStacked());
    // Say why a chart is missing instead of drawing it empty.
    if (empty.length) {
      var counts = st.x === 'norm' ? C.norm.m : C.n, where = st.x === 'norm' ? 'bin' : 'position';
      var most = Math.max.apply(null, counts.map(function (a) { return Math.max.apply(null, a.concat([0])); }));
      box.appendChild(el('p', 'note empty-curves', 'No ' + where + ' has ' + st.minn + ' or more responses in the chosen subsets' +
        ' (the most at any ' + where + ' is ' + most + '), so nothing is drawn for ' + empty.join(', ') + '. Lower "min responses".'));
    }
    return Promise.all(jobs);
  }
  function drawCurveSide() {
    var C = D.curves, rows = [], trows = [], P = C.n[2].length;
    C.subsets.forEach(function (s, si) {
      if (!C.n_responses[si]) return;
      for (var j = 0; j < P; j++) rows.push({j: j + 1, subset: s, n: C.n[si][j]});
    });
    for (var j = 0; j < P; j++) if (C.tokens[j] !== null) trows.push({j: j + 1, tokens: C.tokens[j]});
    var subs = C.subsets.filter(function (s, i) { return C.n_responses[i] > 0; });
    var a = embed($('curve-n'), {title: 'responses with a typed action at j', width: 'container', height: 180, data: {values: rows},
      mark: {type: 'line'}, encoding: {x: {field: 'j', type: 'quantitative', title: 'position j', axis: INT_AXIS},
        y: {field: 'n', type: 'quantitative', title: 'n_j'},
        color: {field: 'subset', type: 'nominal', scale: {domain: subs, range: subs.map(function (s) { return SUBSET_COLOR[s]; })}},
        tooltip: [{field: 'j'}, {field: 'subset'}, {field: 'n'}]}});
    var layers = [{mark: {type: 'line', color: '#6b46c1'}, encoding: {x: {field: 'j', type: 'quantitative', title: 'position j', axis: INT_AXIS},
      y: {field: 'tokens', type: 'quantitative', title: 'mean cumulative tokens'}, tooltip: [{field: 'j'}, {field: 'tokens'}]}}];
    var marks = markRows(P);
    if (marks.length) {
      layers.push({data: {values: marks}, mark: {type: 'rule', strokeDash: [4, 3], color: '#777'}, encoding: {x: {field: 'position', type: 'quantitative'}}});
      layers.push({data: {values: marks}, mark: {type: 'text', align: 'left', dx: 3, dy: -4, fontSize: 10, color: '#555'},
        encoding: {x: {field: 'position', type: 'quantitative'}, y: {field: 'tokens', type: 'quantitative'}, text: {field: 'label'}}});
    }
    var b = trows.length ? embed($('curve-tokens'), {title: 'mean cumulative token count at j', width: 'container', height: 180,
      data: {values: trows}, layer: layers}) : Promise.resolve($('curve-tokens').appendChild(el('p', 'note', 'No token counts.')));
    return Promise.all([a, b]);
  }
  function renderSharesTable() {
    var S = D.shares, head = ['type'], rows = [];
    ['correct', 'incorrect', 'all'].forEach(function (s) {
      head.push(s + ' pooled', s + ' mean/response');
    });
    D.types.forEach(function (t) {
      var r = [t];
      ['correct', 'incorrect', 'all'].forEach(function (s) { r.push(pct(S[s].types[t].pooled), pct(S[s].types[t].mean)); });
      rows.push(r);
    });
    var n = ['responses'];
    ['correct', 'incorrect', 'all'].forEach(function (s) { n.push(fmt(S[s].n_responses), ''); });
    rows.push(n);
    $('shares-table').appendChild(table(head, rows));
    var B = D.behaviour, brows = [];
    D.types.forEach(function (t) {
      var b = B[t], tot = b.execution + b.reflection + b.transition;
      brows.push([t, fmt(tot), tot ? pct(b.execution / tot) : '\u2013', tot ? pct(b.reflection / tot) : '\u2013',
                  tot ? pct(b.transition / tot) : '\u2013']);
    });
    $('behaviour-table').appendChild(table(['type', 'actions', 'execution', 'reflection', 'transition'], brows));
    // The same as a chart: per type, the shares of the three behaviours stacked to 1.
    var bvals = [], BEH = ['execution', 'reflection', 'transition'];
    D.types.forEach(function (t) {
      var b = B[t], tot = b.execution + b.reflection + b.transition;
      if (tot) BEH.forEach(function (k, i) { bvals.push({type: t, behaviour: k, order: i, share: b[k] / tot, n: b[k]}); });
    });
    return bvals.length ? embed($('behaviour-chart'), {title: 'behaviours within each type', width: 'container', height: 160,
      data: {values: bvals}, mark: 'bar',
      encoding: {y: {field: 'type', type: 'nominal', sort: D.types, title: null},
        x: {field: 'share', type: 'quantitative', stack: 'zero', title: 'share of the type\u2019s actions', axis: {format: '%'}, scale: {domain: [0, 1]}},
        color: {field: 'behaviour', type: 'nominal', sort: BEH, scale: {domain: BEH, range: ['#7f8c8d', '#8e44ad', '#d35400']},
                legend: {orient: 'bottom', direction: 'horizontal'}},
        order: {field: 'order'},
        tooltip: [{field: 'type'}, {field: 'behaviour'}, {field: 'share', format: '.1%'}, {field: 'n', title: 'actions'}]}}) : null;
  }

  // ---- beta -------------------------------------------------------------------------------
  function renderBeta() {
    return drawBeta(D.beta, D.meta.beta, D.meta.beta_auto, $('beta-note'), $('beta-table'), $('beta-charts'));
  }
  // rdpt's beta JSON (rdpt beta, select --summary-json) in the form the report embeds its own.
  function reportBeta(b) {
    return {procedure: b.procedure, pick: b.pick, beta_pick: b.beta, n_responses: b.n_responses, bins: b.bins,
            candidates: b.candidates.map(function (c) {
              return {beta: c.beta, hist: c.histogram, mean: c.mean_proportion, overlap: c.overlap, considered: c.considered,
                      stopped_here: c.stopped_here, first: c.first, second: c.second,
                      overlap_student_common: c.overlap_student_common, overlap_common_teacher: c.overlap_common_teacher};
            })};
  }
  // A beta search (beta_json: the report's own, or rdpt select's) as a table and one card of
  // histograms per candidate; `used` is the beta the run went on with.
  function drawBeta(B, used, usedAuto, noteBox, tableBox, box) {
    var jobs = [], types = B.candidates.length ? Object.keys(B.candidates[0].hist) : D.types;
    noteBox.textContent = 'Procedure: ' + B.procedure + (B.procedure === 'analysis'
      ? ' (paper A.2.2: the beta whose histograms of the two most frequent types overlap least; the two most frequent ' +
        'types are the two with the highest mean per-response share, the "mean" columns, not the most actions pooled ' +
        'over responses; ties in the order Shared, Teacher, Student, Boosted)'
      : ' (paper Algorithm 1: smallest overlap(Student, Common) + overlap(Common, Teacher); stop once the mean Common share exceeds the mean Teacher share)') +
      '. Histograms of the per-response share of each type over ' + fmt(B.n_responses) + ' responses, ' + B.bins +
      ' bins on [0, 1]. Picked beta = ' + B.beta_pick + '; used beta = ' + used + (usedAuto ? ' (auto).' : ' (given).');
    var head = ['beta', 'overlap'], four = B.procedure === 'analysis';
    if (four) head.push('two most frequent (by mean share)'); else head.push('O(Student,Common)', 'O(Common,Teacher)');
    types.forEach(function (t) { head.push('mean ' + t); });
    head.push('');
    var rows = B.candidates.map(function (c, i) {
      var r = [String(c.beta), fmt(c.overlap)];
      if (four) r.push(c.first + ' / ' + c.second); else r.push(fmt(c.overlap_student_common), fmt(c.overlap_common_teacher));
      types.forEach(function (t) { r.push(pct(c.mean[t])); });
      r.push((i === B.pick ? 'picked ' : '') + (c.beta === used ? 'used ' : '') + (c.considered ? '' : 'not considered ') + (c.stopped_here ? 'stop rule fired' : ''));
      return {cells: r, cls: i === B.pick ? 'picked' : ''};
    });
    tableBox.appendChild(table(head, rows));
    B.candidates.forEach(function (c, i) {
      var card = el('div', 'card' + (i === B.pick ? ' picked' : ''));
      card.dataset.beta = c.beta;
      var h = el('h4', '', '\u03b2 = ' + c.beta + ' \u00b7 overlap ' + fmt(c.overlap, 3));
      if (i === B.pick) h.appendChild(el('span', 'badge', 'pick'));
      if (c.beta === used) h.appendChild(el('span', 'badge used', 'used'));
      if (!c.considered) h.appendChild(el('span', 'badge grey', 'not considered'));
      card.appendChild(h);
      var div = el('div', 'chart'); card.appendChild(div); box.appendChild(card);
      var rows = [];
      types.forEach(function (t) {
        var hist = c.hist[t];
        for (var k = 0; k < hist.length; k++) rows.push({x: k / hist.length, type: t, h: hist[k]});
        rows.push({x: 1, type: t, h: hist[hist.length - 1]});
      });
      jobs.push(embed(div, {width: 'container', height: 140, data: {values: rows},
        mark: {type: 'area', interpolate: 'step-after', opacity: 0.3, line: {strokeWidth: 1.2}},
        encoding: {x: {field: 'x', type: 'quantitative', title: 'share of the response\u2019s actions', scale: {domain: [0, 1]}},
          y: {field: 'h', type: 'quantitative', stack: null, title: 'fraction of responses'},
          color: {field: 'type', type: 'nominal', scale: {domain: types, range: types.map(function (t) { return TYPE_COLOR[t] || '#8c8c8c'; })}},
          tooltip: [{field: 'type'}, {field: 'x', title: 'bin from', format: '.2f'}, {field: 'h', format: '.3f'}]}}));
    });
    return Promise.all(jobs);
  }

  // ---- trace viewer -----------------------------------------------------------------------
  var V = {filter: 'all', search: '', sort: 'input', page: 0, per: 50, list: [], sel: -1, view: null, probs: null};
  function pageData(p) {
    if (pages.has(p)) return pages.get(p);
    var node = $('rdpt-page-' + p);
    if (!node) throw new Error('viewer page ' + p + ' is missing from the file');
    var data = JSON.parse(node.textContent);
    if (pages.size >= 8) pages.delete(pages.keys().next().value);
    pages.set(p, data);
    return data;
  }
  function responseAt(k) {
    var per = D.meta.viewer.page_responses;
    return pageData(Math.floor(k / per))[k % per];
  }
  // The response's text, lower-cased, decoded once (for search over the embedded responses).
  var lowerText = [];
  function textOf(k) {
    if (lowerText[k] === undefined) lowerText[k] = responseAt(k).a.join('').toLowerCase();
    return lowerText[k];
  }
  // Search matches an id, or (queries of 3 characters or more) the text of the response.
  function filterList() {
    var I = D.index, q = V.search.toLowerCase(), out = [];
    for (var k = 0; k < I.id.length; k++) {
      if (V.filter !== 'all' && I.c[k] !== V.filter) continue;
      if (q && I.id[k].toLowerCase().indexOf(q) < 0 && (q.length < 3 || textOf(k).indexOf(q) < 0)) continue;
      out.push(k);
    }
    // Sorting: stable, ties in input order; responses without a value last.
    var key = {teacher: function (k) { return I.t[k] >= 0 ? -I.t[k] : Infinity; },
               'teacher-asc': function (k) { return I.t[k] >= 0 ? I.t[k] : Infinity; },
               length: function (k) { return -I.n[k]; },
               correct: function (k) { return I.c[k] === '1' ? 0 : I.c[k] === '0' ? 1 : 2; },
               incorrect: function (k) { return I.c[k] === '0' ? 0 : I.c[k] === '1' ? 1 : 2; }}[V.sort];
    if (key) out.sort(function (a, b) { return key(a) - key(b) || a - b; });
    V.list = out;
    V.page = 0;
  }
  function drawList() {
    var I = D.index, ol = $('pick-list'), pages = Math.max(1, Math.ceil(V.list.length / V.per));
    clear(ol);
    V.page = Math.max(0, Math.min(V.page, pages - 1));
    var from = V.page * V.per, to = Math.min(V.list.length, from + V.per);
    for (var i = from; i < to; i++) {
      var k = V.list[i];
      var mark = I.c[k] === '1' ? el('span', 'ok', '\u2713') : I.c[k] === '0' ? el('span', 'bad', '\u2717') : el('span', '', '\u00b7');
      var id = el('span', 'id', I.id[k]);
      id.title = I.id[k];
      var li = el('li', k === V.sel ? 'sel' : '', id,
                  el('span', '', mark, ' ' + I.n[k] + ' act' + (I.t[k] >= 0 ? ', T ' + (I.t[k] / 10).toFixed(0) + '%' : '')));
      li.dataset.k = k;
      li.tabIndex = 0;  // reachable by keyboard: Tab, arrows, Enter
      ol.appendChild(li);
    }
    $('pick-page').textContent = 'page ' + (V.page + 1) + ' of ' + pages;
    var total = D.meta.counts.responses, emb = I.id.length;
    $('pick-count').textContent = V.list.length.toLocaleString('en-US') + ' of ' + emb.toLocaleString('en-US') + ' embedded' +
      (emb < total ? ' (sample of ' + total.toLocaleString('en-US') + ' in the store)' : '');
  }
  function renderViewer() {
    var legend = $('trace-legend');
    D.types.forEach(function (t) {
      var sw = el('span', 'sw'); sw.style.background = TYPE_BG[t];
      legend.appendChild(el('span', '', sw, t));
    });
    var sw0 = el('span', 'sw'); sw0.style.border = '1px solid #999';
    legend.appendChild(el('span', '', sw0, 'unscored'));
    // Debounced: a text search reads every embedded page once (then keeps the lower-cased texts).
    var searchTimer = 0;
    $('pick-search').addEventListener('input', function (e) {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { V.search = e.target.value; filterList(); drawList(); }, 200);
    });
    $('pick-sort').addEventListener('change', function (e) { V.sort = e.target.value; filterList(); drawList(); });
    $('trace-log').addEventListener('change', function (e) { V.logY = e.target.checked; if (V.sel >= 0) select(V.sel); });
    $('pick-filter').addEventListener('change', function (e) { V.filter = e.target.value; filterList(); drawList(); });
    $('pick-prev').addEventListener('click', function () { V.page--; drawList(); });
    $('pick-next').addEventListener('click', function () { V.page++; drawList(); });
    $('pick-list').addEventListener('click', function (e) {
      var li = e.target.closest('li');
      if (li) select(parseInt(li.dataset.k, 10));
    });
    // Keyboard: arrows move through the list, Enter or Space opens the focused response; in the
    // viewer, left / right arrows (or j / k) step through the actions.
    $('pick-list').addEventListener('keydown', function (e) {
      var li = e.target.closest('li');
      if (!li) return;
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        var kk = parseInt(li.dataset.k, 10);
        select(kk);
        var again = $('pick-list').querySelector('li[data-k="' + kk + '"]');  // the list was redrawn
        if (again) again.focus();
      }
      else if (e.key === 'ArrowDown' && li.nextElementSibling) { e.preventDefault(); li.nextElementSibling.focus(); }
      else if (e.key === 'ArrowUp' && li.previousElementSibling) { e.preventDefault(); li.previousElementSibling.focus(); }
    });
    document.addEventListener('keydown', function (e) {
      if (!$('view-viewer').classList.contains('active') || V.sel < 0 || !V.types) return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;  // browser shortcuts (Alt+arrows: back/forward)
      var tag = (e.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'select' || tag === 'textarea' || tag === 'li' || tag === 'button') return;
      var step = e.key === 'ArrowRight' || e.key === 'k' ? 1 : e.key === 'ArrowLeft' || e.key === 'j' ? -1 : 0;
      if (!step) return;
      e.preventDefault();
      var cur = $('trace-text').querySelector('.act.hl'), j = cur ? parseInt(cur.dataset.j, 10) + step : 0;
      highlight(Math.max(0, Math.min(V.types.length - 1, j)), true);
    });
    var txt = $('trace-text'), tip = $('trace-tip');
    txt.addEventListener('mouseover', function (e) {
      var s = e.target.closest('.act');
      if (!s) return;
      var j = parseInt(s.dataset.j, 10), P = V.probs;
      var lines = ['action ' + (j + 1) + ' \u00b7 ' + (TYPE_CHAR[V.types[j]] || 'unscored')];
      ['pT', 'pS', 'pD'].forEach(function (m, i) {
        if (P[i]) lines.push(m + ' = ' + (P[i][j] < 0 ? 'unscored' : formatP(probOf(P[i][j]))));
      });
      tip.textContent = lines.join('\n');
      tip.hidden = false;
      highlight(j, false);
    });
    // The hover box stays inside the window: left of / above the pointer near the right / bottom edge.
    txt.addEventListener('mousemove', function (e) {
      var w = tip.offsetWidth, h = tip.offsetHeight;
      var x = e.clientX + 14 + w > window.innerWidth - 4 ? e.clientX - 14 - w : e.clientX + 14;
      var y = e.clientY + 14 + h > window.innerHeight - 4 ? e.clientY - 14 - h : e.clientY + 14;
      tip.style.left = Math.max(4, x) + 'px';
      tip.style.top = Math.max(4, y) + 'px';
    });
    txt.addEventListener('mouseleave', function () { tip.hidden = true; });
    // How to embed more: the viewer holds a sample within limits; every chart uses all responses.
    var M = D.meta, VW = M.viewer;
    $('pick-more').textContent = fmt(M.counts.embedded) + ' of ' + fmt(M.counts.responses) + ' responses are embedded' +
      (VW.sampled ? ' (a sample, seed ' + VW.seed + ')' : '') + '; limits: ' +
      (VW.limit ? fmt(VW.limit) + ' responses' : 'no response limit') + ' (--viewer-responses), ' +
      (VW.bytes ? fmt(VW.bytes / 1048576) + ' MiB of text' : 'no size limit') + ' (--viewer-mb)' +
      '. --viewer-id ID embeds a particular response (repeatable). The charts use every response.';
    filterList();
    drawList();
    if (D.index.id.length) return select(0);
    $('trace-head').textContent = 'No response is embedded (see --viewer-responses).';
  }
  // The action (1-based) whose position is nearest the pointer's x on the viewer chart; 0 outside.
  function actionAt(view, ev, n) {
    var surf = view.container() && view.container().querySelector('svg, canvas');
    if (!surf || typeof ev.clientX !== 'number') return 0;
    var x = ev.clientX - surf.getBoundingClientRect().left - view.origin()[0];
    var j = Math.round(view.scale('x').invert(x));
    return isFinite(j) ? Math.max(1, Math.min(n, j)) : 0;
  }
  function highlight(j, scroll) {
    var txt = $('trace-text'), old = txt.querySelector('.act.hl');
    if (old) old.classList.remove('hl');
    var s = txt.querySelector('.act[data-j="' + j + '"]');
    if (s) { s.classList.add('hl'); if (scroll) s.scrollIntoView({block: 'center'}); }
    if (V.view) V.view.signal('hl', j + 1).runAsync();
  }
  function select(k) {
    V.sel = k;
    // A deep link to this response: report.html#r=ID.
    if (history.replaceState) history.replaceState(null, '', '#r=' + encodeURIComponent(D.index.id[k]));
    $('trace-tip').hidden = true;
    drawList();
    var I = D.index, r = responseAt(k), head = $('trace-head'), n = r.a.length;
    V.types = r.y; V.probs = [r.p[0], r.p[1], r.p[2]];
    clear(head);
    var counts = {};
    for (var j = 0; j < n; j++) counts[r.y[j]] = (counts[r.y[j]] || 0) + 1;
    var parts = D.types.map(function (t) {
      var c = Object.keys(TYPE_CHAR).find(function (ch) { return TYPE_CHAR[ch] === t; });
      return t + ' ' + (counts[c] || 0);
    });
    head.appendChild(el('span', 'id', I.id[k]));
    head.appendChild(document.createTextNode(' \u00b7 ' + (I.c[k] === '1' ? 'correct' : I.c[k] === '0' ? 'incorrect' : 'unlabelled') +
      ' \u00b7 ' + n + ' actions \u00b7 ' + parts.join(', ') + (counts['.'] ? ', unscored ' + counts['.'] : '')));
    // The question, its reference answer and group, and the other responses to it.
    var qbox = $('trace-q');
    clear(qbox);
    var sibs = [];
    for (var g = 0; g < I.g.length; g++) if (g !== k && I.g[g] === I.g[k]) sibs.push(g);
    var line = el('div', '', 'group ', el('b', '', I.g[k]), ' \u00b7 reference answer ',
                  el('b', 'answer', r.ans === null || r.ans === undefined ? '\u2013' : r.ans),
                  ' \u00b7 ' + sibs.length + ' other response' + (sibs.length === 1 ? '' : 's') + ' to this question' + (sibs.length ? ': ' : ''));
    sibs.slice(0, 30).forEach(function (g) {
      var b = el('button', 'sib' + (I.c[g] === '1' ? ' ok' : I.c[g] === '0' ? ' bad' : ''), I.id[g]);
      b.title = (I.c[g] === '1' ? 'correct' : I.c[g] === '0' ? 'incorrect' : 'unlabelled') + ', ' + I.n[g] + ' actions';
      b.addEventListener('click', function () { select(g); });
      line.appendChild(b);
    });
    if (sibs.length > 30) line.appendChild(document.createTextNode('and ' + (sibs.length - 30) + ' more (search the group)'));
    qbox.appendChild(line);
    var qd = el('details', '', el('summary', '', 'question'), el('div', 'qtext', r.q || ''));
    qd.open = true;
    qbox.appendChild(qd);
    if (r.sys) qbox.appendChild(el('details', '', el('summary', '', 'system prompt'), el('div', 'qtext', r.sys)));
    // Text: one span per action, coloured by type.
    var txt = $('trace-text'), frag = document.createDocumentFragment(), sp = new Set(r.sp);
    clear(txt);
    for (var i = 0; i < n; i++) {
      var s = el('span', 'act t-' + (r.y[i] === '.' ? 'n' : r.y[i]) + (sp.has(i) ? ' special' : ''));
      s.textContent = r.a[i];
      s.dataset.j = i;
      frag.appendChild(s);
    }
    txt.appendChild(frag);
    txt.scrollTop = 0;
    // Chart: probabilities per action over runs of one type.
    var bg = [], lines = [], names = ['pT', 'pS', 'pD'];
    for (var a = 0; a < n;) {
      var b = a;
      while (b + 1 < n && r.y[b + 1] === r.y[a]) b++;
      if (r.y[a] !== '.') bg.push({x0: a + 0.5, x1: b + 1.5, type: TYPE_CHAR[r.y[a]]});
      a = b + 1;
    }
    for (var m = 0; m < 3; m++) {
      if (!r.p[m]) continue;
      for (var q = 0; q < n; q++) if (r.p[m][q] >= 0) lines.push({j: q + 1, model: names[m], p: probOf(r.p[m][q])});
    }
    var models = names.filter(function (x, i) { return r.p[i]; });
    var xs = {type: 'quantitative', title: 'action j', scale: {domain: [0.5, n + 0.5], nice: false}, axis: {tickMinStep: 1, format: 'd'}};
    // Log scale (toggle): from the power of ten below the smallest probability shown, up to 1.
    var pmin = lines.reduce(function (a, l) { return l.p > 0 && l.p < a ? l.p : a; }, 1);
    var ylo = V.logY ? Math.pow(10, Math.floor(Math.log10(Math.max(pmin, 1e-300)) - 1e-9)) : 0;
    if (V.logY) lines = lines.filter(function (l) { return l.p > 0; });
    var ys = V.logY ? {type: 'log', domain: [ylo, 1]} : {domain: [0, 1]};
    var spec = {width: 'container', height: 230, params: [{name: 'hl', value: 0}],
      layer: [
        {data: {values: bg}, mark: {type: 'rect', opacity: 0.9, clip: true},
         encoding: {x: Object.assign({field: 'x0'}, xs), x2: {field: 'x1'}, y: {datum: ylo, type: 'quantitative', scale: ys}, y2: {datum: 1},
                    color: {field: 'type', type: 'nominal', title: 'type', scale: {domain: D.types, range: D.types.map(function (t) { return TYPE_BG[t]; })}}}},
        {data: {values: lines}, mark: {type: 'line', strokeWidth: 1.4, point: n <= 200, clip: true},
         params: [{name: 'zoom', select: {type: 'interval', encodings: ['x']}, bind: 'scales'}],  // wheel zoom, drag pan
         encoding: {x: Object.assign({field: 'j'}, xs), y: {field: 'p', type: 'quantitative', title: 'p (geometric mean per action)' + (V.logY ? ', log scale' : ''), scale: ys},
                    stroke: {field: 'model', type: 'nominal', title: 'model', scale: {domain: models, range: models.map(function (x) { return MODEL_COLOR[x]; })}},
                    tooltip: [{field: 'j', title: 'action'}, {field: 'model'}, {field: 'p', format: '.4~g'}]}},
        {data: {values: [{}]}, mark: {type: 'rule', color: '#c0392b', strokeWidth: 1.5, clip: true},
         encoding: {x: {datum: {expr: 'hl'}, type: 'quantitative'}, opacity: {value: 0.8}}}
      ]};
    // Long responses draw on a canvas: redrawing thousands of SVG nodes on every hover is slow.
    var gen = V.gen = (V.gen || 0) + 1;  // a later selection wins over a chart still being drawn
    return embed($('trace-chart'), spec, n > 400 ? 'canvas' : 'svg').then(function (view) {
      if (gen !== V.gen) return;
      V.view = view;
      // A click selects the action under the pointer's x, wherever it lands (point markers are
      // drawn for short responses only, and the type bands lie under the lines).
      view.addEventListener('click', function (ev) {
        var j = actionAt(view, ev, n);
        if (j) highlight(j - 1, true);
      });
    });
  }

  // ---- extra sections ---------------------------------------------------------------------
  function scalarRows(obj) {
    var rows = [];
    Object.keys(obj).forEach(function (k) {
      var v = obj[k];
      if (v === null || typeof v !== 'object') rows.push([k, typeof v === 'number' ? fmt(v) : String(v)]);
    });
    return rows;
  }
  // Finds histogram-like objects: a numeric array under a known name, with optional lo/hi.
  function findHistograms(v, path, out) {
    if (!v || typeof v !== 'object' || out.length >= 24) return;
    if (Array.isArray(v)) { v.forEach(function (x, i) { findHistograms(x, path + '[' + i + ']', out); }); return; }
    var keys = ['normalised', 'normalized', 'fraction', 'hist', 'histogram', 'counts'];
    for (var i = 0; i < keys.length; i++) {
      var a = v[keys[i]];
      if (Array.isArray(a) && a.length >= 2 && a.every(function (x) { return typeof x === 'number'; })) {
        out.push({name: v.name || v.set || v.label || path || 'histogram', values: a, lo: typeof v.lo === 'number' ? v.lo : 0,
                  hi: typeof v.hi === 'number' ? v.hi : (typeof v.lo === 'number' ? v.lo + a.length : a.length)});
        return;
      }
    }
    Object.keys(v).forEach(function (k) { findHistograms(v[k], path ? path + '.' + k : k, out); });
  }
  function renderExtra(kind) {
    var body = $(kind + '-body'), jobs = [];
    D.extras.filter(function (e) { return e.kind === kind; }).forEach(function (e) {
      body.appendChild(el('h3', '', e.path));
      var d = e.data;
      if (d && typeof d === 'object' && !Array.isArray(d)) {
        var rows = scalarRows(d);
        if (rows.length) body.appendChild(table(['field', 'value'], rows, {left: 2}));
      }
      // rdpt select's beta search, drawn as on the Beta tab; its beta types the candidates (Algorithm 1
      // over them), the header's beta the report's store (its own procedure): they may differ.
      if (kind === 'selection' && d && d.beta_search && Array.isArray(d.beta_search.candidates)) {
        body.appendChild(el('h4', '', 'beta search of this selection'));
        body.appendChild(el('p', 'note', 'This selection typed its candidates at beta = ' + d.beta + ' (' + d.beta_source +
          '), from ' + d.beta_search.procedure + ' over its ' + fmt(d.n_candidates) + ' candidates; the report\u2019s own beta (' +
          D.meta.beta + ', header) comes from the ' + D.beta.procedure + ' procedure over the report\u2019s store, so the two can differ.'));
        var bnote = el('p', 'note'), btab = el('div'), bcharts = el('div', 'grid4 sel-beta');
        body.appendChild(bnote); body.appendChild(btab); body.appendChild(bcharts);
        jobs.push(drawBeta(reportBeta(d.beta_search), d.beta, d.beta_source === 'auto', bnote, btab, bcharts));
      }
      // rdpt select --compare: every strategy's picks, and the overlaps as a matrix.
      if (kind === 'selection' && d && d.comparison && Array.isArray(d.comparison.strategies)) {
        var S = d.comparison.strategies, names = S.map(function (x) { return x.strategy; });
        body.appendChild(el('h4', '', 'every strategy on the same candidates (--compare)'));
        var ct = table(['strategy', 'chosen', 'Teacher share', 'mean tokens', 'student log-prob', 'RSR', 'accuracy'], S.map(function (x) {
          return x.not_run ? [x.strategy, 'not run: ' + x.not_run, '', '', '', '', '']
            : [x.strategy, fmt(x.n_chosen), fmt(x.mean_teacher_share), fmt(x.mean_tokens), fmt(x.mean_student_logprob),
               x.mean_rsr === null || x.mean_rsr === undefined ? '\u2013' : fmt(x.mean_rsr),
               x.accuracy === null ? '\u2013' : pct(x.accuracy) + ' of ' + fmt(x.n_labelled)];
        }));
        ct.classList.add('compare');
        body.appendChild(ct);
        var J = {};
        (d.comparison.overlaps || []).forEach(function (o) { J[o.a + '|' + o.b] = J[o.b + '|' + o.a] = o.jaccard; });
        var jt = table(['Jaccard overlap'].concat(names), names.map(function (a) {
          var ran = function (x) { return !S[names.indexOf(x)].not_run; };
          return [a].concat(names.map(function (b) { return !ran(a) || !ran(b) ? '\u2013' : a === b ? '1' : fmt(J[a + '|' + b]); }));
        }));
        jt.classList.add('overlaps');
        body.appendChild(jt);
      }
      var hs = [];
      if (kind === 'alignment') findHistograms(d, '', hs);
      if (Array.isArray(d && d.range) && d.range.length === 2) {
        hs.forEach(function (h) { if (h.lo === 0 && h.hi === h.values.length) { h.lo = d.range[0]; h.hi = d.range[1]; } });
      }
      if (kind === 'attribution' && Array.isArray(d && d.teachers)) {
        var bars = [];
        d.teachers.forEach(function (t) {
          [['Teacher', t.teacher_share], ['Student', t.student_share]].forEach(function (x) {
            if (x[1] && typeof x[1] === 'object' && typeof x[1].mean === 'number')
              bars.push({teacher: String(t.teacher), share: x[0], mean: x[1].mean, lo: x[1].lo, hi: x[1].hi});
          });
        });
        if (bars.length) {
          var bdiv = el('div', 'chart card'); body.appendChild(bdiv);
          jobs.push(embed(bdiv, {width: 'container', height: 220, data: {values: bars},
            encoding: {x: {field: 'teacher', type: 'nominal', title: 'candidate teacher'}, xOffset: {field: 'share'},
                       color: {field: 'share', type: 'nominal', title: 'share', scale: {domain: ['Teacher', 'Student'], range: [TYPE_COLOR.Teacher, TYPE_COLOR.Student]}}},
            layer: [{mark: 'bar', encoding: {y: {field: 'mean', type: 'quantitative', title: 'mean share per response'},
                      tooltip: [{field: 'teacher'}, {field: 'share'}, {field: 'mean', format: '.4f'}, {field: 'lo', format: '.4f'}, {field: 'hi', format: '.4f'}]}},
                    {mark: {type: 'rule', color: '#333'}, encoding: {y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}}}]}));
        }
      }
      if (hs.length) {
        var rowsH = [];
        hs.forEach(function (h) {
          var s = h.values.reduce(function (a, b) { return a + b; }, 0) || 1, w = (h.hi - h.lo) / h.values.length;
          h.values.forEach(function (x, k) { rowsH.push({set: String(h.name), x: h.lo + k * w, f: x / s}); });
          rowsH.push({set: String(h.name), x: h.hi, f: h.values[h.values.length - 1] / s});  // closes the last step
        });
        var div = el('div', 'chart card'); body.appendChild(div);
        jobs.push(embed(div, {width: 'container', height: 240, data: {values: rowsH},
          mark: {type: 'line', interpolate: 'step-after', strokeWidth: 1.5},
          encoding: {x: {field: 'x', type: 'quantitative', title: kind === 'alignment' ? 'pT \u2212 pD' : 'value'},
            y: {field: 'f', type: 'quantitative', title: 'fraction'}, color: {field: 'set', type: 'nominal', title: 'set'},
            tooltip: [{field: 'set'}, {field: 'x', format: '.3f'}, {field: 'f', format: '.4f'}]}}));
      }
      // Arrays of flat objects as tables (e.g. one row per teacher).
      if (d && typeof d === 'object') {
        Object.keys(d).forEach(function (k) {
          var a = d[k];
          if (!Array.isArray(a) || !a.length || typeof a[0] !== 'object' || a[0] === null) return;
          var est = function (x) { return x && typeof x === 'object' && !Array.isArray(x) && 'mean' in x; };
          var cols = Object.keys(a[0]).filter(function (c) { var x = a[0][c]; return x === null || typeof x !== 'object' || est(x); });
          if (!cols.length) return;
          body.appendChild(el('h4', '', k));
          body.appendChild(table(cols, a.slice(0, 500).map(function (o) {
            return cols.map(function (c) {
              var x = o[c];
              if (est(x)) return fmt(x.mean) + ' [' + fmt(x.lo) + ', ' + fmt(x.hi) + ']';
              return typeof x === 'number' ? fmt(x) : Array.isArray(x) ? x.length + ' values' : String(x);
            });
          })));
        });
      }
      var det = el('details', '', el('summary', '', 'raw JSON')), pre = el('pre', 'json');
      pre.textContent = JSON.stringify(d, null, 2);
      det.appendChild(pre);
      body.appendChild(det);
    });
    return Promise.all(jobs);
  }

  // ---- run metadata -----------------------------------------------------------------------
  function renderMeta() {
    var M = D.meta, body = $('meta-body');
    body.appendChild(table(['field', 'value'], [
      ['rdpt version', M.rdpt_version], ['generated', M.generated_at], ['store', M.store], ['scheme', M.scheme],
      ['alpha', String(M.alpha)], ['beta', M.beta + (M.beta_auto ? ' (auto: ' + D.beta.procedure + ' procedure)' : ' (given)')],
      ['responses', fmt(M.counts.responses)], ['with a typed action', fmt(M.counts.typed)],
      ['correct / incorrect', fmt(M.counts.correct) + ' / ' + fmt(M.counts.incorrect)],
      ['actions (typed)', fmt(M.counts.actions) + ' (' + fmt(M.counts.typed_actions) + ')'],
      ['in the viewer', fmt(M.counts.embedded) + (M.viewer.sampled ? ' (sample, seed ' + M.viewer.seed + ')' : '')],
      ['charting', M.libraries]].concat(Object.keys(M.store_meta).map(function (k) { return ['store ' + k, String(M.store_meta[k])]; })), {left: 2}));
    body.appendChild(el('h3', '', 'Models'));
    body.appendChild(table(['role', 'name', 'backend', 'location', 'fingerprint', 'tokenizer', 'template'],
      M.models.map(function (m) { return [m.role, m.name, m.backend, m.location, m.fingerprint, m.tokenizer, m.template]; }), {left: 7}));
    var lic = $('licenses');
    Object.keys(D.licenses).forEach(function (k) {
      lic.appendChild(el('h4', '', k));
      var pre = el('pre'); pre.textContent = D.licenses[k]; lic.appendChild(pre);
    });
  }

  // ---- comparison (rdpt report --compare) ---------------------------------------------------
  // Runs are told apart by colour and by dash; run 0 is the report's own store.
  var RUN_COLOR = ['#4a5568', '#d55e00', '#0072b2', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000'];
  var RUN_DASH = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2], [1, 3], [10, 4], [4, 4]];  // 7 against 8 colours: 56 distinct pairs
  var cmpState = null;
  function renderCompare() {
    var R = D.comparison.runs;
    var P = Math.max.apply(null, R.map(function (r) { return r.curves.n[2].length; }));
    $('compare-note').textContent = 'The report\u2019s store (' + R[0].label + ') and ' + (R.length - 1) + ' other run' +
      (R.length > 2 ? 's' : '') + ', typed with the same alpha' + (D.meta.beta_auto ? ' and each its own beta search' : ' and beta') +
      '. At each position j: the fraction of responses whose action j has the type (Wilson 95% band), and each run minus the ' +
      'first, with Newcombe\u2019s hybrid score 95% interval for a difference of independent proportions.';
    var heads = ['run', 'store', 'models', 'beta', 'typed responses (all / correct / incorrect)'].concat(D.types.map(function (t) { return 'mean ' + t + ' share'; }));
    $('compare-table').appendChild(table(heads, R.map(function (r, k) {
      var sw = el('span', 'sw'); sw.style.background = RUN_COLOR[k % RUN_COLOR.length];
      var m = r.models;
      return [el('span', '', sw, r.label), r.store, m.teacher + ' / ' + m.student + (m.distilled ? ' / ' + m.distilled : ''),
              fmt(r.beta) + (r.beta_auto ? ' (auto)' : ''), r.n_typed[2] + ' / ' + r.n_typed[0] + ' / ' + r.n_typed[1]]
        .concat(D.types.map(function (t) { return fmt(r.shares[t]); }));
    }), {left: 3}));
    if (!cmpState) {
      cmpState = {subset: 2, minn: 1, maxj: P, bands: true};
      var sub = $('compare-subset'), minn = $('compare-minn'), maxj = $('compare-maxj'), bands = $('compare-bands');
      maxj.value = P; maxj.max = P;
      sub.addEventListener('change', function () { cmpState.subset = parseInt(sub.value, 10); drawCompare(); });
      minn.addEventListener('change', function () {
        cmpState.minn = Math.max(1, parseInt(minn.value, 10) || 1); minn.value = cmpState.minn; drawCompare();
      });
      maxj.addEventListener('change', function () {
        cmpState.maxj = Math.max(1, Math.min(P, parseInt(maxj.value, 10) || P)); maxj.value = cmpState.maxj; drawCompare();
      });
      bands.addEventListener('change', function () { cmpState.bands = bands.checked; drawCompare(); });
    }
    return drawCompare();
  }
  // first: the run index of labels[0] (a difference k takes run k + 1's colour and dash).
  function runEncodings(labels, first) {
    var color = {field: 'run', type: 'nominal', title: 'run', scale: {domain: labels, range: labels.map(function (l, k) { return RUN_COLOR[(k + first) % RUN_COLOR.length]; })},
                 legend: {orient: 'bottom', direction: 'horizontal', symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2.5, labelLimit: 0}};
    var dash = {field: 'run', type: 'nominal', title: 'run', legend: color.legend,
                scale: {domain: labels, range: labels.map(function (l, k) { return RUN_DASH[(k + first) % RUN_DASH.length]; })}};
    return {color: color, dash: dash};
  }
  function drawCompare() {
    var R = D.comparison.runs, F = D.comparison.diffs, st = cmpState, si = st.subset, jobs = [];
    var box = $('compare-charts'), dbox = $('compare-diffs');
    clear(box); clear(dbox);
    var x = {field: 'j', type: 'quantitative', title: 'position j (action)', scale: {domain: [1, st.maxj], nice: false}, axis: INT_AXIS};
    var labels = R.map(function (r) { return r.label; });
    var dlabels = R.slice(1).map(function (r) { return r.label + ' \u2212 ' + R[0].label; });
    var enc = runEncodings(labels, 0), denc = runEncodings(dlabels, 1);
    var drawn = 0;
    D.types.forEach(function (t, ti) {
      var rows = [], drows = [];
      R.forEach(function (r, k) {
        var C = r.curves, n = C.n[si];
        for (var j = 0; j < Math.min(st.maxj, n.length); j++) {
          if (!n[j] || n[j] < st.minn) continue;
          rows.push({run: r.label, j: j + 1, f: C.count[si][ti][j] / n[j], lo: C.lo[si][ti][j], hi: C.hi[si][ti][j], k: C.count[si][ti][j], n: n[j]});
        }
      });
      F.forEach(function (f, k) {
        var a = R[0].curves.n[si], b = R[k + 1].curves.n[si], d = f.d[si][ti];
        for (var j = 0; j < Math.min(st.maxj, d.length); j++) {
          if (d[j] === null || a[j] < st.minn || b[j] < st.minn) continue;
          drows.push({run: dlabels[k], j: j + 1, d: d[j], lo: f.lo[si][ti][j], hi: f.hi[si][ti][j], n_first: a[j], n_run: b[j]});
        }
      });
      if (!rows.length) return;
      drawn++;
      var div = el('div', 'chart card'); div.dataset.type = t; box.appendChild(div);
      var layers = [];
      if (st.bands) layers.push({mark: {type: 'area', opacity: 0.15}, encoding: {x: x, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, color: enc.color}});
      layers.push({mark: {type: 'line', strokeWidth: 1.6, clip: true}, encoding: {x: x, y: {field: 'f', type: 'quantitative', title: 'fraction ' + t, scale: {domain: [0, 1]}},
        color: enc.color, strokeDash: enc.dash,
        tooltip: [{field: 'run'}, {field: 'j', title: 'j'}, {field: 'f', format: '.3f', title: 'fraction'}, {field: 'lo', format: '.3f'}, {field: 'hi', format: '.3f'},
                  {field: 'k', title: 'count'}, {field: 'n', title: 'n_j'}]}});
      jobs.push(embed(div, {title: {text: t, color: TYPE_COLOR[t]}, width: 'container', height: 220, data: {values: rows}, layer: layers}));
      if (!drows.length) return;
      var ddiv = el('div', 'chart card'); ddiv.dataset.type = t; dbox.appendChild(ddiv);
      var dl = [];
      if (st.bands) dl.push({mark: {type: 'area', opacity: 0.18}, encoding: {x: x, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, color: denc.color}});
      dl.push({mark: {type: 'line', strokeWidth: 1.6, clip: true}, encoding: {x: x, y: {field: 'd', type: 'quantitative', title: 'difference in fraction ' + t, scale: {domain: [-1, 1]}},
        color: denc.color, strokeDash: denc.dash,
        tooltip: [{field: 'run'}, {field: 'j', title: 'j'}, {field: 'd', format: '+.3f', title: 'difference'}, {field: 'lo', format: '+.3f'}, {field: 'hi', format: '+.3f'},
                  {field: 'n_first', title: 'n_j first'}, {field: 'n_run', title: 'n_j run'}]}});
      dl.push({data: {values: [{zero: 0}]}, mark: {type: 'rule', color: '#777', strokeDash: [3, 3]}, encoding: {y: {field: 'zero', type: 'quantitative'}}});
      jobs.push(embed(ddiv, {title: {text: t + ': run minus ' + R[0].label, color: TYPE_COLOR[t]}, width: 'container', height: 220, data: {values: drows}, layer: dl}));
    });
    if (!drawn) box.appendChild(el('p', 'note empty-curves', 'No position has ' + st.minn + ' or more responses in this subset in any run. Lower "min responses".'));
    return Promise.all(jobs);
  }

  // ---- start ------------------------------------------------------------------------------
  function start() {
    try {
      D = JSON.parse($('rdpt-data').textContent);
    } catch (e) {
      fail('reading the embedded data', e);
      document.documentElement.dataset.state = 'error';
      return Promise.resolve();
    }
    $('title').textContent = D.meta.title;
    $('subtitle').textContent = D.meta.scheme + ' \u00b7 alpha ' + D.meta.alpha + ' \u00b7 beta ' + D.meta.beta +
      (D.meta.beta_auto ? ' (auto)' : '') + ' \u00b7 ' + fmt(D.meta.counts.responses) + ' responses \u00b7 rdpt ' + D.meta.rdpt_version;
    ['selection', 'attribution', 'alignment'].forEach(function (k) {
      if (D.extras.some(function (e) { return e.kind === k; })) document.querySelector('nav button[data-view="' + k + '"]').hidden = false;
    });
    if (D.comparison) document.querySelector('nav button[data-view="compare"]').hidden = false;
    document.querySelectorAll('nav button').forEach(function (b) {
      b.addEventListener('click', function () { show(b.dataset.view); });
    });
    // report.html#r=ID opens the viewer on that response.
    var m = /^#r=(.+)$/.exec(location.hash);
    if (m) {
      var id;
      try { id = decodeURIComponent(m[1]); } catch (e) { id = m[1]; }  // a malformed link: taken as written
      var k = D.index.id.indexOf(id);
      if (k >= 0) return show('viewer').then(function () { V.page = Math.max(0, Math.floor(V.list.indexOf(k) / V.per)); return select(k); });
      fail('the link #r=' + id, new Error('no embedded response ' + id + ' (see --viewer-id)'));
    }
    return show('curves');
  }
  var ready = new Promise(function (resolve) {
    document.addEventListener('DOMContentLoaded', function () {
      start().then(function () {
        if (!document.documentElement.dataset.state) document.documentElement.dataset.state = errors.length ? 'error' : 'ready';
        var ld = document.getElementById('loading');
        if (ld) ld.hidden = true;
        resolve();
      });
    });
  });
  // For tests and the console: views, selection by id, errors.
  window.rdptReport = {
    ready: ready, errors: errors,
    data: function () { return D; },
    tokenLabel: tokenLabel,
    formatP: formatP,
    viewerView: function () { return V.view; },
    show: function (view) { return show(view).then(function () {}); },
    selectId: function (id) {
      var k = D.index.id.indexOf(id);
      if (k < 0) return Promise.reject(new Error('no embedded response ' + id));
      return show('viewer').then(function () {
        V.page = Math.max(0, Math.floor(V.list.indexOf(k) / V.per));
        return select(k);
      }).then(function () {});
    }
  };
})();
