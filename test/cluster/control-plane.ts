/**
 * test/cluster/control-plane — a real control plane on loopback, as envtest runs one:
 * etcd, kube-apiserver (RBAC on, generated certs, service-account issuer), kube-controller-manager
 * (deployment, replicaset, GC, namespace, serviceaccount, disruption, job, PV binder, ClusterRole
 * aggregation controllers)
 * and the Knative CRDs. Binaries come from test/cluster/build.sh (cached outside the repo).
 * @see docs/testing.md
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface ControlPlane {
  readonly dir: string;
  readonly binDir: string;
  readonly crdsDir: string;
  readonly server: string;
  /** Admin kubeconfig (client cert in system:masters). */
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly startedInMs: number;
  stop(): Promise<void>;
}

/** Builds (or finds cached) binaries; prints progress because a cold build takes a while. */
export function buildBinaries(): string {
  const script = join(here, 'build.sh');
  const res = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`test/cluster/build.sh failed (exit ${res.status}); see its output above`);
  return res.stdout.trim().split('\n').pop()!;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throw-away CA, a serving cert for 127.0.0.1, client certs and the service-account key pair. */
function makePki(pki: string): void {
  mkdirSync(pki, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=reflex-test-ca'], pki);
  const issue = (name: string, subj: string, ext?: string): void => {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], pki);
    const extArgs: string[] = [];
    if (ext) {
      writeFileSync(join(pki, `${name}.ext`), ext);
      extArgs.push('-extfile', `${name}.ext`);
    }
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        ...extArgs,
      ],
      pki,
    );
  };
  issue(
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  issue('admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\n');
  issue('kcm', '/CN=system:kube-controller-manager', 'extendedKeyUsage=clientAuth\n');
  openssl(['genrsa', '-out', 'sa.key', '2048'], pki);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], pki);
}

export function writeKubeconfig(path: string, server: string, ca: string, user: { cert: string; key: string } | { token: string }): void {
  const creds = 'token' in user ? `    token: ${user.token}` : `    client-certificate: ${user.cert}\n    client-key: ${user.key}`;
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: reflex-test
  cluster:
    server: ${server}
    certificate-authority: ${ca}
users:
- name: user
  user:
${creds}
contexts:
- name: reflex-test
  context: {cluster: reflex-test, user: user}
current-context: reflex-test
`,
  );
}

/**
 * Runs `bin` under a watchdog shell that kills it when `owner` (this process) dies, so a crashed
 * test run never leaves an API server behind; SIGTERM to the watchdog stops the child.
 */
function supervise(name: string, bin: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const log = openSync(join(logDir, `${name}.log`), 'a');
  const script = `"$@" & child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT
while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
kill -TERM $child 2>/dev/null; wait $child`;
  const child = spawn('bash', ['-c', script, name, bin, ...args], {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
    detached: false,
  });
  closeSync(log);
  return child;
}

function httpsGet(url: string, pki: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(join(pki, 'ca.crt')),
        cert: readFileSync(join(pki, 'admin.crt')),
        key: readFileSync(join(pki, 'admin.key')),
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, logs: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`control plane: ${what} not ready after ${timeoutMs} ms; logs in ${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${res.stderr}${res.stdout}`);
  return res.stdout;
}

/** The audit policy of the test API server: writes by the reflex namespace's ServiceAccounts, metadata only. */
function auditPolicy(dir: string): string {
  const path = join(dir, 'audit-policy.yaml');
  writeFileSync(
    path,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      '  - level: Metadata',
      '    userGroups: ["system:serviceaccounts:reflex"]',
      '    verbs: [create, update, patch, delete, deletecollection]',
      '  - level: None',
      '',
    ].join('\n'),
  );
  return path;
}

/** Tells the harness (kube.ts, kubelet.ts, adapter.ts: they read it when they load) where `cp` is. */
export function useControlPlane(cp: ControlPlane): void {
  process.env['REFLEX_TEST_KUBECONFIG'] = cp.kubeconfig;
  process.env['REFLEX_TEST_BIN'] = cp.binDir;
  process.env['REFLEX_TEST_KUBECTL'] = cp.kubectl;
  process.env['REFLEX_TEST_CLUSTER_DIR'] = cp.dir;
}

export async function startControlPlane(options: { binDir?: string } = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  const cache = options.binDir ? dirname(options.binDir) : buildBinaries();
  const binDir = join(cache, 'bin');
  const crdsDir = join(cache, 'crds');
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
    if (!existsSync(join(binDir, b))) throw new Error(`control plane: ${b} missing in ${binDir}; run npm run cluster:build`);
  }
  const kubectl = existsSync(join(binDir, 'kubectl')) ? join(binDir, 'kubectl') : 'kubectl';
  const dir = mkdtempSync(join(tmpdir(), 'reflex-cp-'));
  const pki = join(dir, 'pki');
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  makePki(pki);

  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const procs: ChildProcess[] = [];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  procs.push(
    supervise(
      'etcd',
      join(binDir, 'etcd'),
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logs,
    ),
  );
  const stopOne = async (p: ChildProcess): Promise<void> => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    // The grace timer is cleared once the process is gone: a pending one kept jest's own process
    // alive for 8 s after every run ("Jest did not exit one second after the test run").
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (grace = setTimeout(r, 8_000)))]);
    clearTimeout(grace);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  const stop = async (): Promise<void> => {
    // Clients of etcd first (in parallel), etcd last.
    const [etcd, ...rest] = procs;
    await Promise.all(rest.map(stopOne));
    if (etcd) await stopOne(etcd);
    if (!process.env['REFLEX_KEEP_CLUSTER_DIR']) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      'etcd',
      async () =>
        await fetch(`${etcdUrl}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      logs,
    );
    const server = `https://127.0.0.1:${apiPort}`;
    procs.push(
      supervise(
        'kube-apiserver',
        join(binDir, 'kube-apiserver'),
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          `--cert-dir=${pki}`,
          `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
          `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
          `--client-ca-file=${join(pki, 'ca.crt')}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=${server}`,
          `--service-account-key-file=${join(pki, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          '--allow-privileged=true',
          '--event-ttl=1h',
          // Every write by Reflex's ServiceAccounts is recorded (test/cluster/kube.ts writesBy): the
          // oracle for "a forged signal changes nothing", whatever the function replies.
          `--audit-policy-file=${auditPolicy(dir)}`,
          `--audit-log-path=${join(dir, 'audit.log')}`,
          '--audit-log-format=json',
          '--audit-log-mode=blocking',
          '--v=1',
        ],
        logs,
      ),
    );
    await until('kube-apiserver', async () => (await httpsGet(`${server}/readyz`, pki)) === 200, 60_000, logs);
    const kubeconfig = join(dir, 'admin.kubeconfig');
    writeKubeconfig(kubeconfig, server, join(pki, 'ca.crt'), { cert: join(pki, 'admin.crt'), key: join(pki, 'admin.key') });
    const kcmConfig = join(dir, 'kcm.kubeconfig');
    writeKubeconfig(kcmConfig, server, join(pki, 'ca.crt'), { cert: join(pki, 'kcm.crt'), key: join(pki, 'kcm.key') });
    procs.push(
      supervise(
        'kube-controller-manager',
        join(binDir, 'kube-controller-manager'),
        [
          `--kubeconfig=${kcmConfig}`,
          '--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,disruption-controller,root-ca-certificate-publisher-controller,job-controller,persistentvolume-binder-controller,clusterrole-aggregation-controller',
          // Each controller acts as its own ServiceAccount with its bootstrap role, as in production.
          '--use-service-account-credentials=true',
          `--service-account-private-key-file=${join(pki, 'sa.key')}`,
          `--root-ca-file=${join(pki, 'ca.crt')}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--v=1',
        ],
        logs,
      ),
    );
    // CRDs for Knative Serving and Eventing, so server-side dry-run validates knative/ manifests.
    run(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', crdsDir]);
    run(kubectl, ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    // The controllers are up once the serviceaccount controller made `default` in `default`.
    await until(
      'kube-controller-manager',
      async () =>
        spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default'], { stdio: 'ignore' })
          .status === 0,
      60_000,
      logs,
    );
    return { dir, binDir, crdsDir, server, kubeconfig, kubectl, startedInMs: Date.now() - t0, stop };
  } catch (err) {
    process.stderr.write(`control plane failed to start; last lines of ${logs}:\n`);
    for (const f of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
      const p = join(logs, `${f}.log`);
      if (existsSync(p)) process.stderr.write(`--- ${f}\n${readFileSync(p, 'utf8').split('\n').slice(-15).join('\n')}\n`);
    }
    process.env['REFLEX_KEEP_CLUSTER_DIR'] = '1';
    await stop();
    throw err;
  }
}
