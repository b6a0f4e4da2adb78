// test/cluster/pod-shim — runs inside a fresh network namespace (`unshare -Urn`), as the "pod" of
// one Knative component: brings up loopback, wires the namespace to the host through Unix sockets
// (which live on the shared filesystem, so they cross network namespaces), then runs the component.
//   outbound: 127.0.0.1:<port> inside  -> <unix socket> served on the host (the API server, the proxy)
//   inbound:  <unix socket>            -> 127.0.0.1:<port> inside (the component's own ports)
// Every component binds the same fixed ports (:8080 probes, :8008 profiling, :9090 metrics), as each
// pod has its own; here each has its own namespace. The host ends the pod by SIGTERM, or by closing
// this process's stdin (the test process died): the component gets SIGTERM, then SIGKILL after 8 s.
// Plain JS: it runs under `node` with no loader. Spec (JSON, argv[2]):
//   { "outbound": [{ "port": 6443, "socket": "/run/api.sock" }], "inbound": [{ "socket": "/run/x.sock", "port": 8080 }],
//     "command": ["/bin/knative-broker-ingress"], "env": { ... } }
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const spec = JSON.parse(process.argv[2] ?? '{}');

for (const ip of ['/usr/sbin/ip', '/sbin/ip', 'ip']) {
  try {
    execFileSync(ip, ['link', 'set', 'lo', 'up'], { stdio: 'ignore' });
    break;
  } catch {
    // next candidate
  }
}

/** Pipes each accepted connection to a fresh connection made by `dial`, both ways, until either ends. */
function bridge(server, dial) {
  server.on('connection', (inbound) => {
    const outbound = dial();
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
    inbound.on('close', close);
    outbound.on('close', close);
  });
  return server;
}

const listening = [];
for (const { port, socket } of spec.outbound ?? []) {
  const s = bridge(createServer(), () => connect(socket));
  listening.push(new Promise((resolve, reject) => s.listen(port, '127.0.0.1', resolve).once('error', reject)));
}
for (const { socket, port } of spec.inbound ?? []) {
  rmSync(socket, { force: true });
  const s = bridge(createServer(), () => connect(port, '127.0.0.1'));
  listening.push(new Promise((resolve, reject) => s.listen(socket, resolve).once('error', reject)));
}
await Promise.all(listening);

const [bin, ...args] = spec.command;
const child = spawn(bin, args, { env: spec.env ?? {}, stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 8000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The host keeps our stdin open for as long as it lives.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
child.on('exit', (code, signal) => {
  for (const { socket } of spec.inbound ?? []) rmSync(socket, { force: true });
  process.exit(code ?? (signal ? 128 : 1));
});
