// The ocx web console's page of one evaluation (#/e/ID; docs/console.md):
// its details, its tasks by stage a page at a time, a task's live log, the
// results and the plan. Uses console.js's helpers; values reach the page
// as text only, as there.
'use strict';

// Task states whose row changes without an event (pending reason, progress).
const LIVE = new Set(['READY', 'LAUNCHING', 'RUNNING']);
const TASK_STATES = ['PENDING', 'READY', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const PAGE_SIZE = 50;    // tasks shown per stage and page

// When a request that took `ms` and ended now may be made again: `base` ms
// after it started, or later so that the page keeps the daemon busy with it
// at most 1/20 of the time (a slow daemon is asked less often).
function nextAt(base, ms) {
  return Date.now() - ms + Math.max(base, 20 * ms);
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

// One refresh reads the evaluation (304 when it had no event), then, side
// by side, only what may have changed: a stage's page of tasks when the
// stage's counts moved or the page shows READY or running tasks (but not
// a page of all states whose tasks all ended: its tasks and their order
// are fixed), the results when more eval tasks ended. What came is shown together, in one
// repaint. Once the evaluation has ended and all is shown, the page stops
// asking.
async function refreshEvaluation(view) {
  // One refresh at a time: a slow answer must not pile up requests.
  if (view.busy) return;
  view.busy = true;
  try {
    const withSpec = !view.planShown;
    const e = (await tagged(view.cache, evalPath(view, withSpec ? '' : '?spec=0'))).body;
    const final = FINAL.has(e.state);
    const reads = [];
    const stages = (e.stage_counts || []).map((counts) => {
      const sv = stageOf(view, counts.stage);
      const key = JSON.stringify(counts) + e.state;
      if ((sv.key !== key && !sv.ended) || (sv.live && Date.now() >= sv.next)) {
        reads.push(readStage(view, sv).then((showIt) => { sv.key = key; return showIt; }));
      }
      return [sv, counts];
    });
    const evalDone = (e.stage_counts || []).filter((c) => c.stage === 'STAGE_EVAL')
        .map((c) => c.succeeded + '/' + c.failed).join() + e.state;
    if (view.resultsKey !== evalDone && (final || !view.resultsKey ||
                                         Date.now() >= view.resultsNext)) {
      reads.push(readResults(view, evalDone));
    }
    const shows = await Promise.all(reads);
    if (withSpec) {
      view.plan.replaceChildren(planView(e));
      view.planShown = true;
      view.cache.delete(evalPath(view));  // the spec is not needed again
    }
    showMeta(view, e);
    for (const [sv, counts] of stages) showCounts(sv, counts);
    for (const showIt of shows) showIt();
    const settled = stages.every(([sv]) => !sv.live);
    if (final && settled && view.resultsKey === evalDone) stopRefresh();
    view.error.textContent = '';
  } catch (err) {
    view.error.textContent = err.message;
  } finally {
    view.busy = false;
  }
}

async function readResults(view, key) {
  const t0 = performance.now();
  const r = await tagged(view.cache, evalPath(view, '/results'));
  view.resultsNext = nextAt(5000, performance.now() - t0);
  view.resultsKey = key;
  return () => { if (r.changed) view.results.replaceChildren(resultsView(r.body)); };
}

// Built once; then each field is written only when it differs (the running
// duration ticks on).
function showMeta(view, e) {
  view.state = e.state;
  if (!view.fields) {
    const f = view.fields = {
      name: el('dd', {id: 'eval-name'}), state: badge(''), owner: el('dd'),
      progress: bar(0, 0, ''), started: el('dd'), duration: el('dd'), workDir: el('dd')};
    view.meta.replaceChildren(
        el('dt', {}, 'Name'), f.name,
        el('dt', {}, 'State'), el('dd', {id: 'eval-state'}, f.state),
        el('dt', {}, 'Owner'), f.owner,
        el('dt', {}, 'Progress'), el('dd', {}, f.progress),
        el('dt', {}, 'Started'), f.started,
        el('dt', {}, 'Duration'), f.duration,
        el('dt', {}, 'Work dir'), f.workDir);
  }
  const f = view.fields;
  const [ended, total] = evalEnded(e);
  setText(f.name, e.name);
  setBadge(f.state, e.state);
  setText(f.owner, ownerName(e.owner));
  setBar(f.progress, ended, total, ended + ' / ' + total);
  setText(f.started, when(e.create_time));
  setText(f.duration, duration(e.create_time, e.end_time));
  setText(f.workDir, e.work_dir);
  setFlag(view.cancel, 'disabled', FINAL.has(e.state) || e.state === 'CANCELLING');
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

// A task's row; fillRow writes its values. The row stays bound to its task
// (data-id), and a row whose task changed is filled in place.
function taskRow(view, t) {
  const c = {id: el('td'), model: el('td'), datasets: el('td'), state: badge(''),
             attempts: el('td', {class: 'num'}), progress: bar(0, 0, ''),
             rate: el('td', {class: 'num'}), eta: el('td', {class: 'num'}),
             reason: el('td', {class: 'reason'})};
  const tr = el('tr', {class: 'selectable' + (view.selected === t.id ? ' selected' : ''),
                       'data-id': t.id, onclick: () => follow(view, t.id)},
      c.id, c.model, c.datasets, el('td', {}, c.state), c.attempts,
      el('td', {}, c.progress), c.rate, c.eta, c.reason);
  tr.cells_ = c;
  fillRow(tr, t);
  return tr;
}

function fillRow(tr, t) {
  const c = tr.cells_, p = t.progress;
  const done = p ? Number(p.done) : 0, total = p ? Number(p.total) : 0;
  const rate = p && p.rate_per_s > 0 ? p.rate_per_s : 0;
  const ended = FINAL.has(t.state);
  setText(c.id, t.id);
  setText(c.model, t.model_abbr);
  setText(c.datasets, (t.dataset_abbrs || []).join(', '));
  setBadge(c.state, t.state);
  setText(c.attempts, t.attempt_count + ' / ' + t.max_attempts);
  if (p) setBar(c.progress, done, total, done + ' / ' + total);
  else setBar(c.progress, ended && t.state === 'SUCCEEDED' ? 1 : 0, 1, ended ? t.state.toLowerCase() : '');
  setText(c.rate, rate ? rate.toFixed(1) + '/s' : '');
  setText(c.eta, rate > 0 && total > done ? seconds((total - done) / rate) : '');
  setText(c.reason, t.pending_reason || t.reason || '');
}

// A stage's section: its counts, a state filter and one page of its tasks.
function stageOf(view, stage) {
  let sv = view.stageViews.get(stage);
  if (sv) return sv;
  sv = {stage: stage, state: '', tokens: [''], gen: 0, live: false, next: 0};
  sv.counts = el('span', {class: 'muted'});
  sv.filter = el('select', {'data-stage': stageName(stage), title: 'Show tasks in this state'},
      el('option', {value: ''}, 'all states'),
      TASK_STATES.map((s) => el('option', {value: s}, s.toLowerCase())));
  sv.filter.addEventListener('change', () => {
    sv.state = sv.filter.value;
    sv.tokens = [''];
    refreshStage(view, sv);
  });
  sv.rows = el('tbody');
  sv.range = el('span', {class: 'muted'});
  sv.prev = el('button', {onclick: () => turn(view, sv, -1)}, '‹ previous');
  sv.nextButton = el('button', {onclick: () => turn(view, sv, 1)}, 'next ›');
  view.stages.append(
      el('h3', {}, stageName(stage), ' ', sv.counts, ' ', sv.filter),
      el('table', {class: 'tasks', 'data-stage': stageName(stage)},
         el('thead', {}, el('tr', {}, ['Task', 'Model', 'Datasets', 'State',
             'Attempts', 'Progress', 'Rate', 'ETA', 'Waiting / reason']
             .map((h) => el('th', {}, h)))),
         sv.rows),
      el('div', {class: 'pager'}, sv.prev, ' ', sv.range, ' ', sv.nextButton));
  view.stageViews.set(stage, sv);
  return sv;
}

function showCounts(sv, counts) {
  sv.countsOf = counts;
  setText(sv.counts, TASK_STATES.map((s) => [s, counts[s.toLowerCase()] || 0])
      .filter(([, n]) => n > 0).map(([s, n]) => n + ' ' + s.toLowerCase()).join(', '));
  showRange(sv);
}

// Reads the stage's current page of tasks; returns what shows it. A newer
// read of the same stage (the pager was used meanwhile) wins.
async function readStage(view, sv) {
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
  if (gen !== sv.gen) return () => {};
  sv.next = nextAt(900, performance.now() - t0);
  sv.answer = answer.body;
  sv.live = answer.body.tasks.some((t) => LIVE.has(t.state));
  sv.ended = !sv.state && answer.body.tasks.length > 0 &&
             answer.body.tasks.every((t) => FINAL.has(t.state));
  return () => {
    if (gen !== sv.gen) return;
    if (answer.changed) showRows(view, sv, answer.body.tasks);
    showRange(sv);
  };
}

function refreshStage(view, sv) {
  readStage(view, sv).then((showIt) => showIt())
      .catch((err) => { view.error.textContent = err.message; });
}

// Rebuilds the rows only when the page holds other tasks; else fills the
// rows whose task changed, writing only the cells that differ: a page where
// a few tasks moved costs the browser a few cells.
function showRows(view, sv, tasks) {
  const keys = tasks.map((t) => JSON.stringify(t)), old = sv.keys || [];
  const rows = sv.rows.children;
  if (!tasks.length || rows.length !== tasks.length ||
      tasks.some((t, i) => rows[i].dataset.id !== t.id)) {
    sv.rows.replaceChildren(...tasks.map((t) => taskRow(view, t)));
    if (!tasks.length) {
      sv.rows.append(el('tr', {}, el('td', {colspan: 9, class: 'muted'}, 'No tasks here.')));
    }
  } else {
    tasks.forEach((t, i) => {
      if (keys[i] !== old[i]) fillRow(rows[i], t);
    });
  }
  sv.keys = keys;
}

function turn(view, sv, step) {
  if (step > 0 && sv.answer && sv.answer.next_page_token) sv.tokens.push(sv.answer.next_page_token);
  else if (step < 0 && sv.tokens.length > 1) sv.tokens.pop();
  else return;
  refreshStage(view, sv);
}

// "tasks 51–100 of 800" and the pager's buttons.
function showRange(sv) {
  const c = sv.countsOf || {};
  const total = (sv.state ? c[sv.state.toLowerCase()] : c.total) || 0;
  const shown = sv.answer ? sv.answer.tasks.length : 0;
  const from = (sv.tokens.length - 1) * PAGE_SIZE;
  setText(sv.range, shown ? 'tasks ' + (from + 1) + '–' + (from + shown) + ' of ' + total
                          : 'no tasks of ' + total);
  setFlag(sv.prev, 'disabled', sv.tokens.length <= 1);
  setFlag(sv.nextButton, 'disabled', !(sv.answer && sv.answer.next_page_token));
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

