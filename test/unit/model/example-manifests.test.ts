/**
 * The example cluster shipped in examples/manifests (the embedded default's demo data) parses with the `yaml`
 * package and builds the ProxyState it is meant to show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildProxyState } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../../src/model/api.js';
import { keys } from './fixtures.js';

const DIR = fileURLToPath(new URL('../../../examples/manifests/', import.meta.url));

function load() {
  const services: ApiService[] = [];
  const slices: ApiEndpointSlice[] = [];
  const nodes: ApiNode[] = [];
  const files = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, f), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${f} parses`);
      const obj = doc.toJS() as { kind?: string } | null;
      if (!obj) continue;
      if (obj.kind === 'Service') services.push(obj as ApiService);
      else if (obj.kind === 'EndpointSlice') slices.push(obj as ApiEndpointSlice);
      else if (obj.kind === 'Node') nodes.push(obj as ApiNode);
      else assert.fail(`${f}: unexpected kind ${obj.kind}`);
    }
  }
  return { files, services, slices, nodes };
}

test('the example manifests hold a node, seven services and their slices', () => {
  const { files, services, slices, nodes } = load();
  assert.ok(files.length >= 1);
  assert.deepEqual(nodes.map((n) => n.metadata?.name), ['kpx-node']);
  assert.equal(nodes[0].metadata?.labels?.['topology.kubernetes.io/zone'], 'zone-a');
  assert.equal(services.length, 7);
  assert.equal(slices.length, 6);
});

test('the example cluster builds the expected IPv4 proxy state, skipping the headless and ExternalName services', () => {
  const { services, slices, nodes } = load();
  const warnings: string[] = [];
  const state = buildProxyState({
    family: 'IPv4', nodeName: 'kpx-node', node: nodes[0], services, endpointSlices: slices,
    hostAddresses: ['10.10.0.1', '127.0.0.1'], nodePortAddresses: [], localhostNodePorts: true,
    warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f)}`),
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual([...state.services.keys()], [
    'default/api:http',
    'default/echo:http',
    'default/shop:https',
    'default/web:http',
    'kube-system/kube-dns:dns',
    'kube-system/kube-dns:dns-tcp',
  ]);
  assert.equal(state.node.zone, 'zone-a');
  assert.deepEqual(state.node.ips, ['10.10.0.1']);
  assert.equal(state.node.primaryIP, '10.10.0.1');
  assert.deepEqual(state.node.podCIDRs, ['10.244.0.0/24']);

  const web = state.services.get('default/web:http')!;
  assert.equal(web.clusterIP, '10.96.0.10');
  assert.equal(web.port, 80);
  assert.deepEqual(keys(web.clusterEndpoints), ['10.244.0.11:8080', '10.244.1.12:8080']);
  assert.deepEqual(web.endpoints.map((e) => e.isLocal), [true, false]);

  const echo = state.services.get('default/echo:http')!;
  assert.equal(echo.nodePort, 30080);
  assert.ok(echo.externallyAccessible && !echo.externalPolicyLocal);

  const shop = state.services.get('default/shop:https')!;
  assert.deepEqual(shop.loadBalancerIPs, ['203.0.113.10']);
  assert.deepEqual(shop.loadBalancerSourceRanges, ['198.51.100.0/24', '10.10.0.0/16']);
  assert.equal(shop.affinityTimeoutSeconds, 10800);
  assert.equal(shop.nodePort, 30443);
  assert.equal(shop.healthCheckNodePort, 0);

  const api = state.services.get('default/api:http')!;
  assert.ok(api.externalPolicyLocal);
  assert.equal(api.healthCheckNodePort, 32000);
  assert.deepEqual(api.externalIPs, ['10.10.0.100']);
  assert.deepEqual(keys(api.localEndpoints), ['10.244.0.41:9000']);
  assert.deepEqual(keys(api.clusterEndpoints), ['10.244.0.41:9000', '10.244.1.42:9000']);
  assert.equal(api.readyLocalEndpointCount, 1);

  const dns = state.services.get('kube-system/kube-dns:dns')!;
  assert.equal(dns.protocol, 'UDP');
  assert.deepEqual(keys(dns.clusterEndpoints), ['10.244.0.53:53', '10.244.1.53:53']);
  assert.equal(state.services.get('kube-system/kube-dns:dns-tcp')!.protocol, 'TCP');

  for (const p of state.services.values()) {
    assert.ok(p.clusterIP.startsWith('10.96.'), p.key);
    for (const e of p.endpoints) assert.ok(e.ip.startsWith('10.244.'), e.key);
  }
});

test('the example cluster has no IPv6 services', () => {
  const { services, slices, nodes } = load();
  const state = buildProxyState({
    family: 'IPv6', nodeName: 'kpx-node', node: nodes[0], services, endpointSlices: slices,
    hostAddresses: [], nodePortAddresses: [], localhostNodePorts: true, warn: () => {},
  });
  assert.equal(state.services.size, 0);
});
