/**
 * dev/mesh/apiserversource — the CloudEvent a Knative ApiServerSource (Resource mode) sends for a
 * watch event, byte-for-byte in what matters: type, source, subject, extensions, data. Used to
 * replay recorded incidents and, without the real adapter, to bridge a live watch.
 * @see knative.dev/eventing pkg/adapter/apiserver/events
 */
import type { CloudEvent } from 'cloudevents';
import { randomUUID } from 'node:crypto';
import { parseRequest } from '../../functions/_kit/binding.js';

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

const VERB: Record<WatchType, string> = { ADDED: 'add', MODIFIED: 'update', DELETED: 'delete' };

/**
 * The adapter's plural: the naive lowercase rule (`+s`, `+es` after s, `y` -> `ies`), with
 * `endpoints` unchanged — not a discovery lookup.
 */
export function guessPlural(kind: string): string {
  const k = kind.toLowerCase();
  if (k === 'endpoints') return k;
  if (k.endsWith('s')) return k + 'es';
  if (k.endsWith('y')) return k.slice(0, -1) + 'ies';
  return k + 's';
}

/**
 * Binary-mode HTTP message of the CloudEvent for one watch event. `Resource` mode carries the
 * object; `Reference` mode (the ApiServerSource default) only {kind, namespace, name, apiVersion},
 * empty fields omitted, under the `ref` types.
 */
export function apiServerSourceMessage(
  watch: WatchType,
  object: K8sObject,
  source: string,
  now = new Date(),
  mode: 'Resource' | 'Reference' = 'Resource',
  /** The source's `ceOverrides.extensions`: set on every event it sends, as the adapter does. */
  extensions: Readonly<Record<string, string>> = {},
): { headers: Record<string, string>; body: string } {
  const ns = object.metadata.namespace ?? '';
  const ref = { kind: object.kind, namespace: ns, name: object.metadata.name, apiVersion: object.apiVersion };
  const data = mode === 'Resource' ? object : Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== ''));
  return {
    headers: {
      'ce-specversion': '1.0',
      // A fresh random id per emission: the adapter's ids cannot identify duplicates.
      'ce-id': randomUUID(),
      'ce-source': source,
      'ce-type': `dev.knative.apiserver.${mode === 'Resource' ? 'resource' : 'ref'}.${VERB[watch]}`,
      'ce-subject': `/apis/${object.apiVersion}/namespaces/${ns}/${guessPlural(object.kind)}/${object.metadata.name}`,
      'ce-time': now.toISOString(),
      'ce-kind': object.kind,
      'ce-apiversion': object.apiVersion,
      'ce-name': object.metadata.name,
      'ce-namespace': ns,
      'content-type': 'application/json',
      ...Object.fromEntries(Object.entries(extensions).map(([k, v]) => [`ce-${k}`, v])),
    },
    body: JSON.stringify(data),
  };
}

/** The same message as a CloudEvent, for publishing into the development broker directly. */
export function apiServerSourceEvent(
  watch: WatchType,
  object: K8sObject,
  source: string,
  now = new Date(),
  mode: 'Resource' | 'Reference' = 'Resource',
  extensions: Readonly<Record<string, string>> = {},
): CloudEvent<unknown> {
  const { headers, body } = apiServerSourceMessage(watch, object, source, now, mode, extensions);
  return parseRequest(headers, Buffer.from(body)).events[0]!;
}
