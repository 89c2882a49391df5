// dashboard.js: the Warden dashboard at `/`: plugins (live from
// /v1/events), one card per node with a generated argument form, and jobs.
import {
  h, api, request, readSSE, readBody, problemFrom, toProblem, renderProblem, markTokenNeeded,
  initTokenBar, getToken, reconcile, buildField, parseJSON, pretty, fmtTime, nodePath,
} from '/assets/common.js';

const $ = (sel) => document.querySelector(sel);
const isAuth = (p) => p.status === 401 || p.kind === 'unauthenticated';
const stateBadge = (state) => h('span', { class: `state state-${String(state).replace(/[^a-z-]/g, '')}` }, String(state));

// ---------------------------------------------------------------------------
// Plugins

function renderStatus(status) {
  $('#plugins').dataset.state = 'ok';
  $('#plugins-error').hidden = true;
  const plugins = [...(status?.plugins || [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  reconcile($('#plugins tbody'), plugins, (p) => p.name, pluginRow);
  $('#plugins-empty').hidden = plugins.length > 0;
  const c = status?.cache;
  $('#cache').textContent = c ? `Module cache: ${c.hits} hits, ${c.misses} misses, ${c.rejected} rejected` : '';
}

function pluginRow(p) {
  const error = p.error ? (p.state === 'ready' ? `latest file failed (still serving the previous one): ${p.error}` : p.error) : '';
  return h('tr', { 'data-plugin': p.name, 'data-state': p.state },
    h('td', {}, h('code', {}, p.name)),
    h('td', {}, stateBadge(p.state)),
    h('td', {}, p.version ?? '—'),
    h('td', {}, fmtTime(p.loaded_at)),
    h('td', { class: 'num' }, String(p.nodes ?? '')),
    h('td', {}, p.description ?? ''),
    h('td', { class: 'error-text', 'data-role': 'plugin-error' }, error));
}

/** The status could not be read (401 without a token, or another problem). */
function statusProblem(p) {
  $('#plugins').dataset.state = isAuth(p) ? 'needs-token' : 'error';
  renderProblem($('#plugins-error'), p);
  reconcile($('#plugins tbody'), [], () => '', () => null);
  $('#plugins-empty').hidden = true;
  $('#cache').textContent = '';
}

async function loadStatus() {
  try { renderStatus(await api('/v1/status')); } catch (e) { statusProblem(toProblem(e)); }
}

// ---------------------------------------------------------------------------
// Live updates: /v1/events read with fetch so the Authorization header is sent.

let live = null; // AbortController of the current stream
let liveTimer = null;

function setLive(state, text) {
  const el = $('#live');
  el.dataset.state = state;
  el.textContent = text;
}

async function connectEvents() {
  clearTimeout(liveTimer);
  live?.abort();
  const ctrl = (live = new AbortController());
  let authFailed = false;
  const onAuthFailure = (p) => { // no point retrying until the token changes
    authFailed = true;
    statusProblem(p);
    loadNodes();
    setLive('needs-token', 'needs token');
    ctrl.abort(); // the server may keep the stream open; nothing more will come
  };
  setLive('connecting', 'connecting…');
  try {
    const res = await request('/v1/events', { accept: 'text/event-stream', signal: ctrl.signal });
    if (!res.ok) throw await problemFrom(res);
    setLive('live', 'live');
    await readSSE(res, (name, data) => {
      if (name === 'status') {
        renderStatus(data);
        loadNodes();
      } else if (name === 'error') {
        if (isAuth(data)) onAuthFailure(data);
        else statusProblem(data);
      }
    });
  } catch (e) {
    if (ctrl.signal.aborted) return;
    const p = toProblem(e);
    if (isAuth(p)) onAuthFailure(p);
  }
  if (ctrl.signal.aborted || authFailed) return;
  setLive('offline', 'reconnecting…');
  liveTimer = setTimeout(connectEvents, 3000);
}

// ---------------------------------------------------------------------------
// Nodes

let nodesSeq = 0; // only the latest /v1/nodes answer is applied

async function loadNodes() {
  const seq = ++nodesSeq;
  let list;
  try {
    list = await api('/v1/nodes');
    if (seq !== nodesSeq) return;
    $('#nodes-error').hidden = true;
  } catch (e) {
    if (seq !== nodesSeq) return;
    renderProblem($('#nodes-error'), toProblem(e));
    list = [];
  }
  list = Array.isArray(list) ? list : [];
  list.sort((a, b) => (a.plugin < b.plugin ? -1 : a.plugin > b.plugin ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  // One heading per plugin, followed by its node cards. Unchanged cards are
  // kept as they are, so a status event does not reset forms or outputs.
  const items = [];
  for (const d of list) {
    if (items.length === 0 || items[items.length - 1].plugin !== d.plugin) items.push({ group: d.plugin, plugin: d.plugin });
    items.push(d);
  }
  reconcile($('#node-list'), items, (it) => (it.group != null ? `group:${it.group}` : `node:${it.node}`),
    (it) => (it.group != null ? h('h3', { class: 'group', 'data-group': it.group }, it.group) : buildCard(it)));
  $('#nodes-empty').hidden = list.length > 0;
}

/** `name(param: type, ...) -> result` (stream<item> / channel<input, item>). */
function signature(d) {
  const short = d.node.startsWith(`${d.plugin}/`) ? d.node.slice(d.plugin.length + 1) : d.node;
  const params = (d.params || []).map((p) => `${p.name}: ${p.type}`).join(', ');
  const ret = d.kind === 'stream' ? `stream<${d.item}>` : d.kind === 'channel' ? `channel<${d.input}, ${d.item}>` : d.result;
  return `${short}(${params})${ret ? ` -> ${ret}` : ''}`;
}

/** The output area of a card and the operations on it. */
function makeOutput() {
  const progress = h('progress', { 'data-role': 'progress', max: 1, hidden: true });
  const progressMsg = h('span', { 'data-role': 'progress-message', class: 'hint' });
  const log = h('ol', { 'data-role': 'log', class: 'log' });
  const items = h('ol', { 'data-role': 'items', class: 'items' });
  const result = h('pre', { 'data-role': 'result', class: 'json' });
  const error = h('div', { 'data-role': 'error', class: 'problem', hidden: true });
  const el = h('div', { 'data-role': 'output', 'data-state': 'idle', class: 'output' },
    h('div', { class: 'progress-row' }, progress, progressMsg), log, items, result, error);
  return {
    el,
    reset(state) {
      el.dataset.state = state;
      delete el.dataset.job;
      delete el.dataset.closed;
      progress.hidden = true;
      progress.removeAttribute('value');
      progressMsg.textContent = '';
      log.replaceChildren();
      items.replaceChildren();
      result.textContent = '';
      error.hidden = true;
      error.replaceChildren();
    },
    progress(p) {
      progress.hidden = false;
      if (typeof p?.fraction === 'number') progress.value = Math.min(1, Math.max(0, p.fraction));
      progressMsg.textContent = p?.message ?? '';
    },
    log(l) {
      const level = String(l?.level ?? 'info');
      log.append(h('li', { 'data-level': level }, h('span', { class: 'level' }, level), ' ', String(l?.message ?? pretty(l))));
    },
    item(v) { items.append(h('li', {}, h('pre', { class: 'json' }, pretty(v)))); },
    result(v) {
      result.textContent = pretty(v);
      el.dataset.state = 'done';
    },
    fail(p) {
      renderProblem(error, p);
      el.dataset.state = 'failed';
    },
  };
}

function buildCard(d) {
  const schema = d.params_schema || {
    type: 'object', properties: Object.fromEntries((d.params || []).map((p) => [p.name, p.schema])),
  };
  const form = buildField(schema, '', '', undefined);
  const out = makeOutput();
  const streaming = d.kind !== 'channel';
  const btn = (action, text, attrs = {}) => h('button', { type: 'button', 'data-action': action, ...attrs }, text);

  const callBtn = streaming ? btn('call', 'Call', { class: 'primary' }) : null;
  const stopBtn = streaming ? btn('stop', 'Stop', { hidden: true }) : null;
  const submitBtn = streaming ? btn('submit', 'Submit as job') : null;
  const openBtn = streaming ? null : btn('open', 'Open channel', { class: 'primary' });
  const chanInput = h('input', { type: 'text', 'data-role': 'channel-input', spellcheck: 'false',
    placeholder: d.input_schema?.type === 'string' ? `message (${d.input})` : `message as JSON (${d.input})` });
  const sendBtn = btn('send', 'Send');
  const closeBtn = btn('close', 'Close');
  const chanBox = h('div', { class: 'channel', 'data-role': 'channel', hidden: true }, chanInput, sendBtn, closeBtn);

  const card = h('section', { class: 'node', 'data-node': d.node, 'data-kind': d.kind },
    h('header', {}, h('h4', {}, h('code', {}, d.node)), h('span', { class: `kind kind-${d.kind}` }, d.kind)),
    h('pre', { class: 'sig' }, signature(d)),
    d.docs && h('p', { class: 'docs' }, d.docs),
    d.not_callable && h('p', { class: 'not-callable' }, `Not callable: ${d.not_callable}`),
    h('form', { class: 'args', 'data-role': 'form' }, form.el),
    h('div', { class: 'actions' }, callBtn, stopBtn, submitBtn, openBtn),
    chanBox,
    out.el);
  if (d.not_callable) [callBtn, submitBtn, openBtn].forEach((b) => b && (b.disabled = true));

  /** The form's arguments, or null (after showing why) if an input is invalid. */
  const args = () => {
    try { return form.get(); } catch (e) {
      out.reset('failed');
      out.fail({ kind: 'invalid-input', detail: e.message });
      return null;
    }
  };

  // Call (SSE form of POST /v1/call/{node}): progress, log, items, then result or error.
  let running = null; // AbortController of the running call
  async function call() {
    const a = args();
    if (!a) return;
    out.reset('running');
    running = new AbortController();
    callBtn.disabled = true;
    stopBtn.hidden = false;
    try {
      const res = await request(`/v1/call/${nodePath(d.node)}`, { method: 'POST', body: a, accept: 'text/event-stream', signal: running.signal });
      if (!res.ok) throw await problemFrom(res);
      if (!(res.headers.get('content-type') || '').includes('text/event-stream')) { out.result(await readBody(res)); return; }
      let ended = false;
      await readSSE(res, (name, data) => {
        if (ended) return;
        if (name === 'progress') out.progress(data);
        else if (name === 'log') out.log(data);
        else if (name === 'item') out.item(data);
        else if (name === 'result') { ended = true; out.result(data); }
        else if (name === 'error') { ended = true; out.fail(data); }
      });
      if (!ended) out.fail({ kind: 'unavailable', detail: 'the event stream ended without a result' });
    } catch (e) {
      out.fail(toProblem(e));
    } finally {
      running = null;
      callBtn.disabled = !!d.not_callable;
      stopBtn.hidden = true;
    }
  }

  // Submit as job: POST /v1/jobs/{node}; the output shows the job record.
  async function submit() {
    const a = args();
    if (!a) return;
    out.reset('running');
    try {
      const record = await api(`/v1/jobs/${nodePath(d.node)}`, { method: 'POST', body: a });
      out.result(record);
      if (record?.id != null) out.el.dataset.job = String(record.id);
    } catch (e) {
      out.fail(toProblem(e));
    }
    refreshJobs();
  }

  // Channel: a WebSocket at /v1/channel/{node}?args=...&access_token=...
  let ws = null;
  function open() {
    const a = args();
    if (!a) return;
    out.reset('running');
    const q = new URLSearchParams({ args: JSON.stringify(a) });
    if (getToken()) q.set('access_token', getToken());
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const sock = (ws = new WebSocket(`${scheme}://${location.host}/v1/channel/${nodePath(d.node)}?${q}`));
    let opened = false, finished = false, closedByUs = false;
    openBtn.hidden = true;
    chanBox.hidden = false;
    sock.onopen = () => { opened = true; closeBtn.disabled = false; chanInput.focus(); };
    sock.onmessage = (ev) => {
      let m;
      try { m = parseJSON(ev.data); } catch { out.log({ level: 'warn', message: `unreadable message: ${ev.data}` }); return; }
      if (m?.type === 'item') out.item(m.value);
      else if (m?.type === 'progress') out.progress(m);
      else if (m?.type === 'log') out.log(m);
      else if (m?.type === 'result') { finished = true; out.result(m.value); }
      else if (m?.type === 'error') { finished = true; out.fail(m); }
    };
    sock.onclose = (ev) => {
      if (ws === sock) ws = null;
      openBtn.hidden = false;
      chanBox.hidden = true;
      if (finished) return;
      if (closedByUs) { out.el.dataset.state = 'done'; out.el.dataset.closed = 'by-user'; return; }
      out.fail(opened
        ? { kind: 'unavailable', detail: `the channel closed before a result (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` }
        : { kind: 'unavailable', detail: 'the channel could not be opened: the server refused the WebSocket (check the arguments and the token)' });
    };
    // An empty message ends the input: the node's last answers and its
    // result follow, then the server closes. Closed here only if that
    // does not come within 10 s.
    sock.closeByUser = () => {
      if (sock.readyState === WebSocket.OPEN) sock.send('');
      closeBtn.disabled = true;
      setTimeout(() => { if (!finished) { closedByUs = true; sock.close(1000); } }, 10000);
    };
  }

  function send() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    let value = chanInput.value;
    if (d.input_schema?.type !== 'string') {
      try { value = parseJSON(value); } catch (e) { out.log({ level: 'error', message: `not JSON: ${e.message}` }); return; }
    }
    ws.send(JSON.stringify(value));
    chanInput.value = '';
  }

  card.querySelector('form').addEventListener('submit', (e) => {
    e.preventDefault(); // Enter in a field calls the node (or opens the channel)
    if (d.not_callable) return;
    if (streaming && !running) call();
    else if (!streaming && !ws) open();
  });
  callBtn?.addEventListener('click', call);
  stopBtn?.addEventListener('click', () => running?.abort());
  submitBtn?.addEventListener('click', submit);
  openBtn?.addEventListener('click', open);
  sendBtn.addEventListener('click', send);
  chanInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); send(); } });
  closeBtn.addEventListener('click', () => ws?.closeByUser());
  return card;
}

// ---------------------------------------------------------------------------
// Jobs

let jobsTimer = null;
let jobsSeq = 0;

async function refreshJobs() {
  clearTimeout(jobsTimer);
  const seq = ++jobsSeq;
  let jobs;
  try {
    jobs = await api('/v1/jobs');
    if (seq !== jobsSeq) return;
    $('#jobs-error').hidden = true;
  } catch (e) {
    if (seq !== jobsSeq) return;
    renderProblem($('#jobs-error'), toProblem(e));
    jobs = [];
  }
  jobs = (Array.isArray(jobs) ? jobs : []).sort((a, b) => (b.created_ms ?? 0) - (a.created_ms ?? 0));
  reconcile($('#jobs tbody'), jobs, (j) => j.id, jobRow);
  $('#jobs-empty').hidden = jobs.length > 0;
  if (jobs.some((j) => j.state === 'queued' || j.state === 'running')) jobsTimer = setTimeout(refreshJobs, 2000);
}

function jobRow(j) {
  const unfinished = j.state === 'queued' || j.state === 'running';
  const outcome = [];
  if (j.state === 'done') outcome.push(h('pre', { class: 'json' }, pretty(j.result)));
  if (j.error != null || j.error_kind != null) outcome.push(h('div', { class: 'error-text' }, `${j.error_kind ?? 'error'}: ${j.error ?? ''}`));
  if (j.callback_error != null) outcome.push(h('div', { class: 'error-text' }, `callback failed: ${j.callback_error}`));
  return h('tr', { 'data-job': j.id, 'data-state': j.state },
    h('td', {}, h('code', {}, String(j.id))),
    h('td', {}, h('code', {}, String(j.node))),
    h('td', {}, stateBadge(j.state)),
    h('td', { 'data-role': 'outcome' }, outcome),
    h('td', {}, fmtTime(j.created_ms)),
    h('td', {}, fmtTime(j.finished_ms)),
    h('td', {}, unfinished && h('button', { type: 'button', 'data-action': 'cancel', onclick: (e) => cancelJob(j.id, e.target) }, 'Cancel')));
}

async function cancelJob(id, button) {
  button.disabled = true;
  try {
    await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (e) {
    renderProblem($('#jobs-error'), toProblem(e));
  }
  refreshJobs();
}

// ---------------------------------------------------------------------------
// Start, and start again whenever the token changes.

function reloadAll() {
  markTokenNeeded(false);
  loadStatus();
  loadNodes();
  refreshJobs();
  connectEvents();
}

initTokenBar(reloadAll);
reloadAll();
