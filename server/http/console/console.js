// The ocx web console (docs/console.md): a page per hash route, reading
// ocxd's JSON API under /api/. Every value from the API reaches the page
// through textContent or an attribute set by the DOM, never as HTML, so
// names, reasons and log lines cannot inject markup.
'use strict';

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
// Task states whose row changes without an event (pending reason, progress).
const LIVE = new Set(['READY', 'LAUNCHING', 'RUNNING']);
const TASK_STATES = ['PENDING', 'READY', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const PAGE_SIZE = 50;    // tasks shown per stage and page
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
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  const fill = el('div', {class: 'fill'});
  fill.style.width = pct.toFixed(1) + '%';
  return el('div', {class: 'progress' + (total > 0 && done >= total ? ' done' : ''),
                    'data-value': pct.toFixed(1), title: label},
            fill, el('span', {}, label));
}

function evalProgress(e) {
  let ended = 0;
  for (const c of e.stage_counts || []) {
    ended += (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
  }
  const total = e.task_count || 0;
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

// When a request that took `ms` and ended now may be made again: `base` ms
// after it started, or later so that the page keeps the daemon busy with it
// at most 1/20 of the time (a slow daemon is asked less often).
function nextAt(base, ms) {
  return Date.now() - ms + Math.max(base, 20 * ms);
}

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

// ---- One evaluation ----
function evaluationPage(id) {
  const view = {id: id, selected: null, cache: new Map(), stageViews: new Map()};
  view.meta = el('dl', {class: 'meta'});
  view.cancel = el('button', {class: 'danger', id: 'cancel', disabled: true,
                              onclick: () => cancel(view)}, 'Cancel evaluation');
  view.error = el('p', {class: 'error'});
  view.stages = el('div', {id: 'stages'});
  view.plan = el('div', {id: 'plan'});
  view.results = el('div', {id: 'results'});
  view.logTitle = el('span', {id: 'log-title', class: 'muted'}, 'Select a task to follow its log.');
  view.logState = el('span', {id: 'log-state', class: 'muted'});
  view.log = el('pre', {class: 'log', id: 'log'});
  show(el('h1', {}, 'Evaluation ', el('span', {id: 'eval-id'}, id)), view.meta,
       view.cancel, view.error,
       el('h2', {}, 'Tasks'), view.stages,
       el('h2', {}, 'Log'), el('div', {class: 'logbar'}, view.logTitle, view.logState),
       view.log,
       el('h2', {}, 'Results'), view.results,
       el('h2', {}, 'Plan'), view.plan);
  every(1000, () => refreshEvaluation(view));
}

function evalPath(view, rest) {
  return '/api/evaluations/' + encodeURIComponent(view.id) + (rest || '');
}

// One refresh reads the evaluation (304 when it had no event), then only
// what may have changed: a stage's page of tasks when the stage's counts
// moved or the page shows READY or running tasks, the results when more
// eval tasks succeeded. Once the evaluation has ended and all is shown,
// the page stops asking.
async function refreshEvaluation(view) {
  // One refresh at a time: a slow answer must not pile up requests.
  if (view.busy) return;
  view.busy = true;
  try {
    const withSpec = !view.planShown;
    const e = (await tagged(view.cache, evalPath(view, withSpec ? '' : '?spec=0'))).body;
    if (withSpec) {
      view.plan.replaceChildren(planView(e));
      view.planShown = true;
      view.cache.clear();  // the spec is not needed again
    }
    showMeta(view, e);
    const final = FINAL.has(e.state);
    let settled = true;
    for (const counts of e.stage_counts || []) {
      const sv = stageView(view, counts);
      const key = JSON.stringify(counts) + e.state;
      if (sv.key !== key || (sv.live && Date.now() >= sv.next)) {
        await refreshStage(view, sv);
        sv.key = key;
      }
      settled = settled && !sv.live;
    }
    const evalDone = (e.stage_counts || []).filter((c) => c.stage === 'STAGE_EVAL')
        .map((c) => c.succeeded + '/' + c.failed).join() + e.state;
    if (view.resultsKey !== evalDone && (final || !view.resultsKey ||
                                         Date.now() >= view.resultsNext)) {
      const t0 = performance.now();
      const r = await tagged(view.cache, evalPath(view, '/results'));
      view.resultsNext = nextAt(5000, performance.now() - t0);
      view.resultsKey = evalDone;
      if (r.changed) view.results.replaceChildren(resultsView(r.body));
    }
    if (final && settled && view.resultsKey === evalDone) stopRefresh();
    view.error.textContent = '';
  } catch (err) {
    view.error.textContent = err.message;
  } finally {
    view.busy = false;
  }
}

// Rebuilt only when the evaluation changed; the running duration ticks on.
function showMeta(view, e) {
  view.state = e.state;
  const key = JSON.stringify(e);
  if (view.metaKey !== key) {
    view.metaKey = key;
    view.duration = el('dd', {});
    view.meta.replaceChildren(
        el('dt', {}, 'Name'), el('dd', {id: 'eval-name'}, e.name),
        el('dt', {}, 'State'), el('dd', {id: 'eval-state'}, badge(e.state)),
        el('dt', {}, 'Owner'), el('dd', {}, ownerName(e.owner)),
        el('dt', {}, 'Progress'), el('dd', {}, evalProgress(e)),
        el('dt', {}, 'Started'), el('dd', {}, when(e.create_time)),
        el('dt', {}, 'Duration'), view.duration,
        el('dt', {}, 'Work dir'), el('dd', {}, e.work_dir));
  }
  view.duration.textContent = duration(e.create_time, e.end_time);
  view.cancel.disabled = FINAL.has(e.state) || e.state === 'CANCELLING';
}

async function cancel(view) {
  if (!confirm('Cancel evaluation ' + view.id + '? Running tasks are stopped.')) return;
  view.cancel.disabled = true;
  try {
    const e = await api('/api/evaluations/' + encodeURIComponent(view.id) + '/cancel',
                        {method: 'POST', headers: {'X-Ocx-Console': '1',
                                                   'Accept': 'application/json'}});
    toast('Evaluation ' + view.id + ' is ' + e.state);
    showMeta(view, e);
  } catch (err) {
    toast(err.message, true);
    view.cancel.disabled = false;
  }
}

function taskRow(view, t) {
  const p = t.progress;
  const done = p ? Number(p.done) : 0, total = p ? Number(p.total) : 0;
  const rate = p && p.rate_per_s > 0 ? p.rate_per_s : 0;
  const eta = rate > 0 && total > done ? seconds((total - done) / rate) : '';
  const ended = FINAL.has(t.state);
  return el('tr', {class: 'selectable' + (view.selected === t.id ? ' selected' : ''),
                   'data-id': t.id, onclick: () => follow(view, t.id)},
      el('td', {}, t.id),
      el('td', {}, t.model_abbr),
      el('td', {}, (t.dataset_abbrs || []).join(', ')),
      el('td', {}, badge(t.state)),
      el('td', {class: 'num'}, t.attempt_count + ' / ' + t.max_attempts),
      el('td', {}, p ? bar(done, total, done + ' / ' + total)
                     : bar(ended && t.state === 'SUCCEEDED' ? 1 : 0, 1, ended ? t.state.toLowerCase() : '')),
      el('td', {class: 'num'}, rate ? rate.toFixed(1) + '/s' : ''),
      el('td', {class: 'num'}, eta),
      el('td', {class: 'reason'}, t.pending_reason || t.reason || ''));
}

// A stage's section: its counts, a state filter and one page of its tasks.
function stageView(view, counts) {
  let sv = view.stageViews.get(counts.stage);
  if (!sv) {
    sv = {stage: counts.stage, state: '', tokens: [''], gen: 0, live: false, next: 0};
    sv.counts = el('span', {class: 'muted'});
    sv.filter = el('select', {'data-stage': stageName(counts.stage), title: 'Show tasks in this state'},
        el('option', {value: ''}, 'all states'),
        TASK_STATES.map((s) => el('option', {value: s}, s.toLowerCase())));
    sv.filter.addEventListener('change', () => {
      sv.state = sv.filter.value;
      sv.tokens = [''];
      refreshStage(view, sv).catch((err) => { view.error.textContent = err.message; });
    });
    sv.rows = el('tbody');
    sv.range = el('span', {class: 'muted'});
    sv.prev = el('button', {onclick: () => turn(view, sv, -1)}, '‹ previous');
    sv.nextButton = el('button', {onclick: () => turn(view, sv, 1)}, 'next ›');
    view.stages.append(
        el('h3', {}, stageName(counts.stage), ' ', sv.counts, ' ', sv.filter),
        el('table', {class: 'tasks', 'data-stage': stageName(counts.stage)},
           el('thead', {}, el('tr', {}, ['Task', 'Model', 'Datasets', 'State',
               'Attempts', 'Progress', 'Rate', 'ETA', 'Waiting / reason']
               .map((h) => el('th', {}, h)))),
           sv.rows),
        el('div', {class: 'pager'}, sv.prev, ' ', sv.range, ' ', sv.nextButton));
    view.stageViews.set(counts.stage, sv);
  }
  sv.countsOf = counts;
  sv.counts.textContent = TASK_STATES.map((s) => [s, counts[s.toLowerCase()] || 0])
      .filter(([, n]) => n > 0).map(([s, n]) => n + ' ' + s.toLowerCase()).join(', ');
  showRange(sv);
  return sv;
}

// Reads the stage's current page of tasks; a newer read of the same stage
// (the pager was used meanwhile) wins.
async function refreshStage(view, sv) {
  const q = new URLSearchParams({stage: sv.stage, page_size: PAGE_SIZE});
  if (sv.state) q.set('state', sv.state);
  const token = sv.tokens[sv.tokens.length - 1];
  if (token) q.set('page_token', token);
  const path = evalPath(view, '/tasks?' + q);
  if (sv.path && sv.path !== path) view.cache.delete(sv.path);
  sv.path = path;
  const gen = ++sv.gen;
  const t0 = performance.now();
  const answer = await tagged(view.cache, path);
  if (gen !== sv.gen) return;
  sv.next = nextAt(900, performance.now() - t0);
  sv.answer = answer.body;
  sv.live = answer.body.tasks.some((t) => LIVE.has(t.state));
  if (answer.changed) showRows(view, sv, answer.body.tasks);
  showRange(sv);
}

// Replaces only the rows whose task changed (all of them when the page
// holds other tasks): a page where a few tasks moved costs the browser a
// few rows.
function showRows(view, sv, tasks) {
  const keys = tasks.map((t) => JSON.stringify(t)), old = sv.keys || [];
  if (sv.rows.children.length !== tasks.length ||
      tasks.some((t, i) => sv.rows.children[i].dataset.id !== t.id)) {
    sv.rows.replaceChildren(...tasks.map((t) => taskRow(view, t)));
    if (!tasks.length) {
      sv.rows.append(el('tr', {}, el('td', {colspan: 9, class: 'muted'}, 'No tasks here.')));
    }
  } else {
    tasks.forEach((t, i) => {
      if (keys[i] !== old[i]) sv.rows.children[i].replaceWith(taskRow(view, t));
    });
  }
  sv.keys = keys;
}

function turn(view, sv, step) {
  if (step > 0 && sv.answer && sv.answer.next_page_token) sv.tokens.push(sv.answer.next_page_token);
  else if (step < 0 && sv.tokens.length > 1) sv.tokens.pop();
  else return;
  refreshStage(view, sv).catch((err) => { view.error.textContent = err.message; });
}

// "tasks 51–100 of 800" and the pager's buttons.
function showRange(sv) {
  const c = sv.countsOf || {};
  const total = (sv.state ? c[sv.state.toLowerCase()] : c.total) || 0;
  const shown = sv.answer ? sv.answer.tasks.length : 0;
  const from = (sv.tokens.length - 1) * PAGE_SIZE;
  sv.range.textContent = shown ? 'tasks ' + (from + 1) + '–' + (from + shown) + ' of ' + total
                               : 'no tasks of ' + total;
  sv.prev.disabled = sv.tokens.length <= 1;
  sv.nextButton.disabled = !(sv.answer && sv.answer.next_page_token);
}

// The live log of a task: server-sent events from /api/tasks/ID/log.
function follow(view, taskId) {
  if (logSource) logSource.close();
  view.selected = taskId;
  for (const tr of view.stages.querySelectorAll('tr.selectable')) {
    tr.classList.toggle('selected', tr.dataset.id === taskId);
  }
  view.log.textContent = '';
  view.logTitle.textContent = 'Log of ' + taskId;
  view.logState.textContent = 'waiting for the task to start…';
  const source = new EventSource('/api/tasks/' + encodeURIComponent(taskId) + '/log');
  logSource = source;
  const append = (text) => {
    const atEnd = view.log.scrollTop + view.log.clientHeight >= view.log.scrollHeight - 4;
    view.log.append(document.createTextNode(text));
    if (view.log.textContent.length > 400000) {
      view.log.textContent = view.log.textContent.slice(-300000);
    }
    if (atEnd) view.log.scrollTop = view.log.scrollHeight;
  };
  // The browser reconnects a stream cut short; the new one starts over.
  source.addEventListener('open', () => { view.log.textContent = ''; });
  source.addEventListener('log', (ev) => {
    const d = JSON.parse(ev.data);
    view.logState.textContent = 'attempt ' + d.attempt + ', ' + d.offset + ' bytes';
    append(d.text);
  });
  source.addEventListener('attempt', (ev) => {
    append('\n--- attempt ' + JSON.parse(ev.data).attempt + ' ---\n');
  });
  source.addEventListener('end', (ev) => {
    const d = JSON.parse(ev.data);
    view.logState.textContent = 'ended: ' + (d.state || d.attempt_state || '');
    source.close();
  });
  source.addEventListener('error', (ev) => {
    if (ev.data) {
      view.logState.textContent = JSON.parse(ev.data).error.message;
      source.close();
    }
  });
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
