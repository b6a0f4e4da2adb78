/** The recorded cluster's `pods/log`: the logs a recording carried, read as the API server serves them. */
import { describe, expect, it } from '@jest/globals';
import type { PodLogOptions } from '../../functions/_kit/k8s.js';
import type { K8sObject } from './apiserversource.js';
import { RecordedCluster } from './recorded.js';
import type { PodLog } from './replay.js';

const podLog = (name: string, container: string, previous: boolean | undefined, log: string): PodLog => ({
  apiVersion: 'reflex.dev/v1',
  kind: 'PodLog',
  metadata: { namespace: 'shop', name },
  container,
  ...(previous === undefined ? {} : { previous }),
  log,
});
const pod = (name: string): K8sObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'shop', name } });
const web = { namespace: 'shop', name: 'web-1' };
const read = (o: Partial<PodLogOptions> = {}): PodLogOptions => ({ limitBytes: 1 << 20, timeoutMs: 1000, ...o });

describe('RecordedCluster.podLog', () => {
  const cluster = new RecordedCluster();
  cluster.observe('ADDED', pod('web-1'));
  cluster.observe('ADDED', podLog('web-1', 'web', true, 'one\ntwo\nthree\nfour\n'));
  cluster.observe('ADDED', podLog('web-1', 'web', undefined, 'now 1\nnow 2 (no newline yet)'));
  cluster.observe('ADDED', podLog('web-1', 'proxy', true, 'é\n'));

  it.each<[string, string, Partial<PodLogOptions>, string | undefined]>([
    // The previous instance and the current one are two logs.
    ['the previous instance', 'web', { previous: true }, 'one\ntwo\nthree\nfour\n'],
    ['the current instance (no `previous`)', 'web', {}, 'now 1\nnow 2 (no newline yet)'],
    ['the current instance (previous: false)', 'web', { previous: false }, 'now 1\nnow 2 (no newline yet)'],
    // tailLines: the last N lines, each with its newline.
    ['the last 2 lines', 'web', { previous: true, tailLines: 2 }, 'three\nfour\n'],
    // A last line with no newline yet is a line too.
    ['the last line, unfinished', 'web', { tailLines: 1 }, 'now 2 (no newline yet)'],
    ['more lines than there are: all', 'web', { previous: true, tailLines: 100 }, 'one\ntwo\nthree\nfour\n'],
    ['no lines', 'web', { previous: true, tailLines: 0 }, ''],
    // limitBytes keeps the FIRST bytes of what was asked for (the API server stops sending), mid-line.
    ['the first 6 bytes', 'web', { previous: true, limitBytes: 6 }, 'one\ntw'],
    ['the first 7 bytes of the last 2 lines', 'web', { previous: true, tailLines: 2, limitBytes: 7 }, 'three\nf'],
    // A character cut at the limit reads as U+FFFD, as the kit's port reads a cut log.
    ['a character cut at the limit', 'proxy', { previous: true, limitBytes: 1 }, '\uFFFD'],
    // Nothing recorded is nothing there: as the API server's 400 or 404, which the port reads as undefined.
    ['a container with no log recorded', 'sidecar', {}, undefined],
    ['an instance with no log recorded', 'proxy', { previous: false }, undefined],
  ])('%s', async (_what, container, o, expected) => {
    expect(await cluster.podLog(web, container, read(o))).toBe(expected);
  });

  it('of a pod with no log recorded: none', async () => {
    expect(await cluster.podLog({ namespace: 'shop', name: 'web-2' }, 'web', read())).toBeUndefined();
    expect(await cluster.podLog({ namespace: 'other', name: 'web-1' }, 'web', read({ previous: true }))).toBeUndefined();
  });

  it('bounds the API server refuses are refused', async () => {
    await expect(cluster.podLog(web, 'web', read({ tailLines: -1 }))).rejects.toThrow(/tailLines must be at least 0/);
    await expect(cluster.podLog(web, 'web', read({ limitBytes: 0 }))).rejects.toThrow(/limitBytes at least 1/);
  });
});

describe('recorded logs over the replay', () => {
  it('the log as it was when recorded: a later record replaces it, a DELETED one removes it', async () => {
    const cluster = new RecordedCluster();
    cluster.observe('ADDED', podLog('web-1', 'web', true, 'first crash\n'));
    expect(await cluster.podLog(web, 'web', read({ previous: true }))).toBe('first crash\n');
    cluster.observe('MODIFIED', podLog('web-1', 'web', true, 'second crash\n'));
    expect(await cluster.podLog(web, 'web', read({ previous: true }))).toBe('second crash\n');
    cluster.observe('DELETED', podLog('web-1', 'web', true, ''));
    expect(await cluster.podLog(web, 'web', read({ previous: true }))).toBeUndefined();
  });

  it("a deleted pod's logs go with it, and only its own (web-1, not web-10)", async () => {
    const cluster = new RecordedCluster();
    for (const name of ['web-1', 'web-10']) {
      cluster.observe('ADDED', pod(name));
      cluster.observe('ADDED', podLog(name, 'web', true, `${name}\n`));
      cluster.observe('ADDED', podLog(name, 'web', false, `${name} now\n`));
    }
    cluster.observe('DELETED', pod('web-1'));
    expect(await cluster.podLog(web, 'web', read({ previous: true }))).toBeUndefined();
    expect(await cluster.podLog(web, 'web', read())).toBeUndefined();
    expect(await cluster.podLog({ namespace: 'shop', name: 'web-10' }, 'web', read({ previous: true }))).toBe('web-10\n');
  });

  it('a log is never served as an object: get and list do not see it', async () => {
    const cluster = new RecordedCluster();
    cluster.observe('ADDED', pod('web-1'));
    cluster.observe('ADDED', podLog('web-1', 'web', true, 'x\n'));
    const ref = { apiVersion: 'reflex.dev/v1', kind: 'PodLog', namespace: 'shop', name: 'web-1' };
    expect(await cluster.get(ref)).toBeUndefined();
    expect(await cluster.list('reflex.dev/v1', 'PodLog')).toEqual([]);
    expect(await cluster.list('reflex.dev/v1', 'PodLog', { namespace: 'shop' })).toEqual([]);
    expect(await cluster.list('v1', 'Pod', { namespace: 'shop' })).toEqual([pod('web-1')]);
  });
});
