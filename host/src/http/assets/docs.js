// docs.js: the offline API reference at `/docs`, built from
// GET /v1/openapi.json (which lists what this caller may use), with a
// "Try it" panel per operation.
import {
  h, api, request, toProblem, renderProblem, markTokenNeeded, initTokenBar,
  defaultValue, deref, pretty, prettyText,
} from '/assets/common.js';

const $ = (sel) => document.querySelector(sel);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const STREAM_LIMIT_MS = 10000; // how long "Try it" shows an event stream before stopping

let loadSeq = 0;

async function load() {
  const seq = ++loadSeq;
  markTokenNeeded(false);
  $('#docs-error').hidden = true;
  try {
    const doc = await api('/v1/openapi.json');
    if (seq === loadSeq) render(doc);
  } catch (e) {
    if (seq !== loadSeq) return;
    renderProblem($('#docs-error'), toProblem(e));
    $('#operations').replaceChildren();
    $('#toc').replaceChildren();
  }
}

function render(doc) {
  $('#api-title').textContent = doc.info?.title ?? 'API';
  $('#api-version').textContent = doc.info?.version != null ? `version ${doc.info.version}` : '';
  $('#api-description').textContent = doc.info?.description ?? '';

  // Group operations by their first tag ("warden" when untagged).
  const groups = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'warden';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operation(doc, path, method, op, item));
    }
  }
  // The fixed "warden" endpoints first, then the document's tag order, then the rest by name.
  const declared = (doc.tags || []).map((t) => t.name);
  const rank = (t) => (t === 'warden' ? -1 : declared.includes(t) ? declared.indexOf(t) : declared.length);
  const tags = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));

  $('#toc').replaceChildren(...tags.map((tag, i) =>
    h('a', { href: `#tag-${i}` }, tag, h('span', { class: 'hint' }, ` (${groups.get(tag).length})`))));
  $('#operations').replaceChildren(...tags.map((tag, i) => {
    const about = (doc.tags || []).find((t) => t.name === tag)?.description;
    return h('section', { class: 'tag panel', id: `tag-${i}`, 'data-tag': tag },
      h('h2', {}, tag), about && h('p', { class: 'docs' }, about), groups.get(tag));
  }));

  const schemas = Object.entries(doc.components?.schemas || {});
  $('#components').replaceChildren(...(schemas.length ? [
    h('h2', {}, 'Schemas'),
    ...schemas.map(([name, s]) => h('details', { 'data-schema': name }, h('summary', {}, h('code', {}, name)), h('pre', { class: 'json' }, pretty(s)))),
  ] : []));
}

/** First media type and its schema in an OpenAPI `content` map. */
function media(content) {
  const type = Object.keys(content || {})[0];
  return type ? { type, schema: content[type]?.schema } : null;
}

function operation(doc, path, method, op, item) {
  const id = op.operationId || `${method}_${path}`;
  // Path-level and operation-level parameters, plus any {name} in the path not declared.
  const params = [...(item.parameters || []), ...(op.parameters || [])].map((p) => deref(p, doc)).filter(Boolean);
  for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
    if (!params.some((p) => p.in === 'path' && p.name === name)) params.push({ name, in: 'path', required: true });
  }
  const req = media(deref(op.requestBody, doc)?.content);
  const responses = op.responses || {};
  const okCode = '200' in responses ? '200' : Object.keys(responses).find((c) => /^2/.test(c));
  const ok = okCode ? media(deref(responses[okCode], doc)?.content) : null;

  const paramInputs = params.filter((p) => p.in === 'path' || p.in === 'query').map((p) => ({
    p,
    input: h('input', {
      type: 'text', name: p.name, 'data-role': 'param', 'data-in': p.in, spellcheck: 'false',
      placeholder: `${p.required ? 'required' : 'optional'}${p.schema?.type ? `, ${p.schema.type}` : ''}`,
    }),
  }));
  const isJson = req && /json/.test(req.type);
  const example = isJson && req.schema !== undefined ? pretty(defaultValue(req.schema, doc)) : '';
  const body = req && h('textarea', {
    'data-role': 'body', class: 'json', spellcheck: 'false', value: example,
    rows: Math.min(16, Math.max(3, example.split('\n').length + 1)),
  });
  const status = h('span', { 'data-role': 'status', class: 'status' });
  const response = h('pre', { 'data-role': 'response', class: 'json response' });
  const tryIt = h('div', { class: 'try', 'data-state': 'idle' },
    h('h4', {}, 'Try it'),
    paramInputs.map(({ p, input }) => h('label', { class: 'field' }, h('span', { class: 'field-name' }, `${p.name} (${p.in})`), input)),
    body && h('label', { class: 'field block' }, h('span', { class: 'field-name' }, `Request body (${req.type})`), body),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', 'data-action': 'execute' }, 'Execute'), status),
    response);

  let running = null;
  tryIt.querySelector('[data-action="execute"]').addEventListener('click', async () => {
    running?.abort();
    const ctrl = (running = new AbortController());
    tryIt.dataset.state = 'running';
    delete tryIt.dataset.status;
    status.textContent = '…';
    response.textContent = '';
    // Path parameters keep their slashes (node names), each segment escaped.
    const value = (name) => paramInputs.find((x) => x.p.name === name && x.p.in === 'path')?.input.value.trim() ?? '';
    let url = path.replace(/\{([^}]+)\}/g, (_, name) => value(name).split('/').map(encodeURIComponent).join('/'));
    const query = new URLSearchParams();
    for (const { p, input } of paramInputs) if (p.in === 'query' && input.value.trim() !== '') query.set(p.name, input.value.trim());
    if ([...query].length) url += `?${query}`;
    const streaming = /event-stream/.test(ok?.type ?? '');
    const timer = streaming ? setTimeout(() => ctrl.abort(), STREAM_LIMIT_MS) : null;
    try {
      const res = await request(url, {
        method: method.toUpperCase(),
        body: body ? body.value : undefined,
        contentType: req?.type,
        accept: ok?.type ?? 'application/json',
        signal: ctrl.signal,
      });
      status.textContent = `${res.status} ${res.statusText}`;
      tryIt.dataset.status = String(res.status);
      if (res.status === 401) markTokenNeeded(true);
      if (/event-stream/.test(res.headers.get('content-type') || '')) {
        // Show the stream as it arrives, until it ends or the time limit stops it.
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value: chunk, done } = await reader.read();
          if (done) break;
          response.textContent += decoder.decode(chunk, { stream: true });
        }
      } else {
        response.textContent = prettyText(await res.text());
      }
      tryIt.dataset.state = 'done';
    } catch (e) {
      if (running !== ctrl) return; // superseded by a newer Execute
      if (ctrl.signal.aborted && tryIt.dataset.status) {
        response.textContent += '\n(stopped reading the stream)';
        tryIt.dataset.state = 'done';
      } else {
        const p = toProblem(e);
        status.textContent = p.kind;
        response.textContent = p.detail;
        tryIt.dataset.state = 'failed';
      }
    } finally {
      clearTimeout(timer);
    }
  });

  const schemaBox = (role, title, schema) => schema !== undefined &&
    h('details', { 'data-role': role }, h('summary', {}, title), h('pre', { class: 'json' }, pretty(schema)));

  return h('section', { class: 'operation', 'data-operation': id, 'data-method': method, 'data-path': path },
    h('header', {},
      h('span', { class: `method method-${method}` }, method.toUpperCase()), ' ',
      h('code', { class: 'path' }, path), ' ',
      op.summary && h('span', { class: 'summary' }, op.summary)),
    op.description && h('p', { class: 'docs' }, op.description),
    schemaBox('request-schema', `Request body${req ? ` (${req.type})` : ''}`, req?.schema),
    schemaBox('response-schema', `Response ${okCode}${ok ? ` (${ok.type})` : ''}`, ok?.schema),
    tryIt);
}

initTokenBar(load);
load();
