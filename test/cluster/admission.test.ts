/**
 * knative/admission on the real API server: the shipped ValidatingAdmissionPolicy refuses every
 * write Reflex must never make, whatever its RBAC allows, and lets through the writes it does make.
 *
 * Other test files act as the real reflex/* ServiceAccounts on this same control plane, in
 * parallel: the policy must not bind them. So this file applies the shipped YAML (rendered from
 * knative/admission) with exactly two obvious rewrites — unique names, and the ServiceAccount
 * prefix of its matchCondition, `system:serviceaccount:reflex:` -> this file's own namespace — and
 * acts as a ServiceAccount of that namespace, bound to the ClusterRoles recover and scale use. The
 * policy takes Reflex's own namespace from the ServiceAccount's, so that namespace plays `reflex`
 * and every expression under test is the shipped one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  CoordinationV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type V1ClusterRole,
  type V1ValidatingAdmissionPolicy,
  type V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { admin, asServiceAccount, eventually, freshNamespace, kubectl, type Clients } from './kube.js';
import { createNode, setNodeReady, setPodStatus } from './kubelet.js';
import { postEvent } from './sink.js';
import recover from '../../functions/recover/index.js';
import { startServer } from '../../functions/_kit/index.js';

const a = admin();
const registration = a.config.makeApiClient(AdmissionregistrationV1Api);
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const SHIPPED_PREFIX = 'system:serviceaccount:reflex:';
const OPT_IN = { 'reflex.dev/enabled': 'true' };

const suffix = randomBytes(3).toString('hex');
const policy = `reflex-guardrails-${suffix}`;
const nodes = { bare: `admission-${suffix}-bare`, optedIn: `admission-${suffix}-opted-in` };
const inKubeSystem = `admission-${suffix}`;
/** home: plays `reflex`; off: has not opted in; on: labelled reflex.dev/enabled=true; knative: a protected knative-* namespace. */
const ns = { home: '', off: '', on: '', knative: '' };
let sa: Clients;
/** A kubeconfig acting as that ServiceAccount, to run recover under the policy. */
let saKubeconfig: string;

/** The answer of the API server: 200 for any success, else the Status it returned. */
async function answer(call: Promise<unknown>): Promise<{ code: number; reason?: string | undefined; message?: string | undefined }> {
  try {
    await call;
    return { code: 200 };
  } catch (err) {
    const { code, body } = err as { code?: unknown; body?: unknown };
    if (typeof code !== 'number') throw err;
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { reason?: string; message?: string };
    return { code, reason: status.reason, message: status.message };
  }
}

/** What the API server answers when the policy refuses: 403 Forbidden (the policy sets reason: Forbidden), naming the rule. */
const refused = (object: string, rule: string) => ({
  code: 403,
  reason: 'Forbidden',
  message: `${object} is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request: ${rule}`,
});

const touch = (namespace: string, name: string, annotations: Record<string, string> = { 'reflex.dev/test': suffix }) =>
  sa.apps.patchNamespacedDeployment({ name, namespace, body: { metadata: { annotations } } }, merge);

async function deploy(namespace: string, name: string, annotations: Record<string, string> = {}): Promise<void> {
  await a.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, annotations },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `registry.example/${name}:1` }] } },
      },
    },
  });
}

const event = (namespace: string) =>
  sa.events.createNamespacedEvent({
    namespace,
    body: {
      metadata: { name: `reflex-audit-${suffix}` },
      eventTime: new V1MicroTime(),
      reportingController: 'reflex.dev/recover',
      reportingInstance: 'admission-test',
      action: 'test',
      reason: 'ReflexApplied',
      type: 'Normal',
      note: 'the audit trail',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'web' },
    },
  });

/** The shipped policy and binding, with only the names and the ServiceAccount prefix rewritten. */
function shipped(): { vap: V1ValidatingAdmissionPolicy; binding: V1ValidatingAdmissionPolicyBinding } {
  const rendered = kubectl('kustomize', fileURLToPath(new URL('../../knative/admission', import.meta.url)));
  // The prefix is written once, in the matchCondition: if that changes, this test must change too.
  expect(rendered.split(SHIPPED_PREFIX)).toHaveLength(2);
  const docs = parseAllDocuments(rendered.replace(SHIPPED_PREFIX, `system:serviceaccount:${ns.home}:`)).map((d) => d.toJSON());
  const vap = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy;
  const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding') as V1ValidatingAdmissionPolicyBinding;
  expect([docs.length, binding.spec?.policyName, binding.spec?.validationActions]).toEqual([2, vap.metadata?.name, ['Deny']]);
  vap.metadata!.name = policy;
  binding.metadata!.name = policy;
  binding.spec!.policyName = policy;
  return { vap, binding };
}

/**
 * A copy, named for this file, of the ClusterRole in knative/<fn>/rbac.yaml: the same rules, read
 * from the shipped file. A copy, because recover.test and scale.test `kubectl apply` the originals
 * concurrently, and a create racing an apply fails one of them.
 */
async function copyClusterRole(fn: string): Promise<string> {
  const text = readFileSync(fileURLToPath(new URL(`../../knative/${fn}/rbac.yaml`, import.meta.url)), 'utf8');
  const role = parseAllDocuments(text)
    .map((d) => d.toJSON() as V1ClusterRole & { kind: string })
    .find((d) => d.kind === 'ClusterRole' && d.metadata?.name === `reflex-${fn}`)!;
  const name = `${ns.home}-reflex-${fn}`;
  await a.rbac.createClusterRole({ body: { metadata: { name }, rules: role.rules ?? [] } });
  return name;
}

beforeAll(async () => {
  ns.home = await freshNamespace('admission-home');
  ns.off = await freshNamespace('admission-off');
  ns.on = await freshNamespace('admission-on', OPT_IN);
  ns.knative = await freshNamespace('knative-admission');
  const subject = { kind: 'ServiceAccount', name: 'reflex-recover', namespace: ns.home };
  const roles = [await copyClusterRole('recover'), await copyClusterRole('scale')];
  // RBAC answers before admission: what the policy must refuse, RBAC has to allow. recover's and
  // scale's ClusterRoles cover deployments, their /scale, nodes, evictions and events; these are
  // the rest (scale's and sweep's Roles allow ConfigMaps in reflex only; nothing allows the others).
  await a.rbac.createClusterRole({
    body: {
      metadata: { name: `${ns.home}-extra` },
      rules: [
        { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: [''], resources: ['namespaces'], verbs: ['patch'] },
        // knative/auth.yaml: every function reviews the tokens of its senders.
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      ],
    },
  });
  for (const role of [...roles, `${ns.home}-extra`])
    await a.rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [subject],
      },
    });
  ({ clients: sa, kubeconfig: saKubeconfig } = await asServiceAccount(ns.home, 'reflex-recover'));

  await deploy('kube-system', inKubeSystem);
  await deploy(ns.knative, 'web');
  await deploy(ns.home, 'own');
  await deploy(ns.off, 'bare');
  await deploy(ns.off, 'annotated', OPT_IN);
  await deploy(ns.on, 'web');
  for (const n of [ns.off, ns.on])
    await a.core.createNamespacedPod({
      namespace: n,
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'x' }] } },
    });
  // Ready, as a kubelet would report them: other files count NotReady nodes.
  await createNode(nodes.bare, 'True');
  await setNodeReady(await a.core.createNode({ body: { metadata: { name: nodes.optedIn, annotations: OPT_IN } } }), 'True');

  const { vap, binding } = shipped();
  await registration.createValidatingAdmissionPolicy({ body: vap });
  await registration.createValidatingAdmissionPolicyBinding({ body: binding });
  // A policy takes a moment to reach the admission plugin; until then RBAC lets this through.
  await eventually('the policy to refuse a write in kube-system', async () =>
    (await answer(touch('kube-system', inKubeSystem))).message?.includes(`ValidatingAdmissionPolicy '${policy}'`) ? true : undefined,
  );
}, 60_000);

afterAll(async () => {
  const quietly = (p: Promise<unknown>) => p.catch(() => undefined);
  await quietly(registration.deleteValidatingAdmissionPolicyBinding({ name: policy }));
  await quietly(registration.deleteValidatingAdmissionPolicy({ name: policy }));
  for (const role of [`${ns.home}-reflex-recover`, `${ns.home}-reflex-scale`, `${ns.home}-extra`]) {
    await quietly(a.rbac.deleteClusterRoleBinding({ name: role }));
    await quietly(a.rbac.deleteClusterRole({ name: role }));
  }
  for (const name of Object.values(nodes)) await quietly(a.core.deleteNode({ name }));
  await quietly(a.apps.deleteNamespacedDeployment({ name: inKubeSystem, namespace: 'kube-system' }));
  for (const name of Object.values(ns)) if (name) await quietly(a.core.deleteNamespace({ name }));
});

describe('protected namespaces: nothing at all', () => {
  it('kube-system and knative-*: a Deployment patch and an audit Event are refused', async () => {
    expect(await answer(touch('kube-system', inKubeSystem))).toEqual(
      refused(`deployments.apps "${inKubeSystem}"`, 'Reflex may not write in protected namespace kube-system'),
    );
    expect(await answer(touch(ns.knative, 'web'))).toEqual(
      refused('deployments.apps "web"', `Reflex may not write in protected namespace ${ns.knative}`),
    );
    expect(await answer(event('kube-system'))).toEqual(
      refused(`events.events.k8s.io "reflex-audit-${suffix}"`, 'Reflex may not write in protected namespace kube-system'),
    );
  });
});

describe('workloads: only what opted in', () => {
  it('a namespace without the label: a Deployment without the annotation is refused, one with it is patched', async () => {
    expect(await answer(touch(ns.off, 'bare'))).toEqual(
      refused(
        'deployments.apps "bare"',
        `Reflex may not write deployments.apps bare in namespace ${ns.off}: it has not opted in (label the namespace reflex.dev/enabled=true, or annotate the object reflex.dev/enabled=true)`,
      ),
    );
    expect(await answer(touch(ns.off, 'annotated'))).toEqual({ code: 200 });
  });

  it('an object cannot opt itself in: the annotation counts as it was before the write', async () => {
    expect(await answer(touch(ns.off, 'bare', OPT_IN))).toEqual(
      refused(
        'deployments.apps "bare"',
        `Reflex may not write deployments.apps bare in namespace ${ns.off}: it has not opted in (label the namespace reflex.dev/enabled=true, or annotate the object reflex.dev/enabled=true)`,
      ),
    );
    expect(
      (await a.apps.readNamespacedDeployment({ name: 'bare', namespace: ns.off })).metadata?.annotations?.['reflex.dev/enabled'],
    ).toBeUndefined();
  });

  it('a namespace with the label: a Deployment without the annotation is patched', async () => {
    expect(await answer(touch(ns.on, 'web'))).toEqual({ code: 200 });
  });

  it('subresources (/scale, pods/eviction) opt in through the namespace label only', async () => {
    const scale = (namespace: string, name: string) =>
      sa.apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas: 2 } } }, merge);
    // Known limit: a Scale carries none of its workload's annotations.
    expect(await answer(scale(ns.off, 'annotated'))).toEqual(
      refused(
        'deployments.apps "annotated"',
        `Reflex may not write deployments.apps/scale annotated in namespace ${ns.off}: it has not opted in (label the namespace reflex.dev/enabled=true; a subresource cannot opt in by annotation)`,
      ),
    );
    expect(await answer(scale(ns.on, 'web'))).toEqual({ code: 200 });
    expect((await a.apps.readNamespacedDeployment({ name: 'web', namespace: ns.on })).spec?.replicas).toBe(2);

    const evict = (namespace: string) =>
      // The annotation on the Eviction is the writer's say-so: it opts nothing in.
      sa.core.createNamespacedPodEviction({ name: 'p', namespace, body: { metadata: { name: 'p', namespace, annotations: OPT_IN } } });
    expect(await answer(evict(ns.off))).toEqual(
      refused(
        'pods "p"',
        `Reflex may not write pods/eviction p in namespace ${ns.off}: it has not opted in (label the namespace reflex.dev/enabled=true; a subresource cannot opt in by annotation)`,
      ),
    );
    expect(await answer(evict(ns.on))).toEqual({ code: 200 });
  });

  it('nodes: a cordon needs the annotation on the node', async () => {
    const cordon = (name: string) => sa.core.patchNode({ name, body: { spec: { unschedulable: true } } }, merge);
    expect(await answer(cordon(nodes.bare))).toEqual(
      refused(
        `nodes "${nodes.bare}"`,
        `Reflex may not write node ${nodes.bare}: it has not opted in (annotate the node reflex.dev/enabled=true)`,
      ),
    );
    expect(await answer(cordon(nodes.optedIn))).toEqual({ code: 200 });
    expect((await a.core.readNode({ name: nodes.optedIn })).spec?.unschedulable).toBe(true);
    expect((await a.core.readNode({ name: nodes.bare })).spec?.unschedulable).toBeFalsy();
  });
});

describe("Reflex's records and state", () => {
  it('audit Events are written in any namespace that is not protected, opted in or not', async () => {
    expect(await answer(event(ns.off))).toEqual({ code: 200 });
    expect(await answer(event(ns.on))).toEqual({ code: 200 });
    expect(await answer(event(ns.home))).toEqual({ code: 200 });
  });

  it('its own namespace holds its ConfigMaps and Leases, nothing else; a workload namespace holds none of them', async () => {
    const configMap = (namespace: string) =>
      sa.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'reflex-state' }, data: { k: 'v' } } });
    const lease = (namespace: string) =>
      sa.config.makeApiClient(CoordinationV1Api).createNamespacedLease({ namespace, body: { metadata: { name: 'reflex-leader' } } });
    expect(await answer(configMap(ns.home))).toEqual({ code: 200 });
    expect(await answer(lease(ns.home))).toEqual({ code: 200 });
    expect(await answer(touch(ns.home, 'own'))).toEqual(
      refused(
        'deployments.apps "own"',
        `Reflex may write only ConfigMaps, Leases and Events in its own namespace ${ns.home}, not deployments.apps`,
      ),
    );
    expect(await answer(configMap(ns.on))).toEqual(
      refused(
        'configmaps "reflex-state"',
        `Reflex keeps its state (ConfigMaps, Leases) only in its own namespace ${ns.home}, not in ${ns.on}`,
      ),
    );
    expect(await answer(lease(ns.on))).toEqual(
      refused(
        'leases.coordination.k8s.io "reflex-leader"',
        `Reflex keeps its state (ConfigMaps, Leases) only in its own namespace ${ns.home}, not in ${ns.on}`,
      ),
    );
  });

  it('never a Secret, even in an opted-in namespace, nor a Namespace (opting one in), whatever RBAC allows', async () => {
    const secret = sa.core.createNamespacedSecret({ namespace: ns.on, body: { metadata: { name: 'loot' }, stringData: { k: 'v' } } });
    expect(await answer(secret)).toEqual(
      refused('secrets "loot"', 'Reflex may never write secrets (RBAC, Secrets, ServiceAccounts, Namespaces)'),
    );
    const label = sa.core.patchNamespace({ name: ns.off, body: { metadata: { labels: OPT_IN } } }, merge);
    expect(await answer(label)).toEqual(
      refused(`namespaces "${ns.off}"`, 'Reflex may never write namespaces (RBAC, Secrets, ServiceAccounts, Namespaces)'),
    );
  });
});

describe('what is not a write', () => {
  it('a TokenReview (sender authentication) is a create the API server never sends to admission', async () => {
    const review = sa.config.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: 'not-a-token' } } });
    expect(await answer(review)).toEqual({ code: 200 });
  });
});

describe('everyone else', () => {
  it('the admin is never affected', async () => {
    expect(
      await answer(
        a.apps.patchNamespacedDeployment(
          { name: inKubeSystem, namespace: 'kube-system', body: { metadata: { annotations: { 'reflex.dev/test': 'admin' } } } },
          merge,
        ),
      ),
    ).toEqual({ code: 200 });
    expect(await answer(a.core.createNamespacedConfigMap({ namespace: ns.on, body: { metadata: { name: 'by-admin' } } }))).toEqual({
      code: 200,
    });
    expect(
      await answer(a.core.patchNode({ name: nodes.bare, body: { metadata: { annotations: { 'reflex.dev/test': 'admin' } } } }, merge)),
    ).toEqual({ code: 200 });
  });
});

describe('recover under the policy', () => {
  it('a step the policy refuses is reported as a failed outcome, named, audited and not retried', async () => {
    // Opted in by annotation only: recover's guard lets it act on the Deployment, but the pod it
    // would restart carries no annotation, and the policy wants the namespace label for it.
    const pod = await eventually('the annotated pod', async () =>
      (await a.core.listNamespacedPod({ namespace: ns.off, labelSelector: 'app=annotated' })).items.find((p) => p.metadata?.name),
    );
    await setPodStatus(pod, {
      phase: 'Running',
      containerStatuses: [
        { name: 'app', image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    });
    const server = await startServer(recover, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: saKubeconfig },
      logSink: () => {},
    });
    try {
      const signal = {
        class: 'crashloop',
        severity: 'warning',
        reason: 'BackOff',
        message: 'Back-off restarting failed container app',
        target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns.off, name: 'annotated', resolvedBy: 'ownerReferences' },
        involved: { apiVersion: 'v1', kind: 'Pod', namespace: ns.off, name: pod.metadata!.name!, uid: pod.metadata!.uid! },
        occurrences: 3,
        firstSeen: new Date().toISOString(),
        lastSeen: new Date().toISOString(),
        detectedBy: 'classify',
        key: '00000000000000ad',
      };
      const res = await postEvent(server.url, {
        id: `sig-${suffix}`,
        source: '/reflex/classify',
        type: 'dev.reflex.signal.crashloop',
        data: signal,
      });
      expect(res.status).toBe(200);
      const data = (await res.json()) as { outcome: string; reason: string };
      expect(data.outcome).toBe('failed');
      expect(data.reason).toMatch(/^refused by the API server: delete pod .*: Kubernetes API refused \(403\): .*ValidatingAdmissionPolicy/);
      expect(
        (await a.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns.off })).metadata?.deletionTimestamp,
      ).toBeUndefined();
      const notes = (await a.events.listNamespacedEvent({ namespace: ns.off })).items
        .filter((e) => e.reportingController === 'reflex.dev/recover' && e.regarding?.name === 'annotated')
        .map((e) => `${e.reason}: ${e.note}`);
      expect(notes).toEqual([expect.stringMatching(/^ReflexFailed: failed: delete pod .*ValidatingAdmissionPolicy/)]);
    } finally {
      await server.shutdown();
    }
  });
});
