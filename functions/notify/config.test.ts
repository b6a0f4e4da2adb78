/** The cluster's name in notify's messages: configured, else the API server's host as the ApiServerSource's `source` names it. */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNotifyConfig } from './config.js';

const home = mkdtempSync(join(tmpdir(), 'notify-home-'));
const kubeconfig = (server: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'kc-')), 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: c',
      'contexts: [{ name: c, context: { cluster: k, user: u } }, { name: other, context: { cluster: o, user: u } }]',
      `clusters: [{ name: o, cluster: { server: 'https://elsewhere:6443' } }, { name: k, cluster: { server: '${server}' } }]`,
      'users: [{ name: u, user: { token: t } }]',
    ].join('\n'),
  );
  return file;
};
const clusterOf = (env: Record<string, string>): string | undefined => parseNotifyConfig({ HOME: home, ...env }).cluster;

describe('the cluster name', () => {
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['REFLEX_CLUSTER_NAME wins', { REFLEX_CLUSTER_NAME: 'prod-eu-1', KUBERNETES_SERVICE_HOST: '10.96.0.1' }, 'prod-eu-1'],
    ['in a pod: the kubernetes Service host the ApiServerSource names', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, '10.96.0.1'],
    [
      "from a kubeconfig: its current cluster's server host",
      { KUBECONFIG: kubeconfig('https://api.prod.example.com:6443') },
      'api.prod.example.com',
    ],
    ['an IPv6 server is no name: none said', { KUBECONFIG: kubeconfig('https://[fd00::1]:6443') }, undefined],
    ['no cluster at all: none said', {}, undefined],
  ];
  it.each(cases)('%s', (_name, env, expected) => {
    expect(clusterOf({ ...env })).toBe(expected);
  });
});
