// dev/console/console — the page's code, the same live (`reflex dev`: the JSON endpoints and the
// Server-Sent Events stream under /_console/api/) and in a report (`reflex replay --html`: the
// records embedded in the page). Records come from dev/console/hub.ts; see docs/console.md.

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text: nothing from an event is ever HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const embedded = document.getElementById('reflex-report');
const report = embedded ? JSON.parse(embedded.textContent) : undefined;

/** Rows in the order their events reached a Broker; each an event (or a refusal) and what came of it. */
const rows = [];
/** An event id -> its latest row (an id posted twice: the later one). */
const byId = new Map();
const ui = { filter: { class: '', namespace: '', outcome: '' }, dirty: new Set(), scheduled: false, follow: true };

function rowOf(rec) {
  const row = { seq: rec.seq, rec, deliveries: [], decisions: [], children: [], el: undefined, open: false };
  rows.push(row);
  if (rec.k === 'event') {
    byId.set(rec.id, row);
    const parent = rec.parent && byId.get(rec.parent);
    if (parent) {
      row.parent = parent;
      parent.children.push(row);
      touch(parent);
    }
  }
  touch(row);
  return row;
}

function add(rec) {
  if (rec.k === 'event' || rec.k === 'refused') return void rowOf(rec);
  const row = byId.get(rec.id);
  if (!row) return;
  (rec.k === 'delivery' ? row.deliveries : row.decisions).push(rec);
  touch(row);
  // A row's class and outcome come from its family: its parent and children show them too.
  if (row.parent) touch(row.parent);
  for (const c of row.children) touch(c);
}

function touch(row) {
  ui.dirty.add(row);
  if (!ui.scheduled) {
    ui.scheduled = true;
    setTimeout(flush, 30);
  }
}

const line = (row) =>
  row.rec.k === 'event'
    ? row.rec.line
    : { kind: 'problem', text: `Broker ${row.rec.broker} refused an event (${row.rec.status}): ${row.rec.reason}`, at: row.rec.at };

/** The class a row is about: its own (a signal, enriched), else its parent's, else its signal child's. */
function classOf(row, depth = 0) {
  const l = line(row);
  if (l.class) return l.class;
  if (depth > 8) return '';
  if (row.parent) return classOf(row.parent, depth + 1);
  const child = row.children.find((c) => line(c).class);
  return child ? line(child).class : '';
}

function namespaceOf(row) {
  const l = line(row);
  return l.namespace || l.target?.namespace || row.parent?.rec.line?.namespace || row.rec.attributes?.namespace || '';
}

const failedDeliveries = (row) => row.deliveries.filter((d) => !d.ok);

/** What came of a row, as the outcome filter offers it. */
function outcomesOf(row) {
  const l = line(row);
  const out = [];
  if (l.kind === 'event') out.push(row.children.some((c) => line(c).kind === 'signal') ? 'signal' : 'no signal');
  else if (l.kind === 'action') out.push(l.outcome);
  else if (l.kind === 'signal') out.push('signal');
  else if (l.kind === 'enriched') out.push('enriched');
  else if (l.kind === 'problem') out.push('refused');
  if (failedDeliveries(row).length) out.push('delivery problem');
  return out;
}

/** Why an event became no signal, in the deciding function's words; undefined while unknown. */
function whyNot(row) {
  const d = row.decisions[0];
  if (d) return `${d.why}${d.rule && !d.why.includes(d.rule) ? ` (rule ${d.rule})` : ''}`;
  if (row.rec.k === 'event' && row.rec.triggers.every((t) => !t.matched))
    return `no Trigger of Broker ${row.rec.broker} routes ${row.rec.attributes.type}`;
  return undefined;
}

function timeText(at) {
  const t = new Date(at ?? NaN);
  return Number.isNaN(t.getTime()) ? '--:--:--' : t.toISOString().slice(11, 19);
}

const KIND_NAMES = { event: 'event', signal: 'signal', enriched: 'evidence', action: 'decision', problem: 'problem', other: 'event' };

function summary(row) {
  const l = line(row);
  const outcomes = outcomesOf(row);
  const why = l.kind === 'event' && outcomes[0] === 'no signal' ? whyNot(row) : undefined;
  const cls = classOf(row);
  const ns = namespaceOf(row);
  return [
    h('span', { class: 'time mono', title: l.at ?? '' }, timeText(l.at)),
    h('span', {}, h('span', { class: 'badge kind' }, KIND_NAMES[l.kind] ?? l.kind)),
    h('span', { class: 'text' }, l.text, why ? h('span', { class: 'why' }, `no signal: ${why}`) : null),
    h(
      'span',
      { class: 'tags' },
      cls ? h('span', { class: 'badge', title: 'class' }, cls) : null,
      ns ? h('span', { class: 'badge', title: 'namespace' }, ns) : null,
      ...outcomes.map((o) =>
        h(
          'span',
          { class: `badge${o === 'delivery problem' || o === 'failed' || o === 'refused' ? ' problem' : ''}`, title: 'outcome' },
          o,
        ),
      ),
    ),
  ];
}

function dl(pairs) {
  return h('dl', {}, ...pairs.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function goTo(row) {
  if (row.el.hidden) {
    $('filters').reset();
  }
  row.el.querySelector('.row').focus();
  row.el.scrollIntoView({ block: 'nearest' });
}

function deliveryItem(d) {
  const reply = d.reply && byId.get(d.reply.id);
  const dead = d.deadLettered
    ? d.deadLettered.to === null
      ? '; dropped: no dead-letter sink'
      : `; dead-lettered to ${d.deadLettered.to} (${d.deadLettered.ok ? 'accepted' : `failed too, ${d.deadLettered.status}`})`
    : '';
  return h(
    'li',
    { class: d.ok ? '' : 'miss' },
    `${d.trigger} → ${d.subscriber}: ${d.ok ? 'delivered' : 'FAILED'}, status ${d.status} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${d.error ? ` (${d.error})` : ''}${dead}`,
    // Retried: each attempt, and how long the Broker waited before it.
    (d.tries ?? []).length > 1
      ? h(
          'ol',
          { class: 'tries', 'aria-label': 'attempts' },
          ...d.tries.map((t, i) => h('li', {}, `attempt ${i + 1}${i > 0 ? ` after ${t.afterMs / 1000} s` : ''}: ${t.status}`)),
        )
      : '',
    d.reply
      ? h(
          'span',
          {},
          '; reply ',
          h('code', {}, d.reply.type),
          ' ',
          reply ? h('button', { type: 'button', onclick: () => goTo(reply) }, 'show the reply') : null,
        )
      : d.ok
        ? '; no reply (202)'
        : '',
  );
}

function decisionPart(row) {
  const l = line(row);
  if (l.kind === 'action')
    return [
      h('h3', {}, 'Decision'),
      dl([
        ['function', l.function],
        ['outcome', l.outcome + (l.dryRun ? ' (dry-run)' : '')],
        ['verb', l.verb],
        ['reason', l.reason],
      ]),
    ];
  if (l.kind === 'signal')
    return [
      h('h3', {}, 'Signal'),
      dl([
        ['class', l.class],
        ['severity', l.severity],
        ['rule', l.rule],
        ['reason', l.reason],
      ]),
    ];
  if (l.kind === 'event') {
    const signal = row.children.find((c) => line(c).kind === 'signal');
    const said = row.decisions.map((d) => h('li', {}, `${d.service}: ${d.why}${d.rule ? ` (rule ${d.rule})` : ''}`));
    return [
      h('h3', {}, 'Outcome'),
      signal
        ? h(
            'p',
            {},
            'became a signal: ',
            line(signal).text,
            ' ',
            h('button', { type: 'button', onclick: () => goTo(signal) }, 'show the signal'),
          )
        : h('p', {}, `no signal${whyNot(row) ? `: ${whyNot(row)}` : ''}`),
      // The first function's words are the outcome's; the list is for more (or for a signal's row).
      said.length > 1 || (signal && said.length) ? h('ul', { 'aria-label': 'what the functions said' }, said) : null,
    ];
  }
  return [];
}

function detail(row) {
  const rec = row.rec;
  if (rec.k === 'refused')
    return [
      dl([
        ['broker', rec.broker],
        ['status', rec.status],
        ['reason', rec.reason],
      ]),
    ];
  const matched = rec.triggers.filter((t) => t.matched);
  const missed = rec.triggers.filter((t) => !t.matched);
  const { data: _d, ...attrs } = rec.attributes;
  return [
    ...decisionPart(row),
    rec.evidence?.length
      ? [
          h('h3', {}, 'Evidence enrich gathered'),
          h(
            'ul',
            { class: 'evidence' },
            rec.evidence.map((e) => h('li', { class: 'mono' }, e)),
          ),
        ]
      : null,
    h('h3', {}, 'Deliveries'),
    row.deliveries.length
      ? h('ul', { class: 'deliveries' }, row.deliveries.map(deliveryItem))
      : h('p', { class: 'sub' }, matched.length ? 'under way…' : 'none: no Trigger matched'),
    h('h3', {}, `Triggers of ${rec.broker}`),
    h(
      'ul',
      { class: 'triggers' },
      matched.map((t) => h('li', { class: 'hit' }, `✓ ${t.trigger} matched`)),
      missed.map((t) =>
        h(
          'li',
          { class: 'miss' },
          `✗ ${t.trigger} did not match:`,
          h(
            'ul',
            {},
            (t.why?.length ? t.why : ['its filter failed']).map((w) => h('li', {}, w)),
          ),
        ),
      ),
      rec.triggers.length === 0 ? h('li', {}, 'this Broker has no Triggers') : null,
    ),
    row.parent ? h('p', {}, 'A reply to ', h('button', { type: 'button', onclick: () => goTo(row.parent) }, line(row.parent).text)) : null,
    h(
      'details',
      {},
      h('summary', {}, `Attributes (${Object.keys(attrs).length})`),
      dl(Object.entries(attrs).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    ),
    rec.data !== undefined ? h('details', {}, h('summary', {}, 'Data'), h('pre', {}, rec.data)) : null,
  ];
}

function render(row) {
  if (!row.el) {
    const id = `row-${row.seq}`;
    const button = h('button', { type: 'button', class: 'row', 'aria-expanded': 'false', 'aria-controls': `${id}-detail`, id });
    button.addEventListener('click', () => toggle(row));
    button.addEventListener('keydown', (e) => moveFocus(e, row));
    row.el = h(
      'li',
      { class: `k-${line(row).kind}${row.parent ? ' reply' : ''}` },
      button,
      h('div', { class: 'detail', id: `${id}-detail`, hidden: true, role: 'region', 'aria-labelledby': id }),
    );
    $('rows').append(row.el);
  }
  const button = row.el.firstChild;
  button.replaceChildren(...summary(row));
  const d = row.el.lastChild;
  d.hidden = !row.open;
  if (row.open) {
    // What the reader opened inside the row stays open as the row learns more.
    const opened = new Set([...d.querySelectorAll('details[open] > summary')].map((x) => x.textContent));
    d.replaceChildren(...detail(row).flat().filter(Boolean));
    for (const x of d.querySelectorAll('details')) if (opened.has(x.firstChild.textContent)) x.open = true;
  }
  row.el.hidden = !visible(row);
}

function toggle(row) {
  row.open = !row.open;
  row.el.firstChild.setAttribute('aria-expanded', String(row.open));
  render(row);
}

function moveFocus(e, row) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
  const shown = rows.filter((r) => r.el && !r.el.hidden);
  const i = shown.indexOf(row);
  const next = e.key === 'Home' ? shown[0] : e.key === 'End' ? shown.at(-1) : shown[e.key === 'ArrowDown' ? i + 1 : i - 1];
  if (next) {
    e.preventDefault();
    next.el.firstChild.focus();
  }
}

function visible(row) {
  const f = ui.filter;
  if (f.class && classOf(row) !== f.class) return false;
  if (f.namespace && namespaceOf(row) !== f.namespace) return false;
  if (f.outcome && !outcomesOf(row).includes(f.outcome)) return false;
  return true;
}

/** Each select offers what the rows have, keeping what was chosen. */
function refreshOptions() {
  const sets = { class: new Set(), namespace: new Set(), outcome: new Set() };
  for (const r of rows) {
    const c = classOf(r);
    if (c) sets.class.add(c);
    const n = namespaceOf(r);
    if (n) sets.namespace.add(n);
    for (const o of outcomesOf(r)) sets.outcome.add(o);
  }
  for (const [name, values] of Object.entries(sets)) {
    const select = $(`f-${name}`);
    const have = [...select.options].map((o) => o.value);
    const want = ['', ...[...values].sort()];
    if (have.join('\n') === want.join('\n')) continue;
    const chosen = select.value;
    select.replaceChildren(...want.map((v) => h('option', { value: v }, v || 'all')));
    select.value = want.includes(chosen) ? chosen : '';
  }
}

function applyFilters() {
  for (const r of rows) if (r.el) r.el.hidden = !visible(r);
  const shown = rows.filter((r) => r.el && !r.el.hidden).length;
  $('shown').textContent = `${shown} of ${rows.length} rows`;
  $('empty').hidden = rows.length > 0;
}

function flush() {
  ui.scheduled = false;
  const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  for (const r of ui.dirty) render(r);
  ui.dirty.clear();
  refreshOptions();
  applyFilters();
  // Live, the newest row stays in view while the reader is at the bottom and not reading a row.
  if (!report && atBottom && !document.activeElement?.closest?.('.rows')) window.scrollTo({ top: document.body.scrollHeight });
}

for (const name of ['class', 'namespace', 'outcome'])
  $(`f-${name}`).addEventListener('change', (e) => {
    ui.filter[name] = e.target.value;
    applyFilters();
  });
$('filters').addEventListener('reset', (e) => {
  e.preventDefault();
  ui.filter = { class: '', namespace: '', outcome: '' };
  for (const name of ['class', 'namespace', 'outcome']) $(`f-${name}`).value = '';
  applyFilters();
});

function topologyView(t) {
  const subscriberOf = (tr) => {
    const svc = t.services.find((s) => tr.subscriber === `Service ${s.name}` || tr.subscriber === `Service ${s.namespace}/${s.name}`);
    return svc ? `function ${svc.function}` : tr.subscriber;
  };
  const sources = t.sources.filter((s) => s.kind !== 'SinkBinding');
  const bindings = t.sources.filter((s) => s.kind === 'SinkBinding');
  return h(
    'div',
    { class: 'topo' },
    h('h3', {}, 'Sources'),
    h(
      'ul',
      { 'aria-label': 'sources' },
      sources.map((s) =>
        h('li', { class: 'box' }, h('strong', {}, `${s.kind} ${s.name}`), h('span', { class: 'filter' }, `${s.detail} → ${s.sink}`)),
      ),
      bindings.map((s) =>
        h('li', { class: 'box' }, h('strong', {}, `${s.kind} ${s.name}`), h('span', { class: 'filter' }, `${s.detail} → ${s.sink}`)),
      ),
    ),
    h('div', { class: 'arrow', 'aria-hidden': 'true' }, '↓'),
    h(
      'ul',
      { 'aria-label': 'brokers' },
      t.brokers.map((b) =>
        h('li', { class: 'box broker' }, `Broker ${b.namespace}/${b.name}`, h('span', { class: 'filter' }, `ingress POST ${b.ingress}`)),
      ),
    ),
    h('div', { class: 'arrow', 'aria-hidden': 'true' }, '↓'),
    h('h3', {}, `Triggers (${t.triggers.length})`),
    h(
      'ul',
      { 'aria-label': 'triggers', id: 'topo-triggers' },
      t.triggers.map((tr) =>
        h(
          'li',
          { class: 'box', 'data-trigger': tr.name },
          h('strong', {}, tr.name),
          h('span', { class: 'filter mono' }, tr.filter),
          h('span', { class: 'filter' }, `→ ${subscriberOf(tr)}${tr.deadLetter ? `; dead letters → ${tr.deadLetter}` : ''}`),
        ),
      ),
    ),
    h('div', { class: 'arrow', 'aria-hidden': 'true' }, '↓'),
    h('h3', {}, 'Functions'),
    h(
      'ul',
      { 'aria-label': 'functions' },
      t.services.map((s) => h('li', { class: 'box' }, `${s.function}`, h('span', { class: 'filter' }, `Service ${s.namespace}/${s.name}`))),
    ),
  );
}

function showTopology(t) {
  $('topo').replaceChildren(topologyView(t));
  $('p-broker').replaceChildren(...t.brokers.map((b) => h('option', { value: b.ingress }, `${b.namespace}/${b.name}`)));
}

/** The form's fields as a structured CloudEvent, or the first thing wrong with them. */
function eventFromForm() {
  const type = $('p-type').value.trim();
  const source = $('p-source').value.trim();
  if (!type) return { fault: 'Type is required.', field: 'p-type' };
  if (!source) return { fault: 'Source is required.', field: 'p-source' };
  const event = { specversion: '1.0', id: crypto.randomUUID(), type, source, time: new Date().toISOString() };
  for (const [i, raw] of $('p-ext').value.split('\n').entries()) {
    const text = raw.trim();
    if (!text) continue;
    const m = /^([a-z0-9]{1,20})\s*=\s*(.*)$/.exec(text);
    if (!m) return { fault: `Extensions, line ${i + 1}: name=value, the name lowercase letters and digits (at most 20).`, field: 'p-ext' };
    event[m[1]] = m[2];
  }
  const data = $('p-data').value.trim();
  if (data) {
    try {
      event.data = JSON.parse(data);
      event.datacontenttype = 'application/json';
    } catch (err) {
      return { fault: `Data is not JSON: ${err.message}`, field: 'p-data' };
    }
  }
  return { event };
}

async function post(e) {
  e.preventDefault();
  const result = $('post-result');
  const built = eventFromForm();
  for (const el of ['p-type', 'p-source', 'p-ext', 'p-data']) $(el).removeAttribute('aria-invalid');
  if (built.fault) {
    result.className = 'bad';
    result.textContent = built.fault;
    $(built.field).setAttribute('aria-invalid', 'true');
    $(built.field).focus();
    return;
  }
  result.className = '';
  result.textContent = 'Posting…';
  try {
    const res = await fetch($('p-broker').value, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(built.event),
    });
    const body = await res.text();
    let detail = '';
    try {
      detail = JSON.parse(body).detail ?? '';
    } catch {
      detail = body;
    }
    result.className = res.ok ? 'good' : 'bad';
    result.textContent = `The ingress answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${res.ok ? `: event ${built.event.id} accepted` : `: ${detail}`}`;
  } catch (err) {
    result.className = 'bad';
    result.textContent = `Could not reach the ingress: ${err.message}`;
  }
}

function status(text) {
  $('status').textContent = text;
}

if (report) {
  $('mode').textContent = `report: ${report.title}`;
  document.title = report.title;
  $('post-off').hidden = false;
  $('post-form').hidden = true;
  showTopology(report.topology);
  for (const r of report.records) add(r);
  flush();
  status(`A report: ${rows.length} rows, as recorded. Nothing here is live.`);
} else {
  $('post-form').addEventListener('submit', (e) => void post(e));
  fetch('api/topology')
    .then((r) => r.json())
    .then(showTopology)
    .catch((err) => status(`Could not read the topology: ${err.message}`));
  const stream = new EventSource('api/stream');
  stream.onopen = () => status('Live: connected to reflex dev.');
  stream.onerror = () => status('Live: disconnected; reconnecting… (is reflex dev still running?)');
  stream.onmessage = (m) => add(JSON.parse(m.data));
  // reflex dev was restarted: what is shown is of its earlier run; start over with this one.
  stream.addEventListener('restart', () => location.reload());
}
