/**
 * test/cluster/proxy — the cluster network for processes that run outside any cluster: an HTTP
 * forward proxy (Go's HTTP_PROXY) that routes `*.svc.cluster.local` by name as cluster DNS and
 * kube-proxy would, to the local process that plays the Service's pod (a Unix socket into that
 * pod's network namespace, or a loopback port on the host). A Service of type ExternalName is
 * followed as DNS follows its CNAME (an InMemoryChannel's `<channel>-kn-channel` Service names
 * `imc-dispatcher.knative-eventing.svc.cluster.local`).
 *
 * Each pod gets its own listening socket (`socketFor(pod)`), so every exchange knows its sender.
 * Every exchange is kept (request, response, timings): what Knative sent to whom, and what came back.
 */
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clients } from './kube.js';

/** Where a Service's traffic goes: a Unix socket into a pod's namespace, or a host loopback port. */
export type Backend = { readonly socketPath: string } | { readonly port: number };

export interface Exchange {
  /** The pod (or `host`) that sent it. */
  readonly from: string;
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly startedAt: number;
  endedAt?: number;
  status?: number;
  responseHeaders?: IncomingHttpHeaders;
  responseBody?: string;
  /** No route, or the backend refused the connection. */
  error?: string;
}

export interface ClusterProxy {
  readonly exchanges: Exchange[];
  /** A listening Unix socket for `pod`; its exchanges are marked `from: pod`. */
  socketFor(pod: string): Promise<string>;
  /** A loopback port for host processes (the test itself, or a function server). */
  readonly port: number;
  /** Routes `host` (e.g. broker-ingress.knative-eventing.svc.cluster.local) to `backend`. */
  route(host: string, backend: Backend): void;
  /** Requests still in flight. */
  inflight(): number;
  /** Resolves once nothing has been in flight for `quietMs`. */
  settled(quietMs?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SVC = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$/;

export async function startProxy(dir: string, admin: Clients): Promise<ClusterProxy> {
  const routes = new Map<string, Backend>();
  const exchanges: Exchange[] = [];
  const servers: Server[] = [];
  let inflight = 0;
  let lastActivity = Date.now();

  /** The backend for `host`: a route, or the route of the name an ExternalName Service points to. */
  async function resolve(host: string, depth = 0): Promise<Backend | undefined> {
    const direct = routes.get(host);
    if (direct || depth > 4) return direct;
    const m = SVC.exec(host);
    if (!m) return undefined;
    const svc = await admin.core.readNamespacedService({ name: m[1]!, namespace: m[2]! }).catch(() => undefined);
    const external = svc?.spec?.type === 'ExternalName' ? svc.spec.externalName : undefined;
    return external ? resolve(external.replace(/\.$/, ''), depth + 1) : undefined;
  }

  function handler(from: string) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        inflight++;
        lastActivity = Date.now();
        // A forward proxy gets the absolute URL; a direct request (the test) its path and Host.
        const url = new URL(req.url!.startsWith('http') ? req.url! : `http://${req.headers.host ?? 'unknown'}${req.url!}`);
        const body = Buffer.concat(chunks);
        const x: Exchange = {
          from,
          host: url.hostname,
          method: req.method ?? 'GET',
          path: url.pathname + url.search,
          headers: req.headers,
          body: body.toString(),
          startedAt: Date.now(),
        };
        exchanges.push(x);
        const done = (status: number, headers: IncomingHttpHeaders, payload: Buffer): void => {
          x.status = status;
          x.responseHeaders = headers;
          x.responseBody = payload.toString();
          x.endedAt = Date.now();
          inflight--;
          lastActivity = Date.now();
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
          res.writeHead(status, out).end(payload);
        };
        const fail = (error: string): void => {
          x.error = error;
          done(502, { 'content-type': 'text/plain' }, Buffer.from(error));
        };
        resolve(url.hostname).then(
          (backend) => {
            if (!backend) return fail(`no route to ${url.hostname}`);
            const headers = { ...req.headers };
            delete headers['proxy-connection'];
            const upstream = request(
              {
                ...('socketPath' in backend ? { socketPath: backend.socketPath } : { host: '127.0.0.1', port: backend.port }),
                method: req.method,
                path: x.path,
                headers,
              },
              (r) => {
                const back: Buffer[] = [];
                r.on('data', (d: Buffer) => back.push(d));
                r.on('end', () => done(r.statusCode ?? 502, r.headers, Buffer.concat(back)));
                r.on('error', (e) => fail(String(e)));
              },
            );
            upstream.on('error', (e) => fail(`${url.hostname}: ${String(e)}`));
            upstream.end(body);
          },
          (e: unknown) => fail(String(e)),
        );
      });
    };
  }

  const hostServer = createServer(handler('host'));
  servers.push(hostServer);
  await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
  const { port } = hostServer.address() as AddressInfo;

  return {
    exchanges,
    port,
    route: (host, backend) => void routes.set(host, backend),
    inflight: () => inflight,
    async socketFor(pod) {
      const path = join(dir, `proxy-${pod}.sock`);
      rmSync(path, { force: true });
      const s = createServer(handler(pod));
      servers.push(s);
      await new Promise<void>((r) => s.listen(path, r));
      return path;
    },
    async settled(quietMs = 1000, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (inflight > 0 || Date.now() - lastActivity < quietMs) {
        if (Date.now() > deadline) throw new Error(`proxy: still ${inflight} request(s) in flight after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };
}
