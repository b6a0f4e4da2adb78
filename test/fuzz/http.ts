/**
 * A raw HTTP client for the fuzz suite: node:http (not fetch), so a request can carry what fetch
 * refuses to send — duplicated headers, raw UTF-8 bytes in header values, a Content-Length the
 * body never reaches (an aborted upload) — over keep-alive connections.
 */
import { Agent, maxHeaderSize, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface Outgoing {
  readonly method?: string;
  readonly path?: string;
  /** Values as sent; an array sends the header once per element. Latin-1 strings are sent byte for byte. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Buffer;
  /** Announce the whole body, send this many bytes of it, then cut the connection. */
  readonly abortAfter?: number;
}

export type Answer =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: IncomingHttpHeaders;
      readonly body: Buffer;
      readonly ms: number;
      /**
       * The server reset the keep-alive connection this request was first sent on (what was sent
       * on it before), and the request was sent again on a new one: the race every HTTP/1.1 client
       * meets (RFC 9112 §9.3.1; Node's docs, request.reusedSocket). Counted, so a server that
       * resets connections for real shows.
       */
      readonly resetAfter?: string;
    }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'error'; readonly error: string };

export function agent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 32 });
}

/** What each keep-alive connection carried last: said when the server resets it under the next request. */
const lastOn = new WeakMap<Socket, string>();

export function send(base: string, out: Outgoing, via: Agent, timeoutMs = 15_000): Promise<Answer> {
  return sendOnce(base, out, via, timeoutMs).then(async (a) => {
    if (a.kind !== 'reset') return a;
    const again = await sendOnce(base, out, false, timeoutMs);
    return again.kind === 'response'
      ? { ...again, resetAfter: a.after }
      : again.kind === 'reset'
        ? { kind: 'error', error: 'request: ECONNRESET' }
        : again;
  });
}

function sendOnce(base: string, out: Outgoing, via: Agent | false, timeoutMs: number): Promise<Answer | { kind: 'reset'; after: string }> {
  const url = new URL(out.path ?? '/', base);
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    let reused: string | undefined;
    let answered = false;
    const finish = (a: Answer | { kind: 'reset'; after: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(a);
    };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(out.headers)) headers[k] = typeof v === 'string' ? v : [...v];
    headers['content-length'] = String(out.body.length);
    let req: ReturnType<typeof request>;
    try {
      req = request(url, { method: out.method ?? 'POST', headers, agent: out.abortAfter === undefined ? via : false });
      req.on('socket', (s) => {
        const before = lastOn.get(s);
        lastOn.set(s, `${req.method} ${url.pathname} ${JSON.stringify(headers).slice(0, 300)} (${out.body.length} bytes)`);
        if (before !== undefined) reused = before;
      });
    } catch (err) {
      // What node:http refuses to put on the wire is the generator's bug, not the server's.
      finish({ kind: 'error', error: `client refused the request: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish({ kind: 'error', error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        finish({
          kind: 'response',
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
        }),
      );
      res.on('error', (err) => finish({ kind: 'error', error: `response: ${err.message}` }));
    });
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (out.abortAfter !== undefined) finish({ kind: 'aborted' });
      else if (reused !== undefined && !answered && (code === 'ECONNRESET' || code === 'EPIPE')) finish({ kind: 'reset', after: reused });
      else if ((err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW')
        finish({
          kind: 'error',
          error: `an answer whose headers exceed ${maxHeaderSize} bytes, Node's limit: its HTTP client and fetch (with which the development broker delivers) cannot read it`,
        });
      else finish({ kind: 'error', error: `request: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
    });
    if (out.abortAfter !== undefined) {
      req.flushHeaders();
      req.write(out.body.subarray(0, out.abortAfter));
      // Long enough for the bytes to reach the server, which then sees the connection go.
      setTimeout(() => {
        req.destroy();
        finish({ kind: 'aborted' });
      }, 5);
      return;
    }
    req.end(out.body);
  });
}

/** What the framing of a raw request breaks: what no ordinary client sends, and Node's parser refuses. */
export type Frame =
  | 'chunked'
  | 'bad-chunk-size'
  | 'chunk-extension-overflow'
  | 'te-and-cl'
  | 'bad-content-length'
  | 'two-content-lengths'
  | 'obs-fold'
  | 'bare-lf'
  | 'nul-in-header'
  | 'bad-header-name'
  | 'space-before-colon'
  | 'bad-request-line'
  | 'http-version-9'
  | 'http-1.0'
  | 'absolute-uri'
  | 'long-url'
  | 'expect-continue'
  | 'bad-method';

export const FRAMES: readonly Frame[] = [
  'chunked',
  'bad-chunk-size',
  'chunk-extension-overflow',
  'te-and-cl',
  'bad-content-length',
  'two-content-lengths',
  'obs-fold',
  'bare-lf',
  'nul-in-header',
  'bad-header-name',
  'space-before-colon',
  'bad-request-line',
  'http-version-9',
  'http-1.0',
  'absolute-uri',
  'long-url',
  'expect-continue',
  'bad-method',
];

const chunked = (body: Buffer, size = body.length.toString(16), ext = ''): Buffer =>
  Buffer.concat([Buffer.from(`${size}${ext}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);

/** Per frame: the framing header lines it sends and the payload in place of the plain body. */
const FRAMING: Partial<Record<Frame, (body: Buffer) => { lines: string[]; payload?: Buffer }>> = {
  chunked: (b) => ({ lines: ['transfer-encoding: chunked'], payload: chunked(b) }),
  'bad-chunk-size': (b) => ({ lines: ['transfer-encoding: chunked'], payload: chunked(b, 'zz') }),
  'chunk-extension-overflow': (b) => ({
    lines: ['transfer-encoding: chunked'],
    payload: chunked(b, undefined, `;x=${'e'.repeat(20_000)}`),
  }),
  'te-and-cl': (b) => ({ lines: ['transfer-encoding: chunked', `content-length: ${b.length}`], payload: chunked(b) }),
  'bad-content-length': () => ({ lines: ['content-length: 12abc'] }),
  'two-content-lengths': (b) => ({ lines: [`content-length: ${b.length}`, `content-length: ${b.length + 1}`] }),
  'obs-fold': (b) => ({ lines: [`content-length: ${b.length}`, 'x-folded: first', ' second line'] }),
  'nul-in-header': (b) => ({ lines: [`content-length: ${b.length}`, 'x-nul: a\u0000b'] }),
  'bad-header-name': (b) => ({ lines: [`content-length: ${b.length}`, 'bad header: x'] }),
  'space-before-colon': (b) => ({ lines: [`content-length : ${b.length}`] }),
  'expect-continue': (b) => ({ lines: [`content-length: ${b.length}`, 'expect: 100-continue'] }),
};

/** The request line as `frame` breaks it (or not). */
function requestLine(out: Outgoing, frame: Frame): string {
  const path = out.path ?? '/';
  const target = frame === 'absolute-uri' ? `http://example.com${path}` : frame === 'long-url' ? `${path}?q=${'u'.repeat(20_000)}` : path;
  const method = frame === 'bad-method' ? 'P{OST' : (out.method ?? 'POST');
  const version = frame === 'http-version-9' ? 'HTTP/9.9' : frame === 'http-1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  return frame === 'bad-request-line' ? `${method}  ${target} ${version} extra` : `${method} ${target} ${version}`;
}

/** The request's bytes with its framing broken as `frame` says; it asks the server to close after answering. */
export function frameBytes(out: Outgoing, frame: Frame): Buffer {
  const eol = frame === 'bare-lf' ? '\n' : '\r\n';
  const lines: string[] = [requestLine(out, frame), 'host: fuzz', 'connection: close'];
  for (const [k, v] of Object.entries(out.headers)) for (const x of typeof v === 'string' ? [v] : v) lines.push(`${k}: ${x}`);
  const framing = FRAMING[frame]?.(out.body) ?? { lines: [`content-length: ${out.body.length}`] };
  return Buffer.concat([Buffer.from([...lines, ...framing.lines].join(eol) + eol + eol, 'latin1'), framing.payload ?? out.body]);
}

/** Raw bytes on a socket; the first final answer (1xx skipped), read until the server closes. */
export function sendRaw(base: string, bytes: Buffer, timeoutMs = 15_000): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (a: Answer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(a);
    };
    const s = connect(Number(port), hostname, () => s.write(bytes));
    const timer = setTimeout(() => finish({ kind: 'error', error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {
      // A reset after an answer is Node closing a connection whose request it did not read whole.
    });
    s.on('close', () => {
      const got = Buffer.concat(chunks);
      if (got.length === 0) return finish({ kind: 'error', error: 'the connection closed without an answer' });
      const parsed = parseResponse(got);
      finish(
        parsed
          ? { ...parsed, kind: 'response', ms: performance.now() - started }
          : { kind: 'error', error: `not an HTTP answer: ${JSON.stringify(got.subarray(0, 200).toString('latin1'))}` },
      );
    });
  });
}

function parseResponse(got: Buffer): { status: number; headers: IncomingHttpHeaders; body: Buffer } | undefined {
  let rest = got;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = rest.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) return undefined;
    const status = Number(m[1]);
    const headers: IncomingHttpHeaders = {};
    for (const h of head.slice(1)) {
      const i = h.indexOf(':');
      if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    let body = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = body;
      continue;
    }
    if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
    else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
    return { status, headers, body };
  }
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
