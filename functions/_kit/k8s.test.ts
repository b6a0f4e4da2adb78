import { describe, expect, it } from '@jest/globals';
import { describeRequest } from './k8s.js';

describe("an API request's span", () => {
  it.each([
    // A namespaced object: the resource names the span; namespace and name are attributes.
    [
      'GET',
      '/api/v1/namespaces/shop/pods/web-7d9c8b5f4-x2x7q',
      'k8s GET pods',
      { 'k8s.api': 'v1', 'k8s.namespace.name': 'shop', 'k8s.resource': 'pods', 'k8s.object.name': 'web-7d9c8b5f4-x2x7q' },
    ],
    // A list, in a named group.
    ['GET', '/apis/apps/v1/namespaces/shop/replicasets', 'k8s GET replicasets', { 'k8s.api': 'apps/v1', 'k8s.resource': 'replicasets' }],
    // A subresource is part of the name: reading logs is not reading pods.
    ['GET', '/api/v1/namespaces/shop/pods/web/log', 'k8s GET pods/log', { 'k8s.subresource': 'log', 'k8s.object.name': 'web' }],
    ['POST', '/api/v1/namespaces/shop/pods/web/eviction', 'k8s POST pods/eviction', { 'k8s.subresource': 'eviction' }],
    ['PATCH', '/apis/apps/v1/namespaces/shop/deployments/web/scale', 'k8s PATCH deployments/scale', {}],
    // A cluster-scoped object; the namespace of `namespaces/<name>` is the object itself.
    ['PATCH', '/api/v1/nodes/node-3', 'k8s PATCH nodes', { 'k8s.resource': 'nodes', 'k8s.object.name': 'node-3' }],
    ['GET', '/api/v1/namespaces/shop', 'k8s GET namespaces', { 'k8s.resource': 'namespaces', 'k8s.object.name': 'shop' }],
    // What client-node asks to learn a group's resources.
    ['GET', '/apis/metrics.k8s.io/v1beta1', 'k8s GET discovery', { 'k8s.api': 'metrics.k8s.io/v1beta1' }],
    ['GET', '/api/v1', 'k8s GET discovery', { 'k8s.api': 'v1' }],
    // Names are shown decoded; a query is never part of it.
    ['GET', '/api/v1/namespaces/shop/configmaps/a%3Ab?labelSelector=x', 'k8s GET configmaps', { 'k8s.object.name': 'a:b' }],
  ])('%s %s is %s', (method, path, name, attributes) => {
    const d = describeRequest(method, path);
    expect(d.name).toBe(name);
    expect(d.attributes).toMatchObject({ 'http.request.method': method, ...attributes });
  });

  it('names the namespace only where a path has one', () => {
    expect(describeRequest('GET', '/api/v1/nodes').attributes).not.toHaveProperty('k8s.namespace.name');
  });
});
