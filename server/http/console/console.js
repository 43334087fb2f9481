// The ocx web console (docs/console.md): a page per hash route, reading
// ocxd's JSON API under /api/. Every value from the API reaches the page
// through textContent or an attribute set by the DOM, never as HTML, so
// names, reasons and log lines cannot inject markup.
'use strict';

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
let timer = null;        // the current page's refresh
let tick = null;         // what it runs
let logSource = null;    // the open log tail (EventSource)
let ownersById = {};     // evaluation id -> owner, from the list

// ---- DOM helpers ----
// el('td', {class: 'num'}, 'text', child): strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') node.addEventListener('click', v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function show(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes);
}

function toast(text, isError) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = isError ? 'error' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

// ---- API ----
async function answerOf(res) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = body.error || {};
    throw new Error((e.code || res.status) + ': ' + (e.message || res.statusText));
  }
  return body;
}

async function api(path, options) {
  return answerOf(await fetch(path, Object.assign(
      {headers: {'Accept': 'application/json'}, cache: 'no-store'},
      options || {})));
}

// A conditional GET: sends the ETag of the answer to `path` kept in `cache`
// (a Map), and on 304 ("not modified": the evaluation had no event since)
// answers that one again. Returns {body, changed}.
async function tagged(cache, path) {
  const kept = cache.get(path);
  const headers = {'Accept': 'application/json'};
  if (kept && kept.etag) headers['If-None-Match'] = kept.etag;
  const res = await fetch(path, {headers: headers, cache: 'no-store'});
  if (res.status === 304 && kept) return {body: kept.body, changed: false};
  const body = await answerOf(res);
  cache.set(path, {etag: res.headers.get('ETag'), body: body});
  return {body: body, changed: true};
}

// ---- Formatting ----
function badge(state) {
  return el('span', {class: 'badge ' + state}, state);
}

// The in-place updates below write only what differs: an unchanged value
// costs the browser no style, layout or paint.
function setText(node, text) {
  text = String(text);
  if (node.textContent !== text) node.textContent = text;
}

function setBadge(node, state) {
  setText(node, state);
  if (node.className !== 'badge ' + state) node.className = 'badge ' + state;
}

function setFlag(node, name, on) {
  if (node[name] !== on) node[name] = on;
}

function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return isNaN(d) || d.getTime() <= 0 ? '' : d.toLocaleString();
}

function seconds(s) {
  if (!isFinite(s) || s < 0) return '';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + (s % 60) + 's';
}

function duration(start, end) {
  const a = Date.parse(start);
  if (!a) return '';
  const b = end && Date.parse(end) > 0 ? Date.parse(end) : Date.now();
  return seconds((b - a) / 1000);
}

function bar(done, total, label) {
  const node = el('div', {class: 'progress'}, el('div', {class: 'fill'}), el('span'));
  setBar(node, done, total, label);
  return node;
}

// Moves a bar made by bar(); the fill is scaled, not resized, so a moving
// bar is repainted without laying out the row.
function setBar(node, done, total, label) {
  const pct = (total > 0 ? Math.min(100, (100 * done) / total) : 0).toFixed(1);
  if (node.dataset.value === pct && node.title === label) return;
  node.dataset.value = pct;
  node.title = label;
  node.firstChild.style.transform = 'scaleX(' + pct / 100 + ')';
  setText(node.lastChild, label);
  node.classList.toggle('done', total > 0 && done >= total);
}

// [ended, total] tasks of an evaluation, for its progress bar.
function evalEnded(e) {
  let ended = 0;
  for (const c of e.stage_counts || []) {
    ended += (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
  }
  return [ended, e.task_count || 0];
}

function evalProgress(e) {
  const [ended, total] = evalEnded(e);
  return bar(ended, total, ended + ' / ' + total);
}

function ownerName(o) { return o && o.user ? o.user : ''; }

function stageName(s) { return String(s).replace('STAGE_', '').toLowerCase(); }

// ---- Router ----
function stopRefresh() {
  clearInterval(timer);
  timer = null;
  tick = null;
}

function route() {
  stopRefresh();
  if (logSource) { logSource.close(); logSource = null; }
  const hash = location.hash || '#/';
  let m;
  if ((m = hash.match(/^#\/e\/([^/]+)$/))) return evaluationPage(decodeURIComponent(m[1]));
  if (hash.startsWith('#/leaderboard')) return leaderboardPage();
  return listPage();
}

// Runs fn now and every `ms` while the tab is shown: a hidden tab asks
// nothing, and catches up as soon as it is shown again.
function every(ms, fn) {
  tick = () => { if (!document.hidden) fn(); };
  fn();
  timer = setInterval(tick, ms);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && tick) tick();
});

// ---- Evaluations list and servers ----
function listPage() {
  const tbody = el('tbody');
  const servers = el('div', {id: 'servers'});
  const error = el('p', {class: 'error'});
  show(el('h1', {}, 'Evaluations'), error,
       el('table', {id: 'evaluations'},
          el('thead', {}, el('tr', {},
             ['Evaluation', 'Name', 'State', 'Owner', 'Progress', 'Started',
              'Duration'].map((h) => el('th', {}, h)))),
          tbody),
       el('h2', {}, 'Managed model servers'), servers);
  every(2000, async () => {
    try {
      const list = await api('/api/evaluations');
      document.getElementById('whoami').textContent =
          'you: ' + list.caller.user + (list.caller.admin ? ' (admin)' : '');
      tbody.replaceChildren(...list.evaluations.map(evaluationRow));
      if (!list.evaluations.length) {
        tbody.append(el('tr', {}, el('td', {colspan: 7, class: 'muted'},
                                     'No evaluations yet: ocxctl submit CONFIG')));
      }
      error.textContent = '';
      const s = await api('/api/servers');
      servers.replaceChildren(serversTable(s.servers));
    } catch (e) {
      error.textContent = e.message;
    }
  });
}

function evaluationRow(e) {
  ownersById[e.id] = ownerName(e.owner);
  return el('tr', {'data-id': e.id},
            el('td', {}, el('a', {href: '#/e/' + encodeURIComponent(e.id)}, e.id)),
            el('td', {}, e.name),
            el('td', {}, badge(e.state)),
            el('td', {}, ownerName(e.owner)),
            el('td', {}, evalProgress(e)),
            el('td', {}, when(e.create_time)),
            el('td', {}, duration(e.create_time, e.end_time)));
}

function serversTable(pools) {
  if (!pools.length) return el('p', {class: 'muted'}, 'No managed servers running.');
  const rows = [];
  for (const p of pools) {
    const users = (p.evaluation_ids || []).map(
        (id) => id + (ownersById[id] ? ' (' + ownersById[id] + ')' : ''));
    const replicas = p.replicas || [];
    rows.push(el('tr', {},
        el('td', {}, p.id), el('td', {}, p.model_abbr),
        el('td', {}, replicas.map((r) => el('div', {}, badge(r.state), ' ', r.id, ' ',
                                            r.base_url || '', r.reason ? ' — ' + r.reason : ''))),
        el('td', {class: 'num'}, p.outstanding_tasks),
        el('td', {}, users.join(', '))));
  }
  return el('table', {},
            el('thead', {}, el('tr', {}, ['Pool', 'Model', 'Replicas',
                'Outstanding tasks', 'Used by'].map((h) => el('th', {}, h)))),
            el('tbody', {}, rows));
}

// ---- Results and charts ----
function cell(c) {
  return c && c.present ? Number(c.value) : null;
}

function fmt(v) { return v === null ? '-' : v.toFixed(2); }

// A horizontal bar chart: one bar per (label, value), scaled to 100 or the
// largest value.
function barChart(title, labels, values) {
  const width = 470, rowH = 20, left = 190, top = 22;
  const max = Math.max(100, ...values.filter((v) => v !== null));
  const chart = svg('svg', {class: 'chart', width: width,
                            height: top + rowH * labels.length + 8,
                            role: 'img'});
  chart.append(svg('title', {}, title), svg('text', {x: 6, y: 15}, title));
  labels.forEach((label, i) => {
    const y = top + i * rowH;
    const v = values[i];
    chart.append(svg('text', {x: 6, y: y + 13}, label.length > 30 ? label.slice(0, 29) + '…' : label));
    if (v === null) return;
    const w = Math.max(1, ((width - left - 50) * v) / max);
    chart.append(svg('rect', {class: 'bar', x: left, y: y + 3, width: w.toFixed(1), height: rowH - 6}));
    chart.append(svg('text', {x: (left + w + 4).toFixed(1), y: y + 13}, fmt(v)));
  });
  return chart;
}

function resultsView(r) {
  if (!r.rows || !r.rows.length) return el('p', {class: 'muted'}, 'No results yet.');
  const models = r.model_abbrs;
  const table = el('table', {id: 'results-table'},
      el('thead', {}, el('tr', {}, ['dataset', 'version', 'metric', 'mode']
          .map((h) => el('th', {}, h)), models.map((m) => el('th', {class: 'num'}, m)))),
      el('tbody', {}, r.rows.map((row) => el('tr', {'data-dataset': row.dataset, 'data-metric': row.metric},
          el('td', {}, row.dataset), el('td', {}, row.version), el('td', {}, row.metric),
          el('td', {}, row.mode),
          (row.values || []).map((c, i) => el('td', {class: 'num', 'data-model': models[i]},
                                              fmt(cell(c))))))));
  const charts = el('div', {class: 'charts'}, r.rows.filter((row) => row.metric !== '-').map(
      (row) => barChart(row.dataset + ' ' + row.metric, models, (row.values || []).map(cell))));
  return el('div', {}, table, charts);
}

function planView(e) {
  if (e.spec_omitted || !e.spec) return el('p', {class: 'muted'}, 'The spec is too large to show here.');
  const s = e.spec;
  const stage = (st) => st ? [st.partitioner && st.partitioner.type, st.runner && st.runner.type,
      st.runner && st.runner.max_num_workers ? 'max_num_workers ' + st.runner.max_num_workers : '']
      .filter(Boolean).join(', ') : '';
  return el('div', {},
      el('table', {},
         el('thead', {}, el('tr', {}, ['', 'What'].map((h) => el('th', {}, h)))),
         el('tbody', {},
            el('tr', {}, el('td', {}, 'models'), el('td', {}, (s.models || []).map(
                (m) => el('div', {}, m.abbr, el('span', {class: 'muted'}, ' ', m.path || '', ' ',
                                                m.openai_api_base || ''))))),
            el('tr', {}, el('td', {}, 'datasets'), el('td', {}, (s.datasets || []).map(
                (d) => el('div', {}, d.abbr, el('span', {class: 'muted'}, ' ', d.path || ''))))),
            el('tr', {}, el('td', {}, 'infer'), el('td', {}, stage(s.infer))),
            el('tr', {}, el('td', {}, 'eval'), el('td', {}, stage(s.eval))))),
      el('details', {}, el('summary', {}, 'The full spec (JSON)'),
         el('pre', {class: 'spec'}, JSON.stringify(s, null, 2))));
}

// ---- Leaderboard across evaluations ----
function leaderboardPage() {
  const input = el('input', {type: 'text', id: 'ids', placeholder: 'evaluation ids, comma-separated (default: the newest succeeded)'});
  const out = el('div', {id: 'leaderboard'});
  const load = async () => {
    try {
      const q = input.value.trim() ? '?ids=' + encodeURIComponent(input.value.trim()) : '';
      out.replaceChildren(leaderboardView(await api('/api/leaderboard' + q)));
    } catch (err) {
      out.replaceChildren(el('p', {class: 'error'}, err.message));
    }
  };
  show(el('h1', {}, 'Leaderboard'),
       el('p', {class: 'muted'}, 'Models × datasets across evaluations; a dataset ' +
          'prompted differently (another version) gets a column of its own.'),
       el('div', {}, input, ' ', el('button', {onclick: load}, 'Compare')), out);
  load();
}

function leaderboardView(answer) {
  const r = answer.results;
  if (!r.rows || !r.rows.length) return el('p', {class: 'muted'}, 'No results to compare.');
  const rows = r.rows.filter((row) => row.metric !== '-');
  const table = el('table', {id: 'leaderboard-table'},
      el('thead', {}, el('tr', {}, el('th', {}, 'model @ evaluation'),
          rows.map((row) => el('th', {class: 'num'}, row.dataset,
              el('div', {class: 'muted'}, row.metric + ' · ' + row.version))))),
      el('tbody', {}, r.model_abbrs.map((m, i) => el('tr', {},
          el('td', {}, m), rows.map((row) => el('td', {class: 'num'},
                                                fmt(cell((row.values || [])[i]))))))));
  const charts = el('div', {class: 'charts'}, rows.map((row) => barChart(
      row.dataset + ' ' + row.metric + ' (' + row.version + ')', r.model_abbrs,
      (row.values || []).map(cell))));
  return el('div', {}, el('p', {class: 'muted'}, 'Evaluations: ' + answer.evaluation_ids.join(', ')),
            table, charts);
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);
