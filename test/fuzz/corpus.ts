/**
 * The fuzz suite's seeds: REAL objects and events, which the generators then mutate. Kubernetes
 * objects from the recorded incident (examples/incident/checkout.ndjson) and from the `examples`
 * of schemas/k8s/*.json; Reflex's own events from the `examples` of schemas/*.json; and, at run
 * time, the signals classify really emits for the incident and the actions recover and scale
 * really reply to them (see functions.test.ts).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const schemasDir = join(repo, 'schemas');

/** An event as a sender means it: its attributes (extensions included) and its data. */
export interface Seed {
  readonly attrs: Readonly<Record<string, string>>;
  /** undefined: no data at all. */
  readonly data: Json | undefined;
}

export interface WatchRecord {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, Json>;
}

/** The recorded incident, in order. */
export const incident: readonly WatchRecord[] = readFileSync(join(repo, 'examples/incident/checkout.ndjson'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as WatchRecord);

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsonFiles(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : [],
  );
}

interface SchemaFile {
  $id: string;
  examples?: Json[];
}
const schemaFiles: readonly SchemaFile[] = jsonFiles(schemasDir).map((f) => JSON.parse(readFileSync(f, 'utf8')) as SchemaFile);

/** The `examples` of the schema with this `$id` suffix (`dev.reflex.signal.json`, `k8s/core.v1.Pod.json`). */
export function examplesOf(name: string): Json[] {
  const s = schemaFiles.find((f) => f.$id.endsWith(`/${name}`));
  if (!s) throw new Error(`no schema ${name}`);
  return structuredClone(s.examples ?? []);
}

// ajv-formats is CommonJS with a default export that ESM sees one level down.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
) => void;

/**
 * The oracle for replies: every schema of schemas/ in an ajv 2020 instance of the test's own (not
 * the kit's registry), with formats, as test/unit/schemas.test.ts checks them.
 */
export function replySchemas(): { has(id: string): boolean; validator(id: string): ValidateFunction } {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  for (const s of schemaFiles) ajv.addSchema(s as object);
  return {
    has: (id) => ajv.getSchema(id) !== undefined,
    validator: (id) => {
      const v = ajv.getSchema(id);
      if (!v) throw new Error(`no schema ${id}`);
      return v;
    },
  };
}

const VERB = { ADDED: 'add', MODIFIED: 'update', DELETED: 'delete' } as const;
const PLURAL: Record<string, string> = { Event: 'events', Pod: 'pods', Deployment: 'deployments', Node: 'nodes' };

/** What an ApiServerSource sends for a watch event (Resource mode, or Reference mode). */
export function bridged(watch: WatchRecord['type'], object: WatchRecord['object'], mode: 'resource' | 'ref' = 'resource'): Seed {
  const ns = object.metadata.namespace ?? '';
  const plural = PLURAL[object.kind] ?? `${object.kind.toLowerCase()}s`;
  const ref = Object.fromEntries(
    Object.entries({ kind: object.kind, namespace: ns, name: object.metadata.name, apiVersion: object.apiVersion }).filter(
      ([, v]) => v !== '',
    ),
  ) as Record<string, Json>;
  return {
    attrs: {
      specversion: '1.0',
      id: 'bridge-id',
      source: 'https://10.96.0.1:443',
      type: `dev.knative.apiserver.${mode}.${VERB[watch]}`,
      subject: `/apis/${object.apiVersion}/namespaces/${ns}/${plural}/${object.metadata.name}`,
      time: '2026-11-22T10:05:00Z',
      kind: object.kind,
      apiversion: object.apiVersion,
      name: object.metadata.name,
      namespace: ns,
    },
    data: mode === 'resource' ? (object as Json) : ref,
  };
}

/** classify's inputs: every watch event of the incident and every example Kubernetes object. */
export function bridgeSeeds(): Seed[] {
  const examples = [
    'core.v1.Event.json',
    'events.v1.Event.json',
    'core.v1.Pod.json',
    'apps.v1.Deployment.json',
    'core.v1.Node.json',
    'batch.v1.Job.json',
    'core.v1.PersistentVolumeClaim.json',
  ].flatMap((f) => examplesOf(`k8s/${f}`) as unknown as WatchRecord['object'][]);
  return [
    ...incident.map((r) => bridged(r.type, r.object)),
    ...incident.filter((_, i) => i % 4 === 0).map((r) => bridged(r.type, r.object, 'ref')),
    ...examples.flatMap((o) => [bridged('ADDED', o), bridged('MODIFIED', o)]),
  ];
}

/** A PingSource tick, as Knative sends it (its data is whatever the PingSource says). */
export const pingSeeds: readonly Seed[] = [
  {
    attrs: { specversion: '1.0', id: 'tick', source: '/apis/v1/namespaces/reflex/pingsources/sweep', type: 'dev.knative.sources.ping' },
    data: {},
  },
  {
    attrs: { specversion: '1.0', id: 'tick', source: '/apis/v1/namespaces/reflex/pingsources/scale', type: 'dev.knative.sources.ping' },
    data: { tick: 'scale' },
  },
];

/** A Reflex event from a schema example: the attributes its producer would set. */
export function reflexSeed(type: string, data: Json, extensions: Record<string, string> = {}): Seed {
  const schema = type.startsWith('dev.reflex.signal.')
    ? 'dev.reflex.signal.json'
    : type.startsWith('dev.reflex.action.')
      ? 'dev.reflex.action.json'
      : `${type}.json`;
  return {
    attrs: {
      specversion: '1.0',
      id: 'reflex-id',
      source: '/reflex/test',
      type,
      subject: 'Deployment/shop/web',
      time: '2026-11-22T10:05:00Z',
      dataschema: `https://reflex.dev/schemas/${schema}`,
      ...extensions,
    },
    data,
  };
}

/** The attributes of a binary-mode reply, from its ce-* headers (percent-decoded). */
export function attrsOfHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!k.startsWith('ce-') || v === undefined) continue;
    const s = Array.isArray(v) ? v.join(',') : v;
    try {
      out[k.slice(3)] = decodeURIComponent(s);
    } catch {
      out[k.slice(3)] = s;
    }
  }
  return out;
}
