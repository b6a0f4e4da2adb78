/**
 * Scaling (docs/install.md): overlays/kafka, the production install with the Broker on Knative's
 * Kafka Broker class, and its component on any other base (rendered by kubectl's kustomize,
 * accepted by the API server against the Knative CRDs, the Broker accepted by Knative's own
 * webhook code through test/oracle, nothing else changed); and the page's table of each function's
 * scale settings, which must say what knative/ sets.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { adminKubeconfigPath } from './kube.js';
import { Oracle, type ValidateAnswer } from './oracle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const kubectlBin = process.env['REFLEX_TEST_KUBECTL'] ?? 'kubectl';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function render(dir: string): { text: string; objects: Obj[] } {
  const r = spawnSync(kubectlBin, ['kustomize', dir], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return { text: r.stdout, objects: parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj) };
}
const id = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const broker = (objs: Obj[]): Obj => {
  const b = objs.filter((o) => o.kind === 'Broker');
  expect(b).toHaveLength(1);
  return b[0]!;
};

describe('overlays/kafka', () => {
  let kafka: { text: string; objects: Obj[] };
  let production: { text: string; objects: Obj[] };
  beforeAll(() => {
    kafka = render(`${root}overlays/kafka`);
    production = render(`${root}overlays/production`);
  });

  it('selects the Kafka Broker class, with a config ConfigMap the install makes', () => {
    const b = broker(kafka.objects);
    expect(b.metadata.annotations?.['eventing.knative.dev/broker.class']).toBe('Kafka');
    const config = (b.spec as { config: { apiVersion: string; kind: string; name: string; namespace: string } }).config;
    expect(config).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', name: 'reflex-kafka-broker-config', namespace: 'reflex' });
    const cm = kafka.objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === config.name && o.metadata.namespace === config.namespace,
    );
    // The keys eventing-kafka-broker's broker controller reads (control-plane/pkg/reconciler/broker).
    expect(Object.keys(cm?.data ?? {}).sort()).toEqual([
      'bootstrap.servers',
      'default.topic.partitions',
      'default.topic.replication.factor',
    ]);
    expect(Number(cm!.data!['default.topic.partitions'])).toBeGreaterThan(0);
    expect(Number(cm!.data!['default.topic.replication.factor'])).toBeGreaterThan(0);
  });

  it('changes nothing else: production, plus the ConfigMap, the Broker keeping its delivery', () => {
    const before = new Map(production.objects.map((o) => [id(o), o]));
    const after = new Map(kafka.objects.map((o) => [id(o), o]));
    expect([...after.keys()].filter((k) => !before.has(k))).toEqual(['ConfigMap/reflex/reflex-kafka-broker-config']);
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    for (const [k, o] of after) {
      if (k.startsWith('Broker/') || k === 'ConfigMap/reflex/reflex-kafka-broker-config') continue;
      expect([k, o]).toEqual([k, before.get(k)]);
    }
    expect(broker(kafka.objects).spec?.['delivery']).toEqual(broker(production.objects).spec?.['delivery']);
  });

  it('is accepted by the API server (server-side dry-run, every object)', () => {
    const ns = kafka.objects.filter((o) => o.kind === 'Namespace');
    const kc = (args: string[], input: string): { status: number | null; out: string } => {
      const r = spawnSync(kubectlBin, ['--kubeconfig', adminKubeconfigPath(), ...args], { input, encoding: 'utf8' });
      return { status: r.status, out: r.stdout + r.stderr };
    };
    kc(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=reflex-test', '-f', '-'],
      ns.map((o) => JSON.stringify(o)).join('\n'),
    );
    const r = kc(['apply', '--dry-run=server', '-f', '-'], kafka.text);
    expect(r.out).not.toMatch(/error|invalid|unknown field/i);
    expect(r.status).toBe(0);
    expect(r.out.split('\n').filter((l) => /\(server dry run\)$/.test(l))).toHaveLength(kafka.objects.length);
  });

  it("Knative's webhook code accepts the Broker and keeps its class and config (no default replaces them)", async () => {
    const oracle = new Oracle();
    try {
      const b = broker(kafka.objects);
      const [ans] = await oracle.ask<ValidateAnswer>([{ op: 'validate', kind: 'Broker', object: b }]);
      expect([ans!.ok, ans!.errors]).toEqual([true, []]);
      const d = ans!.defaulted as { metadata: { annotations: Record<string, string> }; spec: { config: unknown } };
      expect(d.metadata.annotations['eventing.knative.dev/broker.class']).toBe('Kafka');
      expect(d.spec.config).toEqual((b.spec as { config: unknown }).config);
    } finally {
      await oracle.close();
    }
  });

  it('its component goes on another base too: dry-run on the Kafka Broker', () => {
    // Beside a copy of the checkout, as docs/install.md has a kustomization of your own.
    const dir = mkdtempSync(join(tmpdir(), 'reflex-kafka-'));
    cpSync(`${root}knative`, join(dir, 'knative'), { recursive: true });
    cpSync(`${root}overlays`, join(dir, 'overlays'), { recursive: true });
    mkdirSync(join(dir, 'my-reflex'));
    writeFileSync(
      join(dir, 'my-reflex', 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../overlays/dry-run]\ncomponents: [../overlays/kafka/component]\n',
    );
    const mine = render(join(dir, 'my-reflex')).objects;
    expect(broker(mine).metadata.annotations?.['eventing.knative.dev/broker.class']).toBe('Kafka');
    const recover = mine.find((o) => o.kind === 'Service' && o.metadata.name === 'recover')!;
    const env = (recover.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }).template.spec
      .containers[0]!.env;
    expect(env).toContainEqual({ name: 'REFLEX_DRY_RUN', value: 'true' });
    expect(mine).toHaveLength(render(`${root}overlays/dry-run`).objects.length + 1);
  });
});

describe('docs/install.md, Scaling', () => {
  it("its table of each function's scale settings says what knative/*/service.yaml sets, for every function", () => {
    const doc = readFileSync(`${root}docs/install.md`, 'utf8');
    const section = doc.slice(doc.indexOf('## Scaling'), doc.indexOf('\n## ', doc.indexOf('## Scaling') + 1));
    const rows = [...section.matchAll(/^\| `([a-z]+)` \| (\d+) \| (\d+) \| (\d+|—) \| (\d+) \| (\d+) \|/gm)].map((m) =>
      m.slice(1, 7).join(' '),
    );
    type Svc = {
      metadata: { name: string };
      spec: {
        template: { metadata: { annotations: Record<string, string> }; spec: { containerConcurrency: number; timeoutSeconds: number } };
      };
    };
    const services = render(`${root}knative`).objects.filter(
      (o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1',
    ) as unknown as Svc[];
    const actual = services.map((svc) => {
      const a = svc.spec.template.metadata.annotations;
      const t = svc.spec.template.spec;
      return [
        svc.metadata.name,
        a['autoscaling.knative.dev/min-scale'],
        a['autoscaling.knative.dev/max-scale'],
        a['autoscaling.knative.dev/target'] ?? '—',
        t.containerConcurrency,
        t.timeoutSeconds,
      ].join(' ');
    });
    expect(rows.sort()).toEqual(actual.sort());
  });
});
