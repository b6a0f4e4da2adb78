/**
 * recover/escalate — pure: what a person must fix, for the classes recover never acts on. No
 * playbook is safe for a missing ConfigMap, a failing CNI or a StorageClass that does not exist,
 * so recover changes nothing and says, from the upstream message, which object to fix and how.
 * One template per cause (first match wins), tested as data in escalate.test.ts.
 */
import type { SignalData } from '../_contracts/events.js';

interface Cause {
  /** The classes this template speaks for. */
  readonly classes: readonly string[];
  /** Matched against the signal's message; named groups feed the sentence. */
  readonly message?: RegExp;
  /** Matched against the signal's reason (exact). */
  readonly reasons?: readonly string[];
  readonly say: (s: SignalData, g: Readonly<Record<string, string>>) => string;
  /** The same in a phrase, for the generated table of docs/events.md. */
  readonly summary: string;
}

const where = (s: SignalData): string => {
  const ns = s.involved.namespace ? `${s.involved.namespace}/` : '';
  return `${s.involved.kind} ${ns}${s.involved.name}`;
};
const container = (s: SignalData): string => (s.container ? `container ${s.container} of ` : '');
/** The first line of an upstream message, cut: runtimes nest whole error chains in it. */
const first = (m: string, max = 300): string => {
  const line = m.split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};
const kindOf = (k: string): string => (k.toLowerCase().startsWith('secret') ? 'Secret' : 'ConfigMap');

const CAUSES: readonly Cause[] = [
  // kubelet generateContainerConfig: `configmap "x" not found`, `secret "x" not found`.
  {
    classes: ['configerror'],
    message: /(?<kind>configmaps?|secrets?) "(?<name>[^"]+)" not found/i,
    summary: 'names the missing ConfigMap or Secret',
    say: (s, g) =>
      `${container(s)}${where(s)} needs ${kindOf(g['kind']!)} ${s.involved.namespace ?? ''}/${g['name']}, which does not exist: create it, or fix the reference in ${s.target.kind} ${s.target.name}`,
  },
  // kubelet: "couldn't find key %v in ConfigMap %v/%v" (and Secret).
  {
    classes: ['configerror'],
    message: /couldn't find key (?<key>\S+) in (?<kind>ConfigMap|Secret) (?<ref>\S+)/,
    summary: 'names the missing key and its ConfigMap or Secret',
    say: (s, g) =>
      `${container(s)}${where(s)} needs key ${g['key']} of ${g['kind']} ${g['ref']}, which has no such key: add it, or fix the reference in ${s.target.kind} ${s.target.name}`,
  },
  // kubelet verifyRunAsNonRoot: "container has runAsNonRoot and image will run as root …".
  {
    classes: ['configerror'],
    message: /runAsNonRoot/,
    summary: 'says the securityContext refuses the image (runAsNonRoot)',
    say: (s) =>
      `${container(s)}${where(s)} is refused by its own securityContext (${first(s.message.replace(/^Error: /, ''))}): set runAsUser, or use an image that does not run as root`,
  },
  {
    classes: ['configerror'],
    summary: "quotes the error: fix the object's spec",
    // configerror is not only the kubelet's: a Service's ClusterIPOutOfRange has no pod spec to fix.
    say: (s) =>
      `${container(s)}${where(s)} cannot be configured: ${first(s.message.replace(/^Error: /, ''))} — fix the ${s.involved.kind === 'Pod' ? 'pod spec' : 'spec'} of ${s.target.kind} ${s.target.name}`,
  },
  // kubelet: FailedPostStartHook "PostStartHook failed" (the container is then killed).
  {
    classes: ['startfailed'],
    reasons: ['FailedPostStartHook'],
    summary: 'the postStart hook failed: fix the hook',
    say: (s) =>
      `the postStart hook of ${container(s)}${where(s)} failed, so the container was killed: fix the hook's command or its timing`,
  },
  // runc/containerd: `exec: "x": executable file not found in $PATH`.
  {
    classes: ['startfailed'],
    message: /exec: "(?<cmd>[^"]*)": (?<why>executable file not found in \$PATH|no such file or directory|permission denied)/,
    summary: 'names the command that cannot run',
    say: (s, g) =>
      `${container(s)}${where(s)} cannot start: its command ${g['cmd']} fails (${g['why']}): fix command/args in ${s.target.kind} ${s.target.name} or the image`,
  },
  {
    classes: ['startfailed'],
    summary: "quotes the container runtime's error",
    say: (s) =>
      `${container(s)}${where(s)} cannot be created or started by the container runtime: ${first(s.message.replace(/^Error: /, ''))}`,
  },
  // kubelet: "Failed to create pod sandbox: %v" (CNI, runtime); "error killing pod: %v".
  {
    classes: ['sandboxfailed'],
    reasons: ['FailedKillPod'],
    summary: 'the kubelet cannot stop the pod: look at the runtime',
    say: (s) => `the kubelet cannot stop ${where(s)} (${first(s.message)}): look at the container runtime on its node`,
  },
  {
    classes: ['sandboxfailed'],
    message: /(?<cni>cni|CNI|network plugin|networkPlugin|failed to (set up|setup) network|failed to allocate)/,
    summary: 'the network plugin failed: look at the CNI pods and IP capacity',
    say: (s) =>
      `${where(s)} gets no network: the pod sandbox failed in the network plugin (${first(s.message.replace(/^Failed to create pod sandbox: /, ''))}): look at the CNI pods and IP capacity on its node`,
  },
  {
    classes: ['sandboxfailed'],
    summary: "quotes the container runtime's error",
    say: (s) => `the container runtime cannot run ${where(s)}: ${first(s.message)}`,
  },
  // job-controller conditions and Events.
  {
    classes: ['jobfailed'],
    reasons: ['BackoffLimitExceeded'],
    summary: "backoffLimit exceeded: read the failed pods' logs",
    say: (s) => `${where(s)} failed: its pods failed more often than its backoffLimit allows; read the logs of its failed pods`,
  },
  {
    classes: ['jobfailed'],
    reasons: ['DeadlineExceeded'],
    summary: 'activeDeadlineSeconds exceeded',
    say: (s) => `${where(s)} failed: it ran longer than its activeDeadlineSeconds; its pods were stopped`,
  },
  {
    classes: ['jobfailed'],
    summary: "quotes the Job controller's message",
    say: (s) => `${where(s)} failed (${s.reason}): ${first(s.message)}`,
  },
  // horizontal-pod-autoscaler: FailedGet*Metric(s), FailedComputeMetricsReplicas, FailedRescale, FailedGetScale.
  {
    classes: ['autoscalerfailed'],
    reasons: ['FailedRescale', 'FailedGetScale', 'FailedUpdateStatus'],
    summary: 'the autoscaler cannot change the replicas it owns',
    say: (s) => `${where(s)} cannot change the replicas it owns (${s.reason}): ${first(s.message)}`,
  },
  {
    classes: ['autoscalerfailed'],
    message: /(?<api>metrics\.k8s\.io|custom\.metrics\.k8s\.io|external\.metrics\.k8s\.io)/,
    summary: 'names the metrics API that does not answer',
    say: (s, g) =>
      `${where(s)} has no metrics, so it cannot scale (${s.reason}): the ${g['api']} API does not answer — check metrics-server or the metrics adapter. Reflex's scale keeps away from what it owns.`,
  },
  {
    classes: ['autoscalerfailed'],
    summary: "quotes the autoscaler's message",
    say: (s) => `${where(s)} cannot compute its replicas (${s.reason}): ${first(s.message)}`,
  },
  // persistentvolume-controller: ProvisioningFailed `storageclass.storage.k8s.io "x" not found`.
  {
    classes: ['storagefailed'],
    message: /storageclass\.storage\.k8s\.io "(?<sc>[^"]+)" not found/,
    summary: 'names the missing StorageClass',
    say: (s, g) => `${where(s)} asks for StorageClass ${g['sc']}, which does not exist: create it, or change the claim's storageClassName`,
  },
  {
    classes: ['storagefailed'],
    reasons: ['ClaimLost'],
    summary: 'the claim lost its volume: restore or rebind it by hand',
    say: (s) => `${where(s)} lost its PersistentVolume: the data it held may be gone; a person must restore or rebind it`,
  },
  {
    classes: ['storagefailed'],
    summary: "quotes the controller's message",
    say: (s) => `${where(s)}: ${s.reason}: ${first(s.message)}`,
  },
  // kubelet image/container GC, node-problem-detector kernel/runtime/filesystem problems.
  {
    classes: ['nodeproblem'],
    reasons: ['FreeDiskSpaceFailed', 'ImageGCFailed', 'InvalidDiskCapacity'],
    summary: 'the node cannot free disk space: clean up images or grow the disk',
    say: (s) => `node ${s.involved.name} cannot free disk space (${s.reason}: ${first(s.message)}): clean up images or grow the disk`,
  },
  {
    classes: ['nodeproblem'],
    reasons: ['Rebooted'],
    summary: 'the node rebooted',
    say: (s) => `node ${s.involved.name} rebooted: ${first(s.message)}`,
  },
  {
    classes: ['nodeproblem'],
    summary: 'suggests cordoning and draining the node',
    say: (s) =>
      `node ${s.involved.name} reports ${s.reason}: ${first(s.message)} — consider cordoning and draining it (kubectl drain ${s.involved.name})`,
  },
];

/** The first cause that speaks for this signal, with what its message pattern captured. */
function causeOf(s: Pick<SignalData, 'class' | 'reason' | 'message'>): { cause: Cause; groups: Record<string, string> } | undefined {
  for (const c of CAUSES) {
    if (!c.classes.includes(s.class)) continue;
    if (c.reasons && !c.reasons.includes(s.reason)) continue;
    const m = c.message ? c.message.exec(s.message) : null;
    if (c.message && !m) continue;
    return { cause: c, groups: m?.groups ?? {} };
  }
  return undefined;
}

/** The sentence a person reads for a class recover does not act on, or undefined for the others. */
export function escalation(s: SignalData): string | undefined {
  const found = causeOf(s);
  return found?.cause.say(s, found.groups);
}

/** escalation() in a phrase: what the sentence for this class, reason and message will say. */
export function escalationSummary(s: Pick<SignalData, 'class' | 'reason' | 'message'>): string | undefined {
  return causeOf(s)?.cause.summary;
}
