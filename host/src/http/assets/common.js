// common.js: helpers shared by the Warden dashboard and docs pages.
//
// Everything the server sends (node names, docs, errors, results) is
// untrusted: it is only ever put into the page as text, through h() /
// textContent, never through innerHTML.

// ---------------------------------------------------------------------------
// Small DOM helper

// Attributes set as DOM properties rather than with setAttribute.
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'open']);

/**
 * h('div', {class: 'x', 'data-role': 'y', onclick: fn}, child, 'text', [more]):
 * creates an element. Strings become text nodes; null/false children and
 * attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (typeof v === 'function' && k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return el;
}

// ---------------------------------------------------------------------------
// JSON that keeps 64-bit integers exact
//
// u64/s64 values do not fit a JS number. Where the browser supports
// JSON.rawJSON (Chromium 114+), integers that are not safe are kept as raw
// JSON text: they print exactly and JSON.stringify writes them back verbatim.

const RAW = typeof JSON.rawJSON === 'function';

export function parseJSON(text) {
  if (!RAW) return JSON.parse(text);
  return JSON.parse(text, (key, value, ctx) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && ctx && /^-?\d+$/.test(ctx.source)
      ? JSON.rawJSON(ctx.source)
      : value);
}

/** A schema keyword such as `maximum` as a plain number (raw JSON becomes an approximate number). */
const num = (v) => (RAW && JSON.isRawJSON(v) ? Number(v.rawJSON) : v);
/** The exact text of a schema number, for attributes such as `max`. */
const numText = (v) => (RAW && JSON.isRawJSON(v) ? v.rawJSON : String(v));

export const pretty = (v) => JSON.stringify(v, null, 2) ?? 'undefined';

/** Pretty-prints JSON text; returns it unchanged if it is not JSON. */
export function prettyText(text) {
  try { return pretty(parseJSON(text)); } catch { return text; }
}

/** A time (ISO string or milliseconds) in local, readable form; '' for null. */
export function fmtTime(v) {
  if (v == null || v === '') return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
}

/** A node name as a URL path (slashes kept, each segment escaped). */
export const nodePath = (node) => node.split('/').map(encodeURIComponent).join('/');

// ---------------------------------------------------------------------------
// Token, requests and problems

const TOKEN_KEY = 'warden-token';
export const getToken = () => localStorage.getItem(TOKEN_KEY) || '';

function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Highlights (or stops highlighting) the token field after a 401. */
export function markTokenNeeded(on) {
  document.getElementById('token')?.classList.toggle('needs-token', on);
}

/** Wires the header's token form; onChange runs after Save or Clear. */
export function initTokenBar(onChange) {
  const input = document.getElementById('token');
  input.value = getToken();
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    markTokenNeeded(false);
    onChange();
  });
  document.querySelector('[data-action="clear-token"]').addEventListener('click', () => {
    input.value = '';
    setToken('');
    onChange();
  });
}

/**
 * fetch() with the bearer token (if any). A non-string body is sent as JSON;
 * a string body is sent as it is (with `contentType`, JSON by default).
 */
export function request(path, { method = 'GET', body, accept = 'application/json', contentType, signal } = {}) {
  const headers = { Accept: accept };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body !== 'string') body = JSON.stringify(body);
    headers['Content-Type'] = contentType || 'application/json';
  }
  return fetch(path, { method, headers, body, signal });
}

/** An error carrying an RFC 9457 problem object (see renderProblem). */
export class Problem extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || 'error');
    this.problem = problem;
  }
}

/** The body of a response: parsed JSON, else text, else null when empty. */
export async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try { return parseJSON(text); } catch { return text; }
}

/** Turns a failed response into a Problem (bodies that are not problem JSON too). */
export async function problemFrom(res) {
  const body = await readBody(res);
  const p = body && typeof body === 'object' && !Array.isArray(body)
    ? body
    : { title: res.statusText, detail: typeof body === 'string' && body ? body : `HTTP ${res.status} ${res.statusText}` };
  return new Problem({ status: res.status, ...p });
}

/** GET/POST/DELETE returning the parsed body; throws Problem on a non-2xx answer. */
export async function api(path, opts) {
  const res = await request(path, opts);
  if (!res.ok) throw await problemFrom(res);
  return readBody(res);
}

/** Any thrown error as a problem object. */
export function toProblem(err) {
  if (err instanceof Problem) return err.problem;
  if (err?.name === 'AbortError') return { kind: 'cancelled', detail: 'stopped from this page' };
  return { kind: 'network', detail: String(err?.message || err) };
}

const kindOf = (p) =>
  p.kind || (typeof p.type === 'string' && p.type.includes('/errors/') ? p.type.split('/').pop() : null) ||
  (p.status ? `http-${p.status}` : 'error');

/**
 * Shows a problem in `box`: kind, detail and `details` as JSON. After a 401
 * it also points at the token field. Sets data-kind on the box.
 */
export function renderProblem(box, p) {
  const kind = kindOf(p);
  box.dataset.kind = kind;
  box.replaceChildren(
    h('strong', { class: 'kind' }, kind), ' ',
    h('span', { class: 'detail' }, String(p.detail ?? p.title ?? '')),
    p.details != null ? h('pre', { class: 'json details' }, pretty(p.details)) : '',
  );
  if (p.status === 401 || kind === 'unauthenticated') {
    box.append(h('p', { class: 'hint' }, 'This needs a token: enter it in the Token field at the top of the page and press Save.'));
    markTokenNeeded(true);
  }
  box.hidden = false;
}

// ---------------------------------------------------------------------------
// Server-Sent Events over fetch (EventSource can neither POST nor send headers)

/**
 * Reads a text/event-stream response, calling onEvent(name, data) for each
 * event; data is parsed JSON (or the raw text if it is not JSON). Resolves
 * when the stream ends; rejects if it fails or its fetch is aborted.
 */
export async function readSSE(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '', event = '', data = [];

  const line = (l) => {
    if (l === '') { // a blank line ends the event
      if (data.length) {
        const text = data.join('\n');
        let value;
        try { value = parseJSON(text); } catch { value = text; }
        onEvent(event || 'message', value);
      }
      event = '';
      data = [];
      return;
    }
    if (l.startsWith(':')) return; // comment / keep-alive
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };

  for (;;) {
    const { value, done } = await reader.read();
    buf += decoder.decode(value || new Uint8Array(), { stream: !done });
    // Lines end in \n, \r\n or \r; hold back a final \r that may be half of \r\n.
    const end = !done && buf.endsWith('\r') ? buf.length - 1 : buf.length;
    const lines = buf.slice(0, end).split(/\r\n|\r|\n/);
    buf = lines.pop() + buf.slice(end);
    lines.forEach(line);
    if (done) return; // an unterminated last event is dropped, as the SSE spec says
  }
}

// ---------------------------------------------------------------------------
// Keyed list rendering

const keyed = new WeakMap();

/**
 * Makes container's children the elements for `items`, in order. An item
 * whose id and JSON are unchanged keeps its element (and so its form state
 * and focus); changed or new items are built with build(item).
 */
export function reconcile(container, items, idOf, build) {
  const old = keyed.get(container) || new Map();
  const next = new Map();
  const els = items.map((item) => {
    const id = idOf(item), key = JSON.stringify(item);
    const prev = old.get(id);
    const el = prev && prev.key === key ? prev.el : build(item);
    next.set(id, { key, el });
    return el;
  });
  keyed.set(container, next);
  const kids = container.children;
  if (els.length !== kids.length || els.some((el, i) => kids[i] !== el)) container.replaceChildren(...els);
}

// ---------------------------------------------------------------------------
// JSON Schema → form
//
// The schemas are the ones Warden derives from WIT types: records are
// objects, option<T> is anyOf [null, T], variants and results are oneOf of
// single-key objects and {const: case} / {enum: [cases]}, floats are
// anyOf [number, enum [NaN, Infinity, -Infinity]], flags are unique arrays
// of an enum, tuples use prefixItems. Anything else gets a JSON textarea.

const isNull = (s) => s && s.type === 'null';

/** f32/f64: a number, or one of the strings "NaN", "Infinity", "-Infinity". */
const isFloat = (s) => s.anyOf.some((b) => b.type === 'number') &&
  s.anyOf.every((b) => b.type === 'number' || Array.isArray(b.enum));

/** The cases of a variant/result as [{name, payload}] (payload undefined if none), or null. */
function variantCases(s) {
  const cases = [];
  for (const b of s.oneOf) {
    if (typeof b?.const === 'string') cases.push({ name: b.const });
    else if (Array.isArray(b?.enum) && b.enum.every((e) => typeof e === 'string')) b.enum.forEach((name) => cases.push({ name }));
    else if (b?.type === 'object' && b.properties && Object.keys(b.properties).length === 1) {
      const [name] = Object.keys(b.properties);
      cases.push({ name, payload: b.properties[name] });
    } else return null;
  }
  return cases.length ? cases : null;
}

/** Which kind of field a schema gets. */
function shapeOf(s) {
  if (s === false) return 'never'; // e.g. a resource handle: nothing can be sent
  if (!s || typeof s !== 'object' || s.$ref) return 'json';
  if (Array.isArray(s.anyOf)) {
    if (isFloat(s)) return 'float';
    return s.anyOf.length === 2 && s.anyOf.some(isNull) ? 'option' : 'json';
  }
  if (Array.isArray(s.oneOf)) return variantCases(s) ? 'variant' : 'json';
  if (Array.isArray(s.enum) && s.enum.length && s.enum.every((e) => typeof e === 'string')) return 'enum';
  switch (s.type) {
    case 'null': return 'null';
    case 'boolean': return 'bool';
    case 'integer': return 'int';
    case 'number': return 'float';
    case 'string': return 'string';
    case 'object': return s.properties ? 'record' : 'json';
    case 'array':
      if (Array.isArray(s.prefixItems)) return 'tuple';
      if (s.uniqueItems && Array.isArray(s.items?.enum)) return 'flags';
      return s.items ? 'list' : 'json';
    default: return 'json';
  }
}

/** Resolves a local "#/components/..." $ref against `root` (the OpenAPI document). */
export function deref(s, root, depth = 0) {
  while (s && typeof s === 'object' && typeof s.$ref === 'string' && root && depth++ < 32) {
    if (!s.$ref.startsWith('#/')) break;
    s = s.$ref.slice(2).split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], root);
  }
  return s;
}

/**
 * The initial value for a schema: enum → first case, integers → 0 (or the
 * bound nearest 0), floats → 0, strings → "", options → null, lists → [],
 * variants → first case. `root` resolves $refs (docs page).
 */
export function defaultValue(s, root, depth = 0) {
  s = deref(s, root);
  if (depth > 32) return null;
  const sub = (x) => defaultValue(x, root, depth + 1);
  switch (shapeOf(s)) {
    case 'enum': return s.enum[0];
    case 'bool': return false;
    case 'int': {
      const min = num(s.minimum), max = num(s.maximum);
      return min > 0 ? min : max < 0 ? max : 0;
    }
    case 'float': return 0;
    case 'string': return '';
    case 'record': return Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, sub(v)]));
    case 'tuple': return s.prefixItems.map(sub);
    case 'variant': {
      const c = variantCases(s)[0];
      return c.payload === undefined ? c.name : { [c.name]: sub(c.payload) };
    }
    case 'list': case 'flags': return [];
    default: return null; // option, null, never, JSON fallback
  }
}

const join = (path, key) => (path === '' ? String(key) : `${path}.${key}`);

/** A labelled row for one control (no label span when label is ''). */
const row = (label, ...controls) =>
  h('label', { class: 'field' }, label !== '' && h('span', { class: 'field-name' }, label), ...controls);

const legend = (label, note) => label !== '' && h('legend', {}, label, note && h('span', { class: 'hint' }, ` ${note}`));

/**
 * Builds the form field for a value of schema `s` at dotted `path` (the
 * `name` of its input elements). Returns {el, get}; get() returns the JSON
 * value or throws an Error naming the path of a bad input.
 */
export function buildField(s, path, label, init) {
  const shape = shapeOf(s);
  return BUILDERS[shape](s, path, label, init === undefined ? defaultValue(s) : init);
}

const BUILDERS = {
  never: (s, path, label) => ({
    el: row(label, h('em', { class: 'hint' }, 'cannot be sent over HTTP')),
    get() { throw new Error(`${path}: this value cannot be sent over HTTP`); },
  }),

  null: (s, path, label) => ({ el: row(label, h('em', { class: 'hint' }, 'no value')), get: () => null }),

  bool(s, path, label, v) {
    const input = h('input', { type: 'checkbox', name: path, checked: v === true });
    return { el: row(label, input), get: () => input.checked };
  },

  enum(s, path, label, v) {
    const select = h('select', { name: path }, s.enum.map((e) => h('option', { value: e }, e)));
    select.value = v ?? s.enum[0];
    return { el: row(label, select), get: () => select.value };
  },

  string(s, path, label, v) {
    const input = h('input', {
      type: 'text', name: path, value: typeof v === 'string' ? v : '', spellcheck: 'false',
      maxlength: s.maxLength, placeholder: s.maxLength === 1 ? 'one character' : null,
    });
    return { el: row(label, input), get: () => input.value };
  },

  int(s, path, label, v) {
    const input = h('input', {
      type: 'number', name: path, step: 1, value: numText(v ?? 0),
      min: s.minimum != null ? numText(s.minimum) : null, max: s.maximum != null ? numText(s.maximum) : null,
    });
    return {
      el: row(label, input),
      get() {
        const t = input.value.trim();
        if (!/^-?\d+$/.test(t)) throw new Error(`${path}: enter a whole number`);
        const n = Number(t);
        // Keep integers beyond 2^53 exact (u64/s64) when the browser can.
        return Number.isSafeInteger(n) || !RAW ? n : JSON.rawJSON(t.replace(/^(-?)0+(?=\d)/, '$1'));
      },
    };
  },

  // Floats use a text box so that "NaN", "Infinity" and "-Infinity" can be typed.
  float(s, path, label, v) {
    const input = h('input', { type: 'text', inputmode: 'decimal', name: path, value: String(v ?? 0), class: 'num', spellcheck: 'false' });
    const specials = Array.isArray(s.anyOf) ? s.anyOf.flatMap((b) => b.enum || []) : [];
    return {
      el: row(label, input),
      get() {
        const t = input.value.trim();
        if (specials.includes(t)) return t;
        const n = Number(t);
        if (t === '' || !Number.isFinite(n)) throw new Error(`${path}: enter a number${specials.length ? ` or ${specials.join(', ')}` : ''}`);
        return n;
      },
    };
  },

  // option<T>: a "set" checkbox enabling the field for T; unset sends null.
  option(s, path, label, v) {
    const inner = s.anyOf.find((b) => !isNull(b));
    const set = h('input', { type: 'checkbox', name: `${path}.__set`, checked: v != null });
    const field = buildField(inner, path, '', v ?? undefined);
    const body = h('fieldset', { class: 'option-body', disabled: !set.checked }, field.el);
    set.addEventListener('change', () => { body.disabled = !set.checked; });
    return {
      el: h('div', { class: 'field option' }, label !== '' && h('span', { class: 'field-name' }, label),
        h('label', { class: 'set' }, set, 'set'), body),
      get: () => (set.checked ? field.get() : null),
    };
  },

  record(s, path, label, v) {
    const fields = Object.entries(s.properties).map(([k, sub]) => [k, buildField(sub, join(path, k), k, v?.[k])]);
    return {
      el: h('fieldset', { class: 'record' }, legend(label), fields.map(([, f]) => f.el)),
      get: () => Object.fromEntries(fields.map(([k, f]) => [k, f.get()])),
    };
  },

  tuple(s, path, label, v) {
    const fields = s.prefixItems.map((sub, i) => buildField(sub, join(path, i), String(i), v?.[i]));
    return {
      el: h('fieldset', { class: 'tuple' }, legend(label, 'tuple'), fields.map((f) => f.el)),
      get: () => fields.map((f) => f.get()),
    };
  },

  // Lists: Add appends an entry, Remove drops the last one (indexes stay dense).
  list(s, path, label, v) {
    const entries = [];
    const box = h('div', { class: 'entries' });
    const add = (value) => {
      const f = buildField(s.items, join(path, entries.length), String(entries.length), value);
      entries.push(f);
      box.append(f.el);
    };
    (Array.isArray(v) ? v : []).forEach(add);
    return {
      el: h('fieldset', { class: 'list', 'data-path': path }, legend(label, 'list'), box,
        h('div', { class: 'list-buttons' },
          h('button', { type: 'button', 'data-action': 'add', onclick: () => add() }, 'Add'),
          h('button', { type: 'button', 'data-action': 'remove', onclick: () => entries.pop()?.el.remove() }, 'Remove'))),
      get: () => entries.map((f) => f.get()),
    };
  },

  // Flags: one checkbox per flag, all named after the path, value = flag name.
  flags(s, path, label, v) {
    const boxes = s.items.enum.map((f) => h('input', { type: 'checkbox', name: path, value: f, checked: Array.isArray(v) && v.includes(f) }));
    return {
      el: h('fieldset', { class: 'flags' }, legend(label, 'flags'), boxes.map((b) => h('label', { class: 'flag' }, b, b.value))),
      get: () => boxes.filter((b) => b.checked).map((b) => b.value),
    };
  },

  // Variants/results: a case <select> (name PATH.__case), then the payload
  // field of the chosen case at PATH.CASE. A case without payload is a string.
  variant(s, path, label, v) {
    const cases = variantCases(s);
    const current = typeof v === 'string' ? v : v && typeof v === 'object' ? Object.keys(v)[0] : cases[0].name;
    const select = h('select', { name: `${path}.__case` }, cases.map((c) => h('option', { value: c.name }, c.name)));
    select.value = cases.some((c) => c.name === current) ? current : cases[0].name;
    const slot = h('div', { class: 'payload' });
    let field = null;
    const pick = (value) => {
      const c = cases.find((x) => x.name === select.value);
      field = c.payload === undefined ? null : buildField(c.payload, join(path, c.name), c.name, value);
      slot.replaceChildren(...(field ? [field.el] : []));
    };
    select.addEventListener('change', () => pick());
    pick(v && typeof v === 'object' ? v[select.value] : undefined);
    return {
      el: h('fieldset', { class: 'variant' }, legend(label, 'variant'), row('case', select), slot),
      get: () => (field ? { [select.value]: field.get() } : select.value),
    };
  },

  json(s, path, label, v) {
    const area = h('textarea', { name: path, rows: 3, class: 'json', spellcheck: 'false', value: JSON.stringify(v ?? null) });
    return {
      el: row(label, area, h('span', { class: 'hint' }, 'JSON')),
      get() {
        try { return parseJSON(area.value); } catch (e) { throw new Error(`${path}: invalid JSON (${e.message})`); }
      },
    };
  },
};
