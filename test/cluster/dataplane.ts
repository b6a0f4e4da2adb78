/**
 * test/cluster/dataplane — Knative Eventing's control and data plane (knative.dev/eventing at the
 * pinned version, built by test/cluster/build-knative.sh) as local processes against the test
 * control plane, each one in the part its Deployment gives it:
 *
 * - the release configuration applied from the module's own config/ (namespace, ServiceAccounts,
 *   RBAC, ConfigMaps, Services, the InMemoryChannel CRD, the components' Deployments); not the
 *   webhooks (the API server cannot call a webhook that is a local process without TLS plumbing):
 *   Knative's defaulting is applied to Brokers and Triggers by the caller (test/cluster/oracle.ts);
 * - each component runs with the env its Deployment sets (fieldRef and configMapKeyRef resolved),
 *   a kubeconfig carrying a token of its own ServiceAccount (RBAC as in production), in its own
 *   network namespace (`unshare -Urn`, test/cluster/pod-shim.mjs): every Knative binary binds the
 *   same fixed ports (:8080, :8008, :9090), as pods can;
 * - what no process here does, the test does as those processes would: the kubelet's pod status
 *   (Running, Ready, a pod IP) once a component answers its readiness probe, the endpoints
 *   controller's Endpoints, cluster DNS and kube-proxy (test/cluster/proxy.ts).
 * @see docs/testing.md ("The Knative data plane")
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatchStrategy, setHeaderOptions, type V1Container, type V1Deployment, type V1EnvVar, type V1Pod } from '@kubernetes/client-node';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { admin, adminKubeconfigPath, asServiceAccount, eventually } from './kube.js';
import { startProxy, type ClusterProxy } from './proxy.js';

const here = dirname(fileURLToPath(import.meta.url));
const SYSTEM_NAMESPACE = 'knative-eventing';
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface K8sDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** A Knative component: the binary build-knative.sh made, and the Deployment (in config/) it plays. */
interface Component {
  readonly bin: string;
  readonly deployment: string;
  /** Its Service (the data plane): gets Endpoints and a route in the proxy. */
  readonly service?: string;
}

export const COMPONENTS: readonly Component[] = [
  { bin: 'knative-controller', deployment: 'eventing-controller' },
  { bin: 'knative-mt-broker-controller', deployment: 'mt-broker-controller' },
  { bin: 'knative-imc-controller', deployment: 'imc-controller' },
  { bin: 'knative-imc-dispatcher', deployment: 'imc-dispatcher', service: 'imc-dispatcher' },
  { bin: 'knative-broker-ingress', deployment: 'mt-broker-ingress', service: 'broker-ingress' },
  { bin: 'knative-broker-filter', deployment: 'mt-broker-filter', service: 'broker-filter' },
];

/**
 * The parts of the release that an install of the MT channel-based Broker with InMemoryChannel
 * creates, read from the module's config/ (ko:// images stay: nothing runs the pods' images).
 * Left out: the webhooks and their configurations, and the components not run here (webhook,
 * job-sink, pingsource-mt-adapter, request-reply, HPAs).
 */
export function releaseObjects(configDir: string): K8sDoc[] {
  const files = [
    'core/100-namespace.yaml',
    'core/200-eventing-serviceaccount.yaml',
    ...yamls(configDir, 'core/configmaps'),
    ...yamls(configDir, 'core/roles'),
    'core/deployments/controller.yaml',
    ...yamls(configDir, 'brokers/mt-channel-broker/roles'),
    'brokers/mt-channel-broker/deployments/controller.yaml',
    'brokers/mt-channel-broker/deployments/broker-ingress.yaml',
    'brokers/mt-channel-broker/deployments/broker-filter.yaml',
    'channels/in-memory-channel/200-imc-controller-serviceaccount.yaml',
    'channels/in-memory-channel/200-imc-dispatcher-serviceaccount.yaml',
    ...yamls(configDir, 'channels/in-memory-channel/configmaps'),
    ...yamls(configDir, 'channels/in-memory-channel/roles'),
    'channels/in-memory-channel/resources/in-memory-channel.yaml',
    'channels/in-memory-channel/deployments/controller.yaml',
    'channels/in-memory-channel/deployments/dispatcher.yaml',
    'channels/in-memory-channel/deployments/dispatcher-service.yaml',
  ];
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(configDir, f), 'utf8'))
      .map((d) => d.toJSON() as K8sDoc | null)
      .filter((d): d is K8sDoc => !!d && typeof d.kind === 'string'),
  );
}

function yamls(configDir: string, sub: string): string[] {
  return readdirSync(join(configDir, sub))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => `${sub}/${f}`);
}

/**
 * kubectl as the admin, without blocking this process: the API server's forwarder into the pods'
 * namespaces and the cluster proxy run on this event loop, so a synchronous kubectl would cut
 * Knative off from the API server for as long as it runs (a delete waiting on a finalizer would wait
 * for ever).
 */
export function kubectlAsync(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.env['REFLEX_TEST_KUBECTL'] ?? 'kubectl',
      ['--kubeconfig', adminKubeconfigPath(), ...args],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}${stdout}`)) : resolve(stdout)),
    );
  });
}

/** Applies objects server-side as the admin (SSA: no create race with other test files applying the same). */
export function apply(objects: readonly unknown[]): Promise<string> {
  return withFile(objects, (f) => kubectlAsync('apply', '--server-side', '--force-conflicts', '--field-manager=reflex-test', '-f', f));
}

/** Deletes objects as the admin and waits until they are gone (finalizers released), up to a minute. */
export function remove(objects: readonly unknown[]): Promise<string> {
  return withFile(objects, (f) => kubectlAsync('delete', '--ignore-not-found', '--wait=true', '--timeout=60s', '-f', f));
}

/** `objects` as one YAML file for the length of `use`. */
async function withFile<T>(objects: readonly unknown[], use: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-apply-'));
  const path = join(dir, 'objects.yaml');
  writeFileSync(path, objects.map((o) => stringify(o)).join('---\n'));
  try {
    return await use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A process standing in for a pod: its own network namespace, its ports reachable through Unix sockets. */
export interface PodProcess {
  readonly name: string;
  /** The Unix socket that reaches `port` inside the pod. */
  socket(port: number): string;
  output(): string;
  running(): boolean;
  stop(): Promise<void>;
}

export interface PodOptions {
  /** Names the log file and the proxy socket. */
  readonly name: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Container ports to reach from outside (through `socket(port)`). */
  readonly ports: readonly number[];
}

export interface DataPlane {
  readonly dir: string;
  readonly binDir: string;
  readonly configDir: string;
  readonly proxy: ClusterProxy;
  readonly pods: ReadonlyMap<string, PodProcess>;
  /** The env, fieldRefs resolved, that a Deployment's first container gets in `pod`. */
  envOf(deployment: V1Deployment, pod: string): Promise<Record<string, string>>;
  /** Runs a process as a pod: own network namespace, the API server and the cluster network reachable. */
  runPod(options: PodOptions): Promise<PodProcess>;
  /** What the kubelet writes once a pod's containers are up and ready: Running, Ready, a pod IP. */
  markReady(pod: V1Pod): Promise<V1Pod>;
  /** The pod the ReplicaSet controller made for `deployment` (it waits for one). */
  podOf(namespace: string, deployment: string): Promise<V1Pod>;
  /** The last lines of every component's log, for a failing test. */
  tails(lines?: number): string;
  stop(): Promise<void>;
}

const a = admin();
let nextIp = 10;

function apiPort(): number {
  const cfg = parse(readFileSync(adminKubeconfigPath(), 'utf8')) as { clusters: { cluster: { server: string } }[] };
  return Number(new URL(cfg.clusters[0]!.cluster.server).port);
}

/** GET over a Unix socket, as the kubelet probes (its User-Agent is what Knative's handlers recognise): the status, or 0. */
function getStatus(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path, method: 'GET', headers: { host: 'localhost', 'user-agent': 'kube-probe/1.36' }, timeout: 2000 },
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

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The readiness probe the Deployment declares, run against the process. */
export async function probe(container: V1Container, pod: PodProcess): Promise<boolean> {
  const p = container.readinessProbe?.httpGet;
  const ports = container.ports ?? [];
  const portOf = (port: number | string | undefined): number =>
    typeof port === 'number' ? port : (ports.find((x) => x.name === port)?.containerPort ?? Number(port ?? 8080));
  if (!p) return canConnect(pod.socket(ports[0]?.containerPort ?? 8080));
  const port = portOf(p.port as number | string);
  if (p.scheme === 'HTTPS') return canConnect(pod.socket(port));
  const path = p.path ?? '/';
  const status = await getStatus(pod.socket(port), path.startsWith('/') ? path : `/${path}`);
  return status >= 200 && status < 400;
}

/**
 * Starts Knative: applies the release configuration, runs the six components as pods, and plays the
 * kubelet and the endpoints controller for them. Resolves when the data plane's Services have ready
 * Endpoints (what the Broker and InMemoryChannel reconcilers check).
 */
export async function startDataPlane(): Promise<DataPlane> {
  const binDir = process.env['REFLEX_TEST_BIN'];
  if (!binDir) throw new Error('REFLEX_TEST_BIN is not set: cluster tests run under the jest global setup (npm test)');
  const configDir = join(dirname(binDir), 'knative-config');
  for (const c of COMPONENTS)
    if (!existsSync(join(binDir, c.bin))) throw new Error(`${c.bin} missing in ${binDir}: run test/cluster/build.sh (build-knative.sh)`);
  const dir = mkdtempSync(join(tmpdir(), 'reflex-dp-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const pods = new Map<string, PodProcess>();

  // The API server, reachable from inside every pod's namespace at the address its kubeconfig names.
  const port = apiPort();
  const apiSocket = join(dir, 'api.sock');
  const apiForward: Server = createServer((c) => {
    const up = connect(port, '127.0.0.1');
    c.pipe(up).pipe(c);
    const close = (): void => {
      c.destroy();
      up.destroy();
    };
    c.on('error', close);
    up.on('error', close);
    c.on('close', close);
    up.on('close', close);
  });
  await new Promise<void>((r) => apiForward.listen(apiSocket, r));
  const proxy = await startProxy(dir, a);

  const release = releaseObjects(configDir);
  const crds = release.filter((o) => o.kind === 'CustomResourceDefinition');
  await apply(crds);
  await kubectlAsync('wait', '--for=condition=Established', ...crds.map((c) => `crd/${c.metadata.name}`), '--timeout=60s');
  await apply(release.filter((o) => o.kind === 'Namespace'));
  await apply(release.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace'));
  const configMaps = new Map(release.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));

  const shim = join(here, 'pod-shim.mjs');
  const runPod = async (o: PodOptions): Promise<PodProcess> => {
    const proxySocket = await proxy.socketFor(o.name);
    const socket = (p: number): string => join(dir, `${o.name}.${p}.sock`);
    const spec = {
      outbound: [
        { port, socket: apiSocket },
        { port: 3128, socket: proxySocket },
      ],
      inbound: o.ports.map((p) => ({ socket: socket(p), port: p })),
      command: o.command,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        // Go honours these for every host but loopback: cluster names go to the proxy.
        HTTP_PROXY: 'http://127.0.0.1:3128',
        http_proxy: 'http://127.0.0.1:3128',
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
        ...o.env,
      },
    };
    const logPath = join(logs, `${o.name}.log`);
    const log = openSync(logPath, 'a');
    const child: ChildProcess = spawn('unshare', ['-Urn', '--', process.execPath, shim, JSON.stringify(spec)], {
      stdio: ['pipe', log, log],
    });
    closeSync(log);
    let exited = false;
    const gone = new Promise<void>((r) =>
      child.once('exit', () => {
        exited = true;
        r();
      }),
    );
    const pod: PodProcess = {
      name: o.name,
      socket,
      output: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),
      running: () => !exited,
      stop: async () => {
        if (exited) return;
        child.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
        if (!exited) child.kill('SIGKILL');
      },
    };
    pods.set(o.name, pod);
    return pod;
  };

  /** One env var as the kubelet resolves it: a value, a fieldRef of the pod, a ConfigMap key. */
  const envValue = async (e: V1EnvVar, ns: string, podName: string): Promise<string | undefined> => {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.namespace') return ns;
    if (field === 'metadata.name') return podName;
    const cm = e.valueFrom?.configMapKeyRef;
    if (!cm) return e.value;
    const cmName = cm.name ?? '';
    const inRelease = ns === SYSTEM_NAMESPACE ? configMaps.get(cmName)?.[cm.key] : undefined;
    const live =
      inRelease ?? (await a.core.readNamespacedConfigMap({ name: cmName, namespace: ns }).catch(() => undefined))?.data?.[cm.key];
    // The images of integrations Knative would run as pods: never run here, so any name does.
    return live ?? `unused.local/${cm.key}`;
  };
  const envOf = async (d: V1Deployment, podName: string): Promise<Record<string, string>> => {
    const env: Record<string, string> = {};
    for (const e of d.spec?.template.spec?.containers[0]?.env ?? []) {
      const v = await envValue(e, d.metadata?.namespace ?? 'default', podName);
      if (v !== undefined) env[e.name] = v;
    }
    return env;
  };

  const podOf = (namespace: string, deployment: string): Promise<V1Pod> =>
    eventually(
      `a pod of Deployment ${namespace}/${deployment}`,
      async () => {
        const d = await a.apps.readNamespacedDeployment({ name: deployment, namespace });
        const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        const list = await a.core.listNamespacedPod({ namespace, labelSelector: selector });
        return list.items.find((p) => !p.metadata?.deletionTimestamp);
      },
      30_000,
    );

  const markReady = async (pod: V1Pod): Promise<V1Pod> => {
    const ip = pod.status?.podIP ?? `10.244.0.${nextIp++}`;
    const now = new Date();
    const cond = (type: string): { type: string; status: string; lastTransitionTime: Date } => ({
      type,
      status: 'True',
      lastTransitionTime: now,
    });
    return a.core.patchNamespacedPodStatus(
      {
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          status: {
            phase: 'Running',
            hostIP: '10.0.0.2',
            podIP: ip,
            podIPs: [{ ip }],
            startTime: now,
            conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
            containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
              name: c.name,
              image: c.image ?? '',
              imageID: '',
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            })),
          },
        },
      },
      merge,
    );
  };

  const deployments = new Map(release.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, o as unknown as V1Deployment]));
  const services = new Map(release.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o]));
  const kubeconfigs = new Map<string, string>();
  const plane: DataPlane = {
    dir,
    binDir,
    configDir,
    proxy,
    pods,
    envOf,
    runPod,
    markReady,
    podOf,
    tails: (n = 25) => [...pods.values()].map((p) => `--- ${p.name}\n${p.output().split('\n').slice(-n).join('\n')}`).join('\n'),
    stop: async () => {
      await Promise.all([...pods.values()].map((p) => p.stop()));
      await proxy.close();
      await new Promise<void>((r) => apiForward.close(() => r()));
      if (!process.env['REFLEX_KEEP_CLUSTER_DIR']) rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    const started = await Promise.allSettled(
      COMPONENTS.map(async (c) => {
        const d = deployments.get(c.deployment);
        if (!d) throw new Error(`no Deployment ${c.deployment} in the release config`);
        const container = d.spec!.template.spec!.containers[0]!;
        const sa = d.spec!.template.spec!.serviceAccountName ?? 'default';
        if (!kubeconfigs.has(sa)) kubeconfigs.set(sa, (await asServiceAccount(SYSTEM_NAMESPACE, sa)).kubeconfig);
        const podObj = await podOf(SYSTEM_NAMESPACE, c.deployment);
        const pod = await runPod({
          name: c.deployment,
          command: [join(binDir, c.bin)],
          env: { ...(await envOf(d, podObj.metadata!.name!)), KUBECONFIG: kubeconfigs.get(sa)! },
          ports: (container.ports ?? []).map((p) => p.containerPort),
        });
        await eventually(
          `${c.deployment} to answer its readiness probe`,
          async () => {
            if (!pod.running()) throw new Error(`${c.deployment} exited:\n${pod.output().split('\n').slice(-20).join('\n')}`);
            return (await probe(container, pod)) ? true : undefined;
          },
          60_000,
        );
        const ready = await markReady(podObj);
        if (!c.service) return;
        const svc = services.get(c.service)!;
        const svcPorts = (svc.spec as { ports: { name?: string; port: number; targetPort?: number; protocol?: string }[] }).ports;
        // The endpoints controller's Endpoints: the ready pod, on each Service port's target.
        await a.core
          .createNamespacedEndpoints({
            namespace: SYSTEM_NAMESPACE,
            body: {
              metadata: { name: c.service, namespace: SYSTEM_NAMESPACE, labels: svc.metadata.labels ?? {} },
              subsets: [
                {
                  addresses: [
                    {
                      ip: ready.status!.podIP!,
                      targetRef: { kind: 'Pod', namespace: SYSTEM_NAMESPACE, name: ready.metadata!.name!, uid: ready.metadata!.uid! },
                    },
                  ],
                  ports: svcPorts.map((p) => ({
                    ...(p.name ? { name: p.name } : {}),
                    port: p.targetPort ?? p.port,
                    protocol: p.protocol ?? 'TCP',
                  })),
                },
              ],
            },
          })
          .catch(async (err: unknown) => {
            if ((err as { code?: number }).code !== 409) throw err;
          });
        const http = svcPorts.find((p) => p.port === 80);
        proxy.route(`${c.service}.${SYSTEM_NAMESPACE}.svc.cluster.local`, { socketPath: pod.socket(http?.targetPort ?? 8080) });
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    process.stderr.write(`the Knative data plane failed to start; logs in ${logs}\n${plane.tails()}\n`);
    process.env['REFLEX_KEEP_CLUSTER_DIR'] = '1';
    await plane.stop();
    throw err;
  }
  return plane;
}
