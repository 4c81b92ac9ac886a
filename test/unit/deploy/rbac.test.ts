/**
 * deploy/rbac.yaml grants exactly what kpx's code asks the API server for. The permissions are derived
 * from the sources that import @kubernetes/client-node: the API clients they make (CoreV1Api → "",
 * DiscoveryV1Api → discovery.k8s.io, EventsV1Api → events.k8s.io), the calls they make on them
 * (listServiceForAllNamespaces → list services, createNamespacedEvent → create events, ...) and the
 * informers' watch paths (/api/v1/nodes → watch nodes). Any call added to the code without its rule,
 * or a rule the code no longer needs, fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const API_GROUPS: Record<string, string> = {
  CoreV1Api: '',
  DiscoveryV1Api: 'discovery.k8s.io',
  EventsV1Api: 'events.k8s.io',
  AppsV1Api: 'apps',
  CoordinationV1Api: 'coordination.k8s.io',
};

/** client-node method verbs, longest first (deleteCollection before delete). */
const VERBS: readonly [string, string][] = [
  ['deleteCollection', 'deletecollection'], ['list', 'list'], ['read', 'get'], ['create', 'create'],
  ['patch', 'patch'], ['replace', 'update'], ['delete', 'delete'], ['watch', 'watch'],
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** "Service" → "services", "EndpointSlice" → "endpointslices" (Kubernetes' plural resource names). */
function plural(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('ss')) return k + 'es'; // Ingress → ingresses
  if (k.endsWith('s')) return k; // Endpoints is its own plural
  if (k.endsWith('y')) return k.slice(0, -1) + 'ies';
  return k + 's';
}

/** Method name → verb and resource: listNamespacedEvent → list events; readNodeStatus → get nodes/status. */
function permissionOfMethod(method: string): { verb: string; resource: string } | undefined {
  for (const [prefix, verb] of VERBS) {
    if (!method.startsWith(prefix)) continue;
    let rest = method.slice(prefix.length).replace(/^Namespaced/, '').replace(/ForAllNamespaces$/, '');
    let sub = '';
    const m = /^(.*?)(Status|Scale|Binding|Eviction|Log|Proxy)$/.exec(rest);
    if (m && m[1]) { rest = m[1]; sub = '/' + m[2]!.toLowerCase(); }
    if (!/^[A-Z]\w*$/.test(rest)) return undefined;
    return { verb, resource: plural(rest) + sub };
  }
  return undefined;
}

/** group/resource:verb for every API request in kpx's sources. */
function permissionsUsedByCode(): Set<string> {
  const used = new Set<string>();
  const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'modes'))];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (!/from '@kubernetes\/client-node'/.test(text)) continue;
    // Clients made in this file: variable → API group.
    const clients = new Map<string, string>();
    for (const m of text.matchAll(/(?:const|let)\s+(\w+)\s*=\s*\w+\.makeApiClient\((?:k8s\.)?(\w+)\)/g)) {
      const group = API_GROUPS[m[2]!];
      assert.ok(group !== undefined, `${f}: API client ${m[2]} is not in this test's table`);
      clients.set(m[1]!, group);
    }
    for (const [name, group] of clients) {
      for (const m of text.matchAll(new RegExp(`\\b${name}\\.(\\w+)\\(`, 'g'))) {
        const p = permissionOfMethod(m[1]!);
        assert.ok(p, `${f}: cannot tell what ${name}.${m[1]}() needs`);
        used.add(`${group}/${p.resource}:${p.verb}`);
      }
    }
    // Informers: every watched path is a list + watch of that collection.
    for (const m of text.matchAll(/path:\s*'\/(?:api\/v1|apis\/([\w.]+)\/\w+)\/(\w+)'/g)) {
      used.add(`${m[1] ?? ''}/${m[2]}:watch`);
      used.add(`${m[1] ?? ''}/${m[2]}:list`);
    }
  }
  return used;
}

function permissionsGranted(): Set<string> {
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8')).map((d) => d.toJSON() as Record<string, any>);
  const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
  assert.equal(roles.length, 1, 'one role for kpx');
  const granted = new Set<string>();
  for (const rule of roles[0]!.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[]) {
    assert.ok(!rule.apiGroups.includes('*') && !rule.resources.includes('*') && !rule.verbs.includes('*'), 'no wildcards');
    for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) granted.add(`${g}/${r}:${v}`);
  }
  return granted;
}

test('method names map to the verbs and resources the API server checks', () => {
  assert.deepEqual(permissionOfMethod('listServiceForAllNamespaces'), { verb: 'list', resource: 'services' });
  assert.deepEqual(permissionOfMethod('listEndpointSliceForAllNamespaces'), { verb: 'list', resource: 'endpointslices' });
  assert.deepEqual(permissionOfMethod('createNamespacedEvent'), { verb: 'create', resource: 'events' });
  assert.deepEqual(permissionOfMethod('readNodeStatus'), { verb: 'get', resource: 'nodes/status' });
  assert.deepEqual(permissionOfMethod('patchNamespacedEndpoints'), { verb: 'patch', resource: 'endpoints' });
  assert.deepEqual(permissionOfMethod('replaceIngressClass'), { verb: 'update', resource: 'ingressclasses' });
  assert.deepEqual(permissionOfMethod('deleteCollectionNamespacedPod'), { verb: 'deletecollection', resource: 'pods' });
  assert.equal(permissionOfMethod('getAPIResources'), undefined);
});

test('the ClusterRole grants exactly what the code uses: list/watch services, endpointslices and nodes, create events', () => {
  const used = permissionsUsedByCode();
  const granted = permissionsGranted();
  // The scan found the source's and the event sink's requests (guards against a scan that finds nothing).
  for (const p of ['/services:list', '/services:watch', 'discovery.k8s.io/endpointslices:watch', '/nodes:list', 'events.k8s.io/events:create']) {
    assert.ok(used.has(p), `the code scan did not find ${p}: ${[...used].join(', ')}`);
  }
  assert.deepEqual([...granted].filter((p) => !used.has(p)).sort(), [], 'granted but never used by the code');
  assert.deepEqual([...used].filter((p) => !granted.has(p)).sort(), [], 'used by the code but not granted');
});

test('the binding gives the role to the ServiceAccount the DaemonSet runs as', () => {
  const rbac = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8')).map((d) => d.toJSON() as Record<string, any>);
  const role = rbac.find((d) => d.kind === 'ClusterRole')!;
  const binding = rbac.find((d) => d.kind === 'ClusterRoleBinding')!;
  const sa = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'serviceaccount.yaml'), 'utf8'))[0]!.toJSON() as Record<string, any>;
  const ds = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'daemonset.yaml'), 'utf8'))[0]!.toJSON() as Record<string, any>;
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.equal(binding.roleRef.kind, 'ClusterRole');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace ?? 'kube-system' }]);
  assert.equal(ds.spec.template.spec.serviceAccountName, sa.metadata.name);
  assert.equal(ds.metadata.namespace, binding.subjects[0].namespace);
});
