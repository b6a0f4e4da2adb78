/** test/cluster/sink — a local HTTP server that records what is POSTed to it (a stand-in subscriber). */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Sink {
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

export async function startSink(status = 202): Promise<Sink> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Exchange {
  readonly request: Received;
  readonly status: number;
  readonly responseHeaders: Record<string, string>;
  readonly responseBody: string;
}

export interface Relay {
  readonly url: string;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

/**
 * Stands where the Broker stands between a source and a subscriber: forwards every request to
 * `target` and keeps both sides, so a test sees the replies (signals) a function sends back.
 */
export async function startRelay(target: string): Promise<Relay> {
  const exchanges: Exchange[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(target, { method: 'POST', headers, body })
        .then(async (r) => {
          const text = await r.text();
          exchanges.push({
            request: { headers: req.headers, body },
            status: r.status,
            responseHeaders: Object.fromEntries(r.headers.entries()),
            responseBody: text,
          });
          res.writeHead(r.status).end(text);
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** POSTs one CloudEvent in binary mode, as the Broker delivers to a subscriber. */
export function postEvent(url: string, event: { id: string; source: string; type: string; data: unknown }): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': event.id,
      'ce-source': event.source,
      'ce-type': event.type,
      'content-type': 'application/json',
    },
    body: JSON.stringify(event.data),
  });
}
