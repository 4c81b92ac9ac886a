/**
 * deploy/rbac.yaml is enough: kpx runs as a fresh service account bound by exactly that manifest
 * (its ClusterRole and ClusterRoleBinding, applied unchanged) with a token from the TokenRequest API,
 * lists and watches, and the Events it records are accepted. The API server's audit log shows every
 * request kpx made and its answer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ServiceSpec } from '../../../src/sandbox/manifests.js';
import { packageRoot } from '../../../src/sandbox/scripts.js';
import type { JsonObject } from '../../support/real-apiserver.js';
import { pollUntil } from '../../support/poll-until.js';
import { SKIP, CHANGE_TIMEOUT_MS, httpService, useRealCluster } from './real-cluster.js';

const SA_USER = 'system:serviceaccount:kube-system:kpx';
const HEALTH_CHECK_PORT = 32000;
const web = httpService('web', '10.96.6.10');
const late = httpService('late', '10.96.6.11');
/** Its health-check node port is taken on the node, so kpx records a FailedToStartServiceHealthcheck Event. */
const local: ServiceSpec = {
  name: 'local', type: 'LoadBalancer', clusterIP: '10.96.6.12', externalTrafficPolicy: 'Local',
  healthCheckNodePort: HEALTH_CHECK_PORT, ports: [{ name: 'http', port: 80, targetPort: 8080 }],
};

function rbacManifest(): JsonObject[] {
  const text = readFileSync(join(packageRoot(), 'deploy', 'rbac.yaml'), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as JsonObject).filter((o) => o !== null);
}

describe("kube source against a real API server with exactly deploy/rbac.yaml's permissions", { skip: SKIP }, () => {
  let token = '';
  const cluster = useRealCluster({
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }],
    auditedUsers: [SA_USER],
    async setup(c) {
      await c.api.ok('POST', '/api/v1/namespaces/kube-system/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kpx' } });
      for (const obj of rbacManifest()) await c.api.apply(obj);
      token = await c.api.serviceAccountToken('kube-system', 'kpx');
      await c.applyService(web, ['pod1']);
      await c.applyService(local, ['pod1']);
      await c.sb.startServerIn(c.node.ns, 'port-holder', [HEALTH_CHECK_PORT], []);
    },
    kubeconfig: async (c) => c.api.writeKubeconfig('kpx', token),
    // -v 2: a rejected Event is logged there.
    kpxArgs: ['-v', '2'],
  });

  test('the manifest is applied unchanged: one ClusterRole and its binding to the service account', () => {
    const kinds = rbacManifest().map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(kinds, ['ClusterRole/kpx', 'ClusterRoleBinding/kpx']);
  });

  test('kpx lists and watches Services, EndpointSlices and its Node with those permissions', async () => {
    const { c } = cluster;
    await c.expectPods(web.clusterIP, 80, ['pod1']);
    await c.applyService(late, ['pod2']);
    await c.expectPods(late.clusterIP, 80, ['pod2']);
    const seen = new Set(c.api.auditEvents().filter((e) => e.user === SA_USER && e.code === 200).map((e) => `${e.verb} ${e.resource}`));
    for (const want of ['list services', 'watch services', 'list endpointslices', 'watch endpointslices', 'list nodes', 'watch nodes']) {
      assert.ok(seen.has(want), `no successful "${want}" by ${SA_USER}; seen: ${[...seen].join(', ')}`);
    }
  });

  test('the Events kpx records are accepted', async () => {
    const { c } = cluster;
    let events: JsonObject[] = [];
    await pollUntil(async () => {
      const list = await c.api.ok('GET', '/apis/events.k8s.io/v1/namespaces/default/events');
      events = (list.items as JsonObject[]).filter((e) => e.reportingController === 'kpx.io/kpx');
      return events.some((e) => e.reason === 'FailedToStartServiceHealthcheck');
    }, { timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 300, message: () => `kpx's events: ${JSON.stringify(events)}\n${c.kpxLines(/event/i).join('\n')}` });
    const created = c.api.auditEvents().filter((e) => e.user === SA_USER && e.resource === 'events' && e.verb === 'create');
    assert.ok(created.length > 0 && created.every((e) => e.code === 201), JSON.stringify(created));
    assert.deepEqual(c.kpxLines(/could not record event/), []);
  });

  test('no request kpx made was denied', () => {
    // Pods and ConfigMaps are what the last test asks for, to show they are denied; kpx never does.
    const denied = cluster.c.api.auditEvents()
      .filter((e) => e.user === SA_USER && (e.code === 401 || e.code === 403) && !['pods', 'configmaps'].includes(e.resource));
    assert.deepEqual(denied, []);
  });

  test('the service account has no permission beyond the manifest (the test is not privileged by accident)', async () => {
    const { c } = cluster;
    const pods = await c.api.request('GET', '/api/v1/pods', undefined, { token });
    const create = await c.api.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, { token });
    assert.deepEqual([pods.status, create.status], [403, 403]);
  });
});
