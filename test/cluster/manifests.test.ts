/**
 * knative/ is the whole install: rendered by kustomize, accepted by the real API server (Knative
 * CRDs installed), least-privilege per function, and Triggers that line up with the functions.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ANY_TYPE, type FunctionDefinition } from '../../functions/_kit/index.js';
import { authFrom } from '../../functions/_kit/config.js';
import {
  ACTION_VERBS,
  ALERT_STATUSES,
  alertType,
  ENRICHED_CLASSES,
  enrichedType,
  SIGNAL_CLASSES,
  signalType,
} from '../../functions/_contracts/events.js';
import { compileFilter } from '../../dev/mesh/filters.js';
import type { SubscriptionsFilter } from '../../dev/mesh/manifests.js';
import { adminKubeconfigPath, asServiceAccount, type Clients } from './kube.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const kubectlBin = process.env['REFLEX_TEST_KUBECTL'] ?? 'kubectl';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

function kubectl(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(kubectlBin, ['--kubeconfig', adminKubeconfigPath(), ...args], { input, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

let rendered: string;
let objects: Obj[];

beforeAll(() => {
  const r = spawnSync(kubectlBin, ['kustomize', `${root}knative`], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  rendered = r.stdout;
  objects = parseAllDocuments(rendered).map((d) => d.toJSON() as Obj);
  // The install's namespace exists before the namespaced objects are checked against it.
  kubectl(
    ['apply', '-f', '-'],
    objects
      .filter((o) => o.kind === 'Namespace')
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
});

describe('the kustomization', () => {
  it('renders every function folder as exactly one Knative Service', () => {
    const functions = readdirSync(`${root}functions`, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
      .map((e) => e.name)
      .sort();
    const services = objects
      .filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1')
      .map((o) => o.metadata.name)
      .sort();
    expect(services).toEqual(functions);
  });

  it('is accepted by the API server (server-side dry-run, every object)', () => {
    const r = kubectl(['apply', '--dry-run=server', '-f', '-'], rendered);
    expect(r.out).not.toMatch(/error|invalid|unknown field/i);
    expect(r.status).toBe(0);
    const accepted = r.out.split('\n').filter((l) => /\(server dry run\)$/.test(l));
    expect(accepted).toHaveLength(objects.length);
  });

  it('gives every container the restricted security context and the kit probes', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1')) {
      const c = (svc.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0]!;
      expect([svc.metadata.name, c['securityContext']]).toEqual([
        svc.metadata.name,
        {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
      ]);
      expect(c['readinessProbe']).toMatchObject({ httpGet: { path: '/readyz' } });
      expect(c['livenessProbe']).toMatchObject({ httpGet: { path: '/healthz' } });
      expect(c['resources']).toMatchObject({
        requests: { cpu: expect.any(String), memory: expect.any(String) },
        limits: { memory: expect.any(String) },
      });
    }
  });

  it('makes every Knative Service cluster-local (no route from outside the cluster)', () => {
    for (const svc of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1'))
      expect([
        svc.metadata.name,
        (svc.metadata as { labels?: Record<string, string> }).labels?.['networking.knative.dev/visibility'],
      ]).toEqual([svc.metadata.name, 'cluster-local']);
  });

  it("admits ingress to the functions' pods only from the Knative data plane and Reflex's namespace", () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.map((p) => [p.metadata.name, p.metadata.namespace])).toEqual([['reflex-functions-ingress', 'reflex']]);
    const spec = policies[0]!.spec as {
      podSelector: { matchExpressions: { key: string; operator: string }[] };
      policyTypes: string[];
      ingress: { from: { namespaceSelector?: { matchExpressions: { values: string[] }[] }; podSelector?: object }[]; ports?: unknown }[];
    };
    // Every pod Knative runs for a Service of this namespace, whatever its name.
    expect(spec.podSelector).toEqual({ matchExpressions: [{ key: 'serving.knative.dev/service', operator: 'Exists' }] });
    expect(spec.policyTypes).toEqual(['Ingress']);
    expect(spec.ingress).toHaveLength(1);
    const [namespaces, own] = spec.ingress[0]!.from;
    expect(namespaces!.namespaceSelector!.matchExpressions[0]!.values.sort()).toEqual([
      'knative-eventing',
      'knative-serving',
      'kourier-system',
    ]);
    expect(own).toEqual({ podSelector: {} });
  });

  it('dead-letters the Broker to the deadletter function', () => {
    const broker = objects.find((o) => o.kind === 'Broker')!;
    expect(broker.spec).toMatchObject({
      delivery: { backoffPolicy: 'exponential', deadLetterSink: { ref: { kind: 'Service', name: 'deadletter' } } },
    });
  });
});

describe('the sources', () => {
  const sources = (objs: Obj[]): Record<string, Record<string, unknown>> =>
    Object.fromEntries(objs.filter((o) => o.kind === 'ApiServerSource').map((o) => [o.metadata.name, o.spec ?? {}]));

  it('watch opted-in namespaces, Nodes, and `default` for Node Events only through a marked source', () => {
    const s = sources(objects);
    const optedIn = { matchLabels: { 'reflex.dev/enabled': 'true' } };
    expect(Object.keys(s).sort()).toEqual(['reflex-events', 'reflex-node-events', 'reflex-nodes', 'reflex-state']);
    expect(s['reflex-events']).toMatchObject({
      mode: 'Resource',
      namespaceSelector: optedIn,
      resources: [{ apiVersion: 'v1', kind: 'Event' }],
    });
    expect(s['reflex-state']).toMatchObject({
      mode: 'Resource',
      namespaceSelector: optedIn,
      resources: [
        { apiVersion: 'v1', kind: 'Pod' },
        { apiVersion: 'apps/v1', kind: 'Deployment' },
        { apiVersion: 'batch/v1', kind: 'Job' },
        { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
      ],
    });
    expect(s['reflex-node-events']).toEqual({
      mode: 'Resource',
      serviceAccountName: 'reflex-source',
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'default' } },
      resources: [{ apiVersion: 'v1', kind: 'Event' }],
      ceOverrides: { extensions: { reflexscope: 'nodes' } },
      sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'reflex' } },
    });
  });

  it('the patch docs/install.md shows removes reflex-node-events, and nothing else', () => {
    const doc = readFileSync(`${root}docs/install.md`, 'utf8');
    const patches = /\n(patches:\n[\s\S]*?)\n```/.exec(doc)?.[1];
    expect(patches).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'reflex-no-node-events-'));
    cpSync(`${root}knative`, join(dir, 'knative'), { recursive: true });
    mkdirSync(join(dir, 'my-reflex'));
    writeFileSync(
      join(dir, 'my-reflex', 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../knative]\n${patches!}\n`,
    );
    const r = spawnSync(kubectlBin, ['kustomize', join(dir, 'my-reflex')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const rendered = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
    expect(Object.keys(sources(rendered)).sort()).toEqual(['reflex-events', 'reflex-nodes', 'reflex-state']);
    expect(rendered).toHaveLength(objects.length - 1);
  });
});

describe('docs/install.md with kubectl alone', () => {
  it('the kustomization it shows points every function at your image, rendered by kubectl', () => {
    const doc = readFileSync(`${root}docs/install.md`, 'utf8');
    const block = /cat > my-reflex\/kustomization\.yaml <<'YAML'\n([\s\S]*?)\nYAML\n/.exec(doc)?.[1];
    expect(block).toBeDefined();
    // Beside a copy of the checkout, as the page has it: my-reflex/ next to knative/ and overlays/.
    const dir = mkdtempSync(join(tmpdir(), 'reflex-install-'));
    cpSync(`${root}knative`, join(dir, 'knative'), { recursive: true });
    cpSync(`${root}overlays`, join(dir, 'overlays'), { recursive: true });
    mkdirSync(join(dir, 'my-reflex'));
    writeFileSync(join(dir, 'my-reflex', 'kustomization.yaml'), block!);
    const r = spawnSync(kubectlBin, ['kustomize', join(dir, 'my-reflex')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const images = [...r.stdout.matchAll(/^\s+image: (.*)$/gm)].map((m) => m[1]);
    expect(images.length).toBeGreaterThanOrEqual(6);
    expect(new Set(images)).toEqual(new Set(['registry.example/reflex:0.1.0']));
  });
});

describe('overlays', () => {
  const render = (dir: string): { text: string; objects: Obj[] } => {
    const r = spawnSync(kubectlBin, ['kustomize', `${root}overlays/${dir}`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return { text: r.stdout, objects: parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj) };
  };
  const env = (objs: Obj[], service: string): Record<string, string> => {
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === service)!;
    const c = (svc.spec as { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } }).template.spec
      .containers[0]!;
    return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  };

  it.each(['dry-run', 'production'])('%s renders and is accepted by the API server', (dir) => {
    const { text, objects: objs } = render(dir);
    const r = kubectl(['apply', '--dry-run=server', '-f', '-'], text);
    expect(r.status).toBe(0);
    expect(r.out.split('\n').filter((l) => /\(server dry run\)$/.test(l))).toHaveLength(objs.length);
  });

  it('production authenticates senders: each function checks the audience its Triggers ask tokens for, and may review them', () => {
    const objs = render('production').objects;
    const all = objs.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1');
    // A webhook receiver (alerts) is posted to by its own sender, not the Broker, and checks that sender's credentials itself.
    const receivesWebhook = (o: Obj): boolean =>
      (o.metadata as { labels?: Record<string, string> }).labels?.['reflex.dev/receives'] === 'webhook';
    for (const svc of all.filter(receivesWebhook)) {
      expect([svc.metadata.name, authFrom(env(objs, svc.metadata.name)).mode]).toEqual([svc.metadata.name, 'none']);
      const c = (svc.spec as { template: { spec: { containers: { envFrom?: { secretRef?: { name: string } }[] }[] } } }).template.spec
        .containers[0]!;
      expect(c.envFrom?.some((e) => e.secretRef?.name === `reflex-${svc.metadata.name}`)).toBe(true);
    }
    const services = all.filter((o) => !receivesWebhook(o));
    const audience = new Map<string, string>();
    for (const svc of services) {
      const e = env(objs, svc.metadata.name);
      // What the kit will parse at start-up: no ConfigError, and oidc.
      const auth = authFrom(e);
      expect([svc.metadata.name, auth.mode]).toEqual([svc.metadata.name, 'oidc']);
      if (auth.mode === 'oidc') audience.set(svc.metadata.name, auth.audience);
    }
    // One audience per function: a token for notify is no use at recover.
    expect(new Set(audience.values()).size).toBe(services.length);
    for (const t of objs.filter((o) => o.kind === 'Trigger')) {
      const spec = t.spec as {
        subscriber: { ref: { name: string }; audience?: string };
        delivery?: { deadLetterSink?: { ref: { name: string }; audience?: string } };
      };
      expect([t.metadata.name, spec.subscriber.audience]).toEqual([t.metadata.name, audience.get(spec.subscriber.ref.name)]);
      // A Trigger's own dead-letter sink (enrich's: notify) is asked for with its audience too.
      const own = spec.delivery?.deadLetterSink;
      if (own) expect([t.metadata.name, own.audience]).toEqual([t.metadata.name, audience.get(own.ref.name)]);
    }
    const broker = objs.find((o) => o.kind === 'Broker')!;
    const dls = (broker.spec as { delivery: { deadLetterSink: { ref: { name: string }; audience?: string } } }).delivery.deadLetterSink;
    expect(dls.audience).toBe(audience.get(dls.ref.name));
    // Each function runs as an account bound to a role that may create TokenReviews, with its token mounted.
    const reviewers = new Set<string>();
    const roles = objs.filter((o) => o.kind === 'ClusterRole') as unknown as {
      metadata: { name: string };
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    }[];
    for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding') as unknown as {
      roleRef: { name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    }[]) {
      const role = roles.find((r) => r.metadata.name === b.roleRef.name);
      const reviews = role?.rules.some(
        (r) => r.apiGroups.includes('authentication.k8s.io') && r.resources.includes('tokenreviews') && r.verbs.includes('create'),
      );
      if (reviews) for (const s of b.subjects) if (s.kind === 'ServiceAccount' && s.namespace === 'reflex') reviewers.add(s.name);
    }
    for (const svc of services) {
      const pod = (svc.spec as { template: { spec: { serviceAccountName?: string; automountServiceAccountToken?: boolean } } }).template
        .spec;
      const mayReview = pod.serviceAccountName !== undefined && reviewers.has(pod.serviceAccountName);
      expect([svc.metadata.name, mayReview, pod.automountServiceAccountToken !== false]).toEqual([svc.metadata.name, true, true]);
    }
  });

  it('the base and dry-run leave sender authentication off (the development mesh runs the base)', () => {
    for (const objs of [objects, render('dry-run').objects])
      for (const svc of objs.filter((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1'))
        expect([svc.metadata.name, authFrom(env(objs, svc.metadata.name)).mode]).toEqual([svc.metadata.name, 'none']);
  });

  it('dry-run makes every function that acts report instead of act; the base acts', () => {
    for (const fn of ['recover', 'scale']) expect([fn, env(render('dry-run').objects, fn)['REFLEX_DRY_RUN']]).toEqual([fn, 'true']);
    expect(env(objects, 'recover')['REFLEX_DRY_RUN']).toBeUndefined();
  });
});

/** The attributes sources and functions put on their events, for evaluating Trigger filters. */
function producedTypes(): { type: string; source?: string; reflexclass?: string }[] {
  const types: { type: string; source?: string; reflexclass?: string }[] = [
    ...SIGNAL_CLASSES.map((c) => ({ type: signalType(c), reflexclass: c })),
    // enrich's replies.
    ...ENRICHED_CLASSES.map((c) => ({ type: enrichedType(c), reflexclass: c })),
    // recover's and scale's replies.
    ...ACTION_VERBS.map((v) => ({ type: `dev.reflex.action.${v}` })),
    // sweep's and classify's follow-up when a problem is over.
    ...SIGNAL_CLASSES.map((c) => ({ type: 'dev.reflex.resolved', reflexclass: c })),
    // The alerts function's, from Alertmanager's webhook.
    ...ALERT_STATUSES.map((s) => ({ type: alertType(s) })),
  ];
  for (const o of objects) {
    if (o.kind === 'ApiServerSource')
      for (const v of ['add', 'update', 'delete']) types.push({ type: `dev.knative.apiserver.resource.${v}` });
    if (o.kind === 'PingSource')
      types.push({
        type: 'dev.knative.sources.ping',
        source: `/apis/v1/namespaces/${o.metadata.namespace}/pingsources/${o.metadata.name}`,
      });
  }
  return types;
}

type Filter = Record<string, unknown>;
/** Trigger `filters` as the development broker (and Knative) evaluate them. */
function passes(filters: Filter[], attrs: Record<string, string | undefined>): boolean {
  const defined = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined));
  return compileFilter({ filters: filters as unknown as SubscriptionsFilter[], from: 'test', name: 'test' })(defined);
}

describe('Triggers and functions line up', () => {
  it('every Trigger delivers only types its subscriber accepts, and passes at least one produced type', async () => {
    const triggers = objects.filter((o) => o.kind === 'Trigger');
    expect(triggers.length).toBeGreaterThan(0);
    for (const t of triggers) {
      const spec = t.spec as { filters?: Filter[]; subscriber: { ref: { kind: string; name: string } } };
      expect(spec.subscriber.ref.kind).toBe('Service');
      const def = (
        (await import(pathToFileURL(`${root}functions/${spec.subscriber.ref.name}/index.ts`).href)) as {
          default: FunctionDefinition<unknown>;
        }
      ).default;
      const accepted = new Set(def.accepts.map((a) => a.type));
      const delivered = producedTypes().filter((p) => passes(spec.filters ?? [], p));
      expect([t.metadata.name, delivered.length > 0]).toEqual([t.metadata.name, true]);
      for (const d of delivered)
        expect([t.metadata.name, d.type, accepted.has(d.type) || accepted.has(ANY_TYPE)]).toEqual([t.metadata.name, d.type, true]);
    }
  });
});

describe('dead-letter sinks of Triggers', () => {
  it("a Trigger's own dead-letter sink accepts everything the Trigger delivers (enrich's falls back to notify)", async () => {
    const withSink = objects.filter(
      (o) => o.kind === 'Trigger' && (o.spec as { delivery?: { deadLetterSink?: unknown } }).delivery?.deadLetterSink,
    );
    expect(withSink.map((t) => t.metadata.name)).toContain('enrich-on-failure');
    for (const t of withSink) {
      const spec = t.spec as { filters?: Filter[]; delivery: { deadLetterSink: { ref: { kind: string; name: string } } } };
      expect(spec.delivery.deadLetterSink.ref.kind).toBe('Service');
      const def = (
        (await import(pathToFileURL(`${root}functions/${spec.delivery.deadLetterSink.ref.name}/index.ts`).href)) as {
          default: FunctionDefinition<unknown>;
        }
      ).default;
      const accepted = new Set(def.accepts.map((a) => a.type));
      for (const d of producedTypes().filter((p) => passes(spec.filters ?? [], p)))
        expect([t.metadata.name, d.type, accepted.has(d.type) || accepted.has(ANY_TYPE)]).toEqual([t.metadata.name, d.type, true]);
    }
  });

  it('every failure signal reaches notify enriched, and recover raw (enrichment never delays a remediation)', async () => {
    const triggers = objects.filter((o) => o.kind === 'Trigger');
    const subscribersOf = (attrs: Record<string, string>): string[] =>
      triggers
        .filter((t) => passes((t.spec as { filters?: Filter[] }).filters ?? [], attrs))
        .map((t) => (t.spec as { subscriber: { ref: { name: string } } }).subscriber.ref.name)
        .sort();
    for (const c of ENRICHED_CLASSES) {
      expect([c, subscribersOf({ type: signalType(c), reflexclass: c })]).toEqual([c, ['enrich', 'recover']]);
      expect([c, subscribersOf({ type: enrichedType(c), reflexclass: c })]).toEqual([c, ['notify']]);
    }
  });
});

describe('every signal is heard', () => {
  it('each signal type reaches at least one subscriber that accepts it', async () => {
    const triggers = objects.filter((o) => o.kind === 'Trigger');
    for (const c of SIGNAL_CLASSES) {
      const type = signalType(c);
      let heard = false;
      for (const t of triggers) {
        const spec = t.spec as { filters?: Filter[]; subscriber: { ref: { name: string } } };
        if (!passes(spec.filters ?? [], { type, reflexclass: c })) continue;
        const def = (
          (await import(pathToFileURL(`${root}functions/${spec.subscriber.ref.name}/index.ts`).href)) as {
            default: FunctionDefinition<unknown>;
          }
        ).default;
        heard ||= def.accepts.some((a) => a.type === type);
      }
      expect([type, heard]).toEqual([type, true]);
    }
  });
});

describe('least privilege, acting as each function ServiceAccount', () => {
  type Check = [verb: string, resource: string, group: string, namespace?: string, name?: string];
  const everyoneForbidden: Check[] = [
    ['get', 'secrets', '', 'shop'],
    ['list', 'secrets', '', ''],
    ['delete', 'deployments', 'apps', 'shop'],
    ['create', 'clusterrolebindings', 'rbac.authorization.k8s.io', ''],
    ['escalate', 'clusterroles', 'rbac.authorization.k8s.io', ''],
    ['create', 'pods', '', 'shop'],
    ['update', 'configmaps', '', 'reflex'],
    // Sender authentication needs tokenreviews only, never system:auth-delegator's subjectaccessreviews.
    ['create', 'subjectaccessreviews', 'authorization.k8s.io', ''],
  ];
  const reviewsTokens: Check = ['create', 'tokenreviews', 'authentication.k8s.io', ''];
  const table: Record<string, { allowed: Check[]; forbidden: Check[] }> = {
    'reflex-classify': {
      allowed: [['get', 'pods', '', 'shop'], ['get', 'replicasets', 'apps', 'shop'], ['get', 'jobs', 'batch', 'shop'], reviewsTokens],
      forbidden: [
        ['list', 'pods', '', 'shop'],
        ['patch', 'deployments', 'apps', 'shop'],
        ['watch', 'events', '', 'shop'],
        // A claim or an autoscaler is its own target: never read (functions/_signals/owners.ts).
        ['get', 'persistentvolumeclaims', '', 'shop'],
        ['get', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        ...everyoneForbidden,
      ],
    },
    'reflex-sweep': {
      allowed: [
        ['list', 'namespaces', '', ''],
        ['list', 'nodes', '', ''],
        ['list', 'pods', '', 'shop'],
        ['list', 'events', '', 'shop'],
        ['list', 'deployments', 'apps', 'shop'],
        ['list', 'jobs', 'batch', 'shop'],
        ['list', 'persistentvolumeclaims', '', 'shop'],
        ['list', 'events', '', 'default'],
        ['get', 'replicasets', 'apps', 'shop'],
        ['get', 'jobs', 'batch', 'shop'],
        ['get', 'configmaps', '', 'reflex', 'reflex-sweep-open'],
        ['patch', 'configmaps', '', 'reflex', 'reflex-sweep-open'],
        ['create', 'configmaps', '', 'reflex'],
        reviewsTokens,
      ],
      forbidden: [
        ['update', 'configmaps', '', 'reflex', 'reflex-scale-targets'],
        ['update', 'configmaps', '', 'reflex', 'reflex-sweep-open'],
        ['get', 'configmaps', '', 'reflex', 'reflex-notify-routes'],
        ['create', 'configmaps', '', 'shop'],
        ['patch', 'nodes', '', ''],
        ['delete', 'pods', '', 'shop'],
        ['patch', 'deployments', 'apps', 'shop'],
        ['delete', 'jobs', 'batch', 'shop'],
        ['get', 'persistentvolumeclaims', '', 'shop'],
        ...everyoneForbidden,
      ],
    },
    'reflex-recover': {
      allowed: [
        ['get', 'deployments', 'apps', 'shop'],
        ['patch', 'deployments', 'apps', 'shop'],
        ['list', 'replicasets', 'apps', 'shop'],
        ['get', 'namespaces', '', ''],
        ['delete', 'pods', '', 'shop'],
        ['create', 'events', 'events.k8s.io', 'shop'],
        ['create', 'events', 'events.k8s.io', 'reflex'],
        ['list', 'events', '', 'shop'],
        ['create', 'pods/eviction', '', 'shop'],
        ['patch', 'nodes', '', ''],
        ['list', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        ['list', 'scaledobjects', 'keda.sh', 'shop'],
        // Targets it may load to escalate (jobfailed, storagefailed, autoscalerfailed).
        ['get', 'jobs', 'batch', 'shop'],
        ['get', 'cronjobs', 'batch', 'shop'],
        ['get', 'persistentvolumeclaims', '', 'shop'],
        ['get', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        reviewsTokens,
      ],
      forbidden: [
        ['patch', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        ['delete', 'jobs', 'batch', 'shop'],
        ['patch', 'cronjobs', 'batch', 'shop'],
        ['patch', 'persistentvolumeclaims', '', 'shop'],
        ['delete', 'persistentvolumeclaims', '', 'shop'],
        ['update', 'scaledobjects', 'keda.sh', 'shop'],
        ['update', 'deployments/scale', 'apps', 'shop'],
        ['patch', 'deployments/scale', 'apps', 'shop'],
        ['delete', 'nodes', '', ''],
        ['update', 'pods/status', '', 'shop'],
        ['create', 'deployments', 'apps', 'shop'],
        ...everyoneForbidden,
      ],
    },
    'reflex-scale': {
      allowed: [
        ['get', 'deployments', 'apps', 'shop'],
        ['patch', 'deployments', 'apps', 'shop'],
        ['list', 'deployments', 'apps', ''],
        ['patch', 'deployments/scale', 'apps', 'shop'],
        ['patch', 'statefulsets/scale', 'apps', 'shop'],
        ['patch', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        ['list', 'scaledobjects', 'keda.sh', 'shop'],
        ['create', 'events', 'events.k8s.io', 'shop'],
        ['create', 'events', 'events.k8s.io', 'reflex'],
        ['get', 'events', '', 'shop'],
        ['create', 'configmaps', '', 'reflex'],
        reviewsTokens,
      ],
      forbidden: [
        ['create', 'configmaps', '', 'shop'],
        ['list', 'configmaps', '', 'reflex'],
        ['delete', 'pods', '', 'shop'],
        ['update', 'deployments', 'apps', 'shop'],
        ['delete', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        ['patch', 'nodes', '', ''],
        ...everyoneForbidden,
      ],
    },
    'reflex-source': {
      allowed: [
        ['watch', 'events', '', 'shop'],
        ['list', 'pods', '', 'shop'],
        ['watch', 'deployments', 'apps', 'shop'],
        ['watch', 'jobs', 'batch', 'shop'],
        ['watch', 'persistentvolumeclaims', '', 'shop'],
        ['watch', 'events', '', 'default'],
        ['watch', 'nodes', '', ''],
        ['list', 'namespaces', '', ''],
      ],
      forbidden: [['create', 'events', '', 'shop'], ['patch', 'pods', '', 'shop'], reviewsTokens, ...everyoneForbidden],
    },
    // Reads only (knative/enrich/rbac.yaml); logs only where a RoleBinding to reflex-enrich-logs exists.
    'reflex-enrich': {
      allowed: [
        ['get', 'pods', '', 'shop'],
        ['list', 'pods', '', ''],
        ['list', 'events', '', 'shop'],
        ['list', 'events', '', 'default'],
        ['get', 'nodes', '', ''],
        ['get', 'namespaces', '', ''],
        ['get', 'deployments', 'apps', 'shop'],
        ['list', 'replicasets', 'apps', 'shop'],
        ['get', 'pods', 'metrics.k8s.io', 'shop'],
        reviewsTokens,
      ],
      forbidden: [
        // Logs are bound per namespace (docs/install.md#logs-in-messages), none by the install.
        ['get', 'pods/log', '', 'shop'],
        ['get', 'pods/log', '', 'kube-system'],
        ['watch', 'pods', '', 'shop'],
        ['list', 'nodes', '', ''],
        ['list', 'namespaces', '', ''],
        ['get', 'replicasets', 'apps', 'shop'],
        ['list', 'deployments', 'apps', 'shop'],
        ['create', 'events', 'events.k8s.io', 'shop'],
        ['create', 'pods/exec', '', 'shop'],
        ['get', 'configmaps', '', 'shop'],
        ['patch', 'pods', '', 'shop'],
        ['delete', 'pods', '', 'shop'],
        ['get', 'leases', 'coordination.k8s.io', 'reflex'],
        ...everyoneForbidden,
      ],
    },
    // Claim records (Leases) and the silences ConfigMap in its own namespace; `get` on the kinds a
    // message's target may be, for reflex.dev/silence-until (knative/notify/rbac.yaml).
    'reflex-notify': {
      allowed: [
        ['get', 'leases', 'coordination.k8s.io', 'reflex'],
        ['list', 'leases', 'coordination.k8s.io', 'reflex'],
        ['create', 'leases', 'coordination.k8s.io', 'reflex'],
        ['patch', 'leases', 'coordination.k8s.io', 'reflex'],
        ['delete', 'leases', 'coordination.k8s.io', 'reflex'],
        ['get', 'configmaps', '', 'reflex', 'reflex-silences'],
        ['get', 'deployments', 'apps', 'shop'],
        ['get', 'statefulsets', 'apps', 'shop'],
        ['get', 'daemonsets', 'apps', 'shop'],
        ['get', 'jobs', 'batch', 'shop'],
        ['get', 'cronjobs', 'batch', 'shop'],
        ['get', 'nodes', '', ''],
        ['get', 'persistentvolumeclaims', '', 'shop'],
        ['get', 'horizontalpodautoscalers', 'autoscaling', 'shop'],
        reviewsTokens,
      ],
      forbidden: [
        ['create', 'leases', 'coordination.k8s.io', 'shop'],
        ['update', 'leases', 'coordination.k8s.io', 'reflex'],
        ['get', 'configmaps', '', 'reflex'],
        ['get', 'configmaps', '', 'reflex', 'reflex-sweep-open'],
        ['patch', 'configmaps', '', 'reflex', 'reflex-silences'],
        ['get', 'pods', '', 'shop'],
        ['list', 'events', '', 'shop'],
        // Targets are read one by one, never listed, watched or changed.
        ['list', 'deployments', 'apps', 'shop'],
        ['watch', 'deployments', 'apps', 'shop'],
        ['patch', 'deployments', 'apps', 'shop'],
        ['list', 'nodes', '', ''],
        ['patch', 'nodes', '', ''],
        ['get', 'replicasets', 'apps', 'shop'],
        ['get', 'configmaps', '', 'shop'],
        ...everyoneForbidden,
      ],
    },
    // An account that exists only to review senders' tokens (knative/auth.yaml): nothing else.
    'reflex-deadletter': {
      allowed: [reviewsTokens],
      forbidden: [['get', 'pods', '', 'shop'], ['list', 'events', '', 'shop'], ['get', 'configmaps', '', 'reflex'], ...everyoneForbidden],
    },
  };

  beforeAll(() => {
    const rbac = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
    const r = kubectl(['apply', '-f', '-'], rbac.map((o) => JSON.stringify(o)).join('\n'));
    expect(r.status).toBe(0);
  });

  async function allowed(c: Clients, [verb, resource, group, namespace, name]: Check): Promise<boolean> {
    const review = await c.config
      .makeApiClient((await import('@kubernetes/client-node')).AuthorizationV1Api)
      .createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { verb, resource, group, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) } } },
      });
    return review.status?.allowed === true;
  }

  it.each(Object.keys(table))('%s may do what its code does, and nothing on the forbidden list', async (sa) => {
    expect(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa)).toBe(true);
    const { clients } = await asServiceAccount('reflex', sa);
    const { allowed: yes, forbidden: no } = table[sa]!;
    for (const check of yes) expect([sa, ...check, await allowed(clients, check)]).toEqual([sa, ...check, true]);
    for (const check of no) expect([sa, ...check, await allowed(clients, check)]).toEqual([sa, ...check, false]);
  });

  it('every ServiceAccount in the install is covered by this table', () => {
    const accounts = objects
      .filter((o) => o.kind === 'ServiceAccount')
      .map((o) => o.metadata.name)
      .sort();
    expect(accounts).toEqual(Object.keys(table).sort());
  });

  it('functions that never call the API mount no token', () => {
    for (const name of ['deadletter', 'alerts']) {
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === name)!;
      expect([name, (svc.spec as { template: { spec: Record<string, unknown> } }).template.spec['automountServiceAccountToken']]).toEqual([
        name,
        false,
      ]);
    }
  });
});
