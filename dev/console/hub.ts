/**
 * dev/console/hub — the web console's server side (docs/console.md): what the development broker
 * records and what the functions log, kept as console records (one per event, delivery, decision
 * and refusal) and served on the broker's own port under CONSOLE_PATH: the page and its static
 * files, the topology and the records as JSON, and the records live as Server-Sent Events. The
 * same records, embedded in one HTML file, are `reflex replay --html`'s report.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { attributesOf, type BrokerRecord } from '../mesh/broker.js';
import type { Event } from '../mesh/delivery.js';
import { explain, failureText, triggerFilterText } from '../mesh/explain.js';
import type { Destination, Mesh } from '../mesh/manifests.js';
import { decisionIn, describeEvent, evidenceLines, jsonRow } from '../mesh/timeline.js';

/**
 * Where the console lives on the dev port. A Kubernetes namespace is a DNS label and cannot begin
 * with `_`, so no Broker ingress (`/<namespace>/<broker>`) can ever be here.
 */
export const CONSOLE_PATH = '/_console';

/** Records kept for a page opened late; the oldest go first (a cluster left watched for days). */
const KEEP = 5000;
/** An event's data as the console shows it: at most this many characters of its JSON. */
const DATA_CHARS = 4000;
/** A comment on each open stream this often, so proxies and browsers keep it open. */
const KEEPALIVE_MS = 15_000;

export interface TriggerMatch {
  readonly trigger: string;
  readonly matched: boolean;
  /** Each failed part of the filter, with the attribute's actual value (only when not matched). */
  readonly why?: readonly string[];
}

/** What the console shows, one record at a time, in the order things happened. */
export type ConsoleRecord =
  | {
      readonly k: 'event';
      readonly seq: number;
      readonly id: string;
      readonly broker: string;
      /** The event whose reply this is, when a function sent it. */
      readonly parent?: string;
      readonly attributes: Readonly<Record<string, unknown>>;
      readonly data?: string;
      /** The timeline's line for it (`--json`'s row). */
      readonly line: Readonly<Record<string, unknown>>;
      /** enrich's evidence, as the text timeline prints it. */
      readonly evidence?: readonly string[];
      readonly triggers: readonly TriggerMatch[];
    }
  | {
      readonly k: 'delivery';
      readonly seq: number;
      readonly id: string;
      readonly trigger: string;
      readonly subscriber: string;
      readonly ok: boolean;
      readonly status: number;
      readonly attempts: number;
      /** Each attempt's status, and the backoff before it. */
      readonly tries: readonly { readonly status: number; readonly afterMs: number }[];
      readonly error?: string;
      readonly deadLettered?: { readonly to: string | null; readonly ok?: boolean; readonly status?: number };
      readonly reply?: { readonly id: string; readonly type: string };
    }
  | {
      readonly k: 'decision';
      readonly seq: number;
      readonly id: string;
      readonly service: string;
      readonly why: string;
      readonly rule?: string;
    }
  | {
      readonly k: 'refused';
      readonly seq: number;
      readonly at: string;
      readonly broker: string;
      readonly status: number;
      readonly reason: string;
    };

/** A record before it is numbered. */
type Unsequenced = ConsoleRecord extends infer R ? (R extends ConsoleRecord ? Omit<R, 'seq'> : never) : never;

export interface Topology {
  readonly brokers: readonly { readonly namespace: string; readonly name: string; readonly ingress: string }[];
  readonly sources: readonly {
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly detail: string;
    readonly sink: string;
  }[];
  readonly triggers: readonly {
    readonly namespace: string;
    readonly name: string;
    readonly broker: string;
    readonly filter: string;
    readonly subscriber: string;
    readonly deadLetter?: string;
  }[];
  readonly services: readonly { readonly namespace: string; readonly name: string; readonly function: string }[];
}

export interface Console {
  readonly topology: Topology;
  record(r: BrokerRecord): void;
  /** A function's log line: a decision about a CloudEvent (`ceId` and `why`) becomes a record. */
  log(line: string, service: string): void;
  records(): readonly ConsoleRecord[];
  /** Answers a request under CONSOLE_PATH (and a browser's `GET /`); false for anything else (the ingress's). */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
  /** The report: the page with its CSS, script, topology and records inline (no network). */
  report(title: string): string;
}

const destinationText = (d: Destination | undefined): string =>
  !d ? '' : d.ref ? `${d.ref.kind} ${d.ref.namespace ? `${d.ref.namespace}/` : ''}${d.ref.name}${d.uri ? ` ${d.uri}` : ''}` : (d.uri ?? '');

/** The manifests as boxes and arrows: sources -> Broker -> Triggers (with their filters) -> functions. */
export function topologyOf(mesh: Mesh): Topology {
  return {
    brokers: mesh.brokers.map((b) => ({ namespace: b.namespace, name: b.name, ingress: `/${b.namespace}/${b.name}` })),
    sources: mesh.sources.map((s) => {
      const spec = (s.spec ?? {}) as {
        resources?: { kind?: string }[];
        schedule?: string;
        mode?: string;
        sink?: Destination;
        subject?: { kind?: string; name?: string };
      };
      const detail =
        s.kind === 'ApiServerSource'
          ? `watches ${(spec.resources ?? []).map((r) => r.kind ?? '?').join(', ')}${spec.mode ? ` (${spec.mode} mode)` : ''}`
          : s.kind === 'PingSource'
            ? `every ${spec.schedule ?? '?'}`
            : s.kind === 'SinkBinding'
              ? `gives ${spec.subject?.kind ?? '?'} ${spec.subject?.name ?? '?'} K_SINK`
              : '';
      return {
        kind: s.kind,
        namespace: s.metadata.namespace ?? 'default',
        name: s.metadata.name,
        detail,
        sink: destinationText(spec.sink),
      };
    }),
    triggers: mesh.triggers.map((t) => {
      const dls = t.delivery?.deadLetterSink;
      return {
        namespace: t.namespace,
        name: t.name,
        broker: t.broker,
        filter: triggerFilterText(t),
        subscriber: destinationText(t.subscriber),
        ...(dls ? { deadLetter: destinationText(dls) } : {}),
      };
    }),
    services: mesh.services.map((s) => ({ namespace: s.namespace, name: s.name, function: s.args[0] ?? '' })),
  };
}

/** The page's files, from the sources (also when this runs built, from dist-dev/). */
const here = (file: string): string => join(projectRoot(), 'dev', 'console', file);
const STATIC: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

function dataText(e: Event): string | undefined {
  if (e.data === undefined || e.data === null) return undefined;
  let s: string;
  try {
    s = typeof e.data === 'string' ? e.data : JSON.stringify(e.data, null, 2);
  } catch {
    return '(data that cannot be shown as JSON)';
  }
  return s.length > DATA_CHARS ? `${s.slice(0, DATA_CHARS)}\n… (${s.length - DATA_CHARS} more characters)` : s;
}

/** JSON inside a <script> element: nothing in it can close the element or open a comment. */
const scriptJson = (v: unknown): string =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

export function createConsole(mesh: Mesh): Console {
  const topology = topologyOf(mesh);
  const kept: ConsoleRecord[] = [];
  const streams = new Set<ServerResponse>();
  let seq = 0;
  /** This server's run: a stream's Last-Event-ID from another run (reflex dev restarted) starts over. */
  const boot = randomBytes(4).toString('hex');
  const sse = (r: ConsoleRecord): string => `id: ${boot}-${r.seq}\ndata: ${JSON.stringify(r)}\n\n`;
  /** A reply's id -> the event it answered (a reply keeps its own id as it goes back into the Broker). */
  const parents = new Map<string, string>();
  const decided = new Set<string>();
  const byBroker = new Map<string, typeof mesh.triggers>();
  for (const t of mesh.triggers) byBroker.set(`${t.namespace}/${t.broker}`, [...(byBroker.get(`${t.namespace}/${t.broker}`) ?? []), t]);

  const push = (r: Unsequenced): void => {
    const full = { ...r, seq: ++seq } as ConsoleRecord;
    kept.push(full);
    if (kept.length > KEEP) kept.splice(0, kept.length - KEEP);
    const message = sse(full);
    for (const s of streams) s.write(message);
  };

  const record = (r: BrokerRecord): void => {
    if (r.kind === 'refused') {
      push({ k: 'refused', at: new Date().toISOString(), broker: r.broker, status: r.status, reason: r.reason });
      return;
    }
    if (r.kind === 'accepted') {
      const attrs = attributesOf(r.event);
      const routed = new Set(r.triggers);
      const triggers = (byBroker.get(r.broker) ?? []).map((t): TriggerMatch => {
        const name = `${t.namespace}/${t.name}`;
        if (routed.has(name)) return { trigger: name, matched: true };
        return { trigger: name, matched: false, why: explain(t, attrs).failed.map(failureText) };
      });
      const line = describeEvent(r.event);
      const parent = parents.get(r.event.id);
      const data = dataText(r.event);
      push({
        k: 'event',
        id: r.event.id,
        broker: r.broker,
        ...(parent ? { parent } : {}),
        attributes: attrs,
        ...(data !== undefined ? { data } : {}),
        line: jsonRow(line),
        ...(line.kind === 'enriched' && line.enrichment ? { evidence: evidenceLines(line.enrichment, line.at) } : {}),
        triggers,
      });
      return;
    }
    const { result, deadLettered: dl } = r;
    if (result.reply) {
      parents.set(result.reply.id, r.event.id);
      // A reply is accepted right after its delivery is recorded: only the newest few are ever looked up.
      if (parents.size > KEEP) parents.delete(parents.keys().next().value!);
    }
    push({
      k: 'delivery',
      id: r.event.id,
      trigger: r.trigger,
      subscriber: r.subscriber,
      ok: result.ok,
      status: result.status,
      attempts: result.attempts,
      tries: (result.tries ?? []).map((t) => ({ status: t.status, afterMs: t.afterMs })),
      ...(result.error ? { error: result.error } : !result.ok && result.body ? { error: result.body.slice(0, 500) } : {}),
      ...(dl ? { deadLettered: dl.to ? { to: dl.to, ok: dl.result.ok, status: dl.result.status } : { to: null } } : {}),
      ...(result.reply ? { reply: { id: result.reply.id, type: result.reply.type } } : {}),
    });
  };

  const log = (line: string, service: string): void => {
    const d = decisionIn(line);
    if (!d) return;
    // One decision per function and event: the first it logs (as the text timeline takes it).
    const key = `${service}\u0000${d.id}`;
    if (decided.has(key)) return;
    decided.add(key);
    if (decided.size > KEEP * 4) decided.clear();
    push({ k: 'decision', id: d.id, service, why: d.why, ...(d.rule ? { rule: d.rule } : {}) });
  };

  // The page's files, read once (they are part of the installed tool, not edited while it runs).
  const files = new Map<string, string>();
  const file = (name: string): string => {
    let text = files.get(name);
    if (text === undefined) files.set(name, (text = readFileSync(here(name), 'utf8')));
    return text;
  };

  /** The records as Server-Sent Events: those after `Last-Event-ID` (all, at first), then each as it comes. */
  const stream = (req: IncomingMessage, res: ServerResponse): true => {
    const [run, last] = String(req.headers['last-event-id'] ?? '').split('-');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    // A page that followed an earlier run of reflex dev: its rows are of that run, the page starts over.
    if (run && run !== boot) res.write('event: restart\ndata: {}\n\n');
    const after = run === boot ? Number(last) || 0 : 0;
    for (const r of kept) if (r.seq > after) res.write(sse(r));
    streams.add(res);
    const alive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS).unref();
    res.on('close', () => {
      clearInterval(alive);
      streams.delete(res);
    });
    return true;
  };

  const serve = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0]!;
    // A browser opening the dev port is shown the console; programs keep the JSON list of Brokers.
    if (path === '/' && req.method === 'GET' && /text\/html/.test(req.headers.accept ?? '')) {
      res.writeHead(302, { location: `${CONSOLE_PATH}/` }).end();
      return true;
    }
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return false;
    const rest = path.slice(CONSOLE_PATH.length + 1);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('the console takes GET; post events to the ingress');
      return true;
    }
    if (path === CONSOLE_PATH) {
      res.writeHead(301, { location: `${CONSOLE_PATH}/` }).end();
      return true;
    }
    return route(rest, req, res);
  };

  /** A GET under CONSOLE_PATH/: the page's files, then the API. */
  const route = (rest: string, req: IncomingMessage, res: ServerResponse): true => {
    const name = rest === '' ? 'index.html' : rest;
    const type = STATIC[name];
    if (type) {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(file(name));
      return true;
    }
    if (rest === 'api/topology') return json(res, topology);
    if (rest === 'api/records') return json(res, kept);
    if (rest === 'api/stream') return stream(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${CONSOLE_PATH}/${rest} in the console`);
    return true;
  };

  const report = (title: string): string => {
    const page = file('index.html');
    const css = file('console.css');
    const js = file('console.js');
    const data = `<script type="application/json" id="reflex-report">${scriptJson({ title, topology, records: kept })}</script>`;
    // Replacements as functions: `$` in the inlined code is not a replacement pattern.
    return page
      .replace(/<title>[^<]*<\/title>/, () => `<title>${escapeHtml(title)}</title>`)
      .replace(/<link rel="stylesheet" href="console\.css"\s*\/?>/, () => `<style>\n${css}</style>`)
      .replace(
        /<script type="module" src="console\.js"><\/script>/,
        () => `${data}\n<script type="module">\n${js.replace(/<\/script/gi, '<\\/script')}</script>`,
      );
  };

  return { topology, record, log, records: () => kept, serve, report };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function json(res: ServerResponse, body: unknown): true {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(body));
  return true;
}
