import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';

const DEPLOY = new URL('../../../deploy/', import.meta.url);

function docs(file: string): Record<string, any>[] {
  return parseAllDocuments(readFileSync(new URL(file, DEPLOY), 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors.join('; ')}`);
    return d.toJSON();
  });
}

const models: Record<string, new (data: any) => { validate(): void }> = {
  DaemonSet, ConfigMap, ServiceAccount, ClusterRole, ClusterRoleBinding,
};

function validateAll(file: string): Record<string, any>[] {
  const all = docs(file);
  for (const obj of all) {
    const Model = models[obj.kind];
    assert.ok(Model, `${file}: no schema for kind ${obj.kind}`);
    assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${obj.kind} ${obj.metadata?.name} fails its schema`);
  }
  return all;
}

test('every deploy manifest validates against the Kubernetes schema offline', () => {
  const kustomization = docs('kustomization.yaml')[0];
  assert.ok(kustomization.resources.length >= 4);
  for (const file of kustomization.resources as string[]) validateAll(file);
});

test('the DaemonSet runs like kube-proxy: host network, privileged, node-critical, every taint tolerated', () => {
  const [ds] = validateAll('daemonset.yaml');
  const pod = ds.spec.template.spec;
  assert.equal(ds.metadata.namespace, 'kube-system');
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.priorityClassName, 'system-node-critical');
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  const c = pod.containers[0];
  assert.equal(c.securityContext.privileged, true);
  assert.equal(c.livenessProbe.httpGet.path, '/livez');
  assert.ok(c.args.includes('--hostname-override=$(NODE_NAME)'));
  assert.equal(c.env.find((e: any) => e.name === 'NODE_NAME').valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.name, m.mountPath]));
  assert.equal(mounts['xtables-lock'], '/run/xtables.lock');
  assert.equal(mounts['lib-modules'], '/lib/modules');
  assert.equal(ds.spec.updateStrategy.type, 'RollingUpdate');
  assert.ok(ds.spec.updateStrategy.rollingUpdate.maxUnavailable);
  assert.equal(pod.serviceAccountName, docs('serviceaccount.yaml')[0].metadata.name);
});
