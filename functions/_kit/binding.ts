/**
 * _kit/binding — the CloudEvents HTTP protocol binding: request -> CloudEvents, reply -> response.
 *
 * Attributes are read here, to the letter of the binding spec, and then handed to the SDK's
 * CloudEvent class, whose `validate()` checks the envelope; replies are written with the SDK's
 * binary serializer. The SDK's `HTTP.toEvent` is not used for reading because it invents an id
 * and a time when they are missing, ignores a `charset` parameter, decodes `data_base64` into a
 * Uint32Array and does not percent-decode header values (see docs/adr/0002-http-binding.md).
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 */
import { CloudEvent, HTTP, ValidationError } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidEventError, UnsupportedMediaTypeError, type Fault } from './errors.js';

export type Mode = 'binary' | 'structured' | 'batch';

export interface Parsed {
  readonly mode: Mode;
  readonly events: readonly CloudEvent<unknown>[];
}

const REQUIRED = ['id', 'source', 'specversion', 'type'] as const;
/** Context attributes the spec defines; everything else is an extension. */
const KNOWN = new Set<string>([...REQUIRED, 'datacontenttype', 'dataschema', 'subject', 'time']);
/** @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#attribute-naming-convention */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/**
 * Legal extension names the SDK cannot carry: `schemaurl` (its 0.3 attribute: refused on 1.0
 * events) and `constructor` (it breaks the SDK's serializers). Refused with 400 naming them.
 */
const UNCARRIED = new Set(['schemaurl', 'constructor']);
/** RFC 3339 date-time, as the `time` attribute requires. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `application/json; charset=UTF-8` -> `application/json`. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** JSON media types: application/json and any structured-syntax `+json` type. */
export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || type === 'text/json' || type.endsWith('+json');
}

export function parseRequest(headers: IncomingHttpHeaders, body: Buffer): Parsed {
  const type = mediaType(headers['content-type']);
  if (type.startsWith('application/cloudevents-batch')) {
    if (type !== 'application/cloudevents-batch+json') throw unsupportedFormat(type);
    return { mode: 'batch', events: parseBatch(body) };
  }
  if (type.startsWith('application/cloudevents')) {
    if (type !== 'application/cloudevents+json') throw unsupportedFormat(type);
    return { mode: 'structured', events: [fromJsonFormat(parseJson(body, 'body'), '')] };
  }
  return { mode: 'binary', events: [parseBinary(headers, body, type)] };
}

function unsupportedFormat(type: string): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError(`event format ${type} is not supported; send application/cloudevents+json or binary mode`);
}

function parseBinary(headers: IncomingHttpHeaders, body: Buffer, type: string): CloudEvent<unknown> {
  const attrs: Record<string, unknown> = {};
  const faults: Fault[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith('ce-') || raw === undefined) continue;
    const attr = name.slice(3);
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    const decoded = percentDecode(value);
    if (decoded === undefined) faults.push({ where: `header ${name}`, message: 'invalid percent-encoding' });
    else attrs[attr] = decoded;
  }
  if (Object.keys(attrs).length === 0) {
    throw new InvalidEventError(
      `not a CloudEvent: no ce-* headers for binary mode, and Content-Type ${JSON.stringify(type || '(none)')} is not application/cloudevents+json`,
    );
  }
  if (faults.length > 0) throw new InvalidEventError('malformed CloudEvent headers', { faults });
  if (headers['content-type'] !== undefined) attrs['datacontenttype'] = headers['content-type'];
  const data = body.length === 0 ? undefined : decodeData(body, type, 'body');
  return toCloudEvent(attrs, data, 'header ce-');
}

/** Binary data: JSON media types are parsed, text is decoded, anything else stays bytes. */
function decodeData(body: Buffer, type: string, where: string): unknown {
  // No Content-Type: the binding leaves the type unknown; JSON is what every Knative source sends.
  if (type === '') {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return body;
    }
  }
  if (isJsonMediaType(type)) return parseJson(body, where);
  if (type.startsWith('text/')) return body.toString('utf8');
  return body;
}

function parseJson(body: Buffer, where: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidEventError(`${where} is not valid JSON`, {
      faults: [{ where, message: err instanceof Error ? err.message : String(err) }],
    });
  }
}

function parseBatch(body: Buffer): CloudEvent<unknown>[] {
  const list = parseJson(body, 'body');
  if (!Array.isArray(list)) throw new InvalidEventError('a batch must be a JSON array of events');
  return list.map((item, i) => fromJsonFormat(item, `[${i}].`));
}

/** The JSON event format: attributes are members; `data` or `data_base64` carry the data. */
function fromJsonFormat(value: unknown, prefix: string): CloudEvent<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidEventError(`${prefix || 'body'} must be a JSON object (a CloudEvent)`);
  }
  const { data, data_base64: base64, ...attrs } = value as Record<string, unknown>;
  if (data !== undefined && base64 !== undefined) {
    throw new InvalidEventError('an event carries both data and data_base64', {
      faults: [{ where: `${prefix}data_base64`, message: 'must not be present with data' }],
    });
  }
  let payload: unknown = data;
  if (base64 !== undefined) {
    if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
      throw new InvalidEventError('data_base64 is not base64', {
        faults: [{ where: `${prefix}data_base64`, message: 'must be a base64 string' }],
      });
    }
    const bytes = Buffer.from(base64, 'base64');
    const type = mediaType(typeof attrs['datacontenttype'] === 'string' ? attrs['datacontenttype'] : '');
    payload = isJsonMediaType(type) ? parseJson(bytes, `${prefix}data_base64`) : bytes;
  }
  return toCloudEvent(attrs, payload, prefix);
}

/** Checks what the SDK would silently invent or accept, then lets the SDK validate the rest. */
function toCloudEvent(attrs: Record<string, unknown>, data: unknown, where: string): CloudEvent<unknown> {
  const specversion = attrs['specversion'];
  if (specversion !== undefined && specversion !== '1.0') {
    throw new InvalidEventError(`unsupported specversion ${JSON.stringify(specversion)}; Reflex accepts CloudEvents 1.0`, {
      faults: [{ where: `${where}specversion`, message: 'must be "1.0"' }],
    });
  }
  const faults = envelopeFaults(attrs, where);
  if (faults.length > 0) throw new InvalidEventError(summarise(faults), { faults });
  try {
    const event = new CloudEvent<unknown>({ ...attrs, data }, false);
    // Through the prototype: a legal extension named `validate` shadows the method on the event.
    CloudEvent.prototype.validate.call(event);
    return event;
  } catch (err) {
    if (!(err instanceof ValidationError)) {
      // The SDK refuses what it cannot represent (an extension named schemaurl) with other errors.
      throw new InvalidEventError(`invalid CloudEvent: ${err instanceof Error ? err.message : String(err)}`, {
        faults: [{ where: where || 'event', message: err instanceof Error ? err.message : String(err) }],
      });
    }
    const found = (err.errors ?? []).map((e) =>
      typeof e === 'string'
        ? { where: where || 'event', message: e }
        : { where: `${where}${e.instancePath.replace(/^\//, '')}`, message: e.message ?? 'invalid' },
    );
    throw new InvalidEventError(`invalid CloudEvent: ${err.message}`, { faults: found });
  }
}

/** Required attributes present, `time` RFC 3339, names and extension values as the spec says. */
function envelopeFaults(attrs: Record<string, unknown>, where: string): Fault[] {
  const faults: Fault[] = [];
  for (const name of REQUIRED) {
    const v = attrs[name];
    if (v === undefined) faults.push({ where: `${where}${name}`, message: `required attribute ${name} is missing` });
    else if (typeof v !== 'string' || v === '') faults.push({ where: `${where}${name}`, message: `${name} must be a non-empty string` });
  }
  const time = attrs['time'];
  if (time !== undefined && (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time)))) {
    faults.push({ where: `${where}time`, message: 'must be an RFC 3339 timestamp' });
  }
  for (const [name, v] of Object.entries(attrs)) {
    if (!ATTRIBUTE_NAME.test(name)) faults.push({ where: `${where}${name}`, message: 'attribute names are lowercase a-z and 0-9 only' });
    else if (UNCARRIED.has(name))
      faults.push({ where: `${where}${name}`, message: `the CloudEvents SDK cannot carry an extension named ${name}; rename it` });
    else if (!KNOWN.has(name) && !['string', 'number', 'boolean'].includes(typeof v)) {
      faults.push({ where: `${where}${name}`, message: 'an extension must be a string, integer or boolean' });
    }
  }
  return faults;
}

function summarise(faults: readonly Fault[]): string {
  const first = faults[0]!;
  return faults.length === 1
    ? `invalid CloudEvent: ${first.where}: ${first.message}`
    : `invalid CloudEvent: ${faults.length} problems, first ${first.where}: ${first.message}`;
}

/** Header values are percent-encoded UTF-8 (binding §3.1.3.2); undefined when malformed. */
function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Header values: space, double quote, percent and anything outside printable ASCII are
 * percent-encoded as UTF-8 (binding §3.1.3.2); Node would throw on non-ASCII otherwise.
 */
export function percentEncode(value: string): string {
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (ch) => (ch.isWellFormed() ? encodeURIComponent(ch) : '%EF%BF%BD'));
}

/** A reply in binary mode, as Knative expects it (the SDK's serializer). */
export function toBinaryResponse(event: CloudEvent<unknown>): { headers: Record<string, string>; body: string | Buffer } {
  const message = HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = k.toLowerCase().startsWith('ce-') ? percentEncode(String(v)) : String(v);
  }
  const body = message.body;
  return { headers, body: Buffer.isBuffer(body) ? body : typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body) };
}
