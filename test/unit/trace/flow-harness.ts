/**
 * flow-harness.ts: kube-proxy's packet-flow test set-up for kpx (proxier_test.go's NewFakeProxier,
 * makeTestService, makeTestEndpointSlice, runPacketFlowTests), on the real model and the real iptables
 * renderer: API objects → buildProxyState → renderRestoreInput (+ the built-in chain jumps the backend
 * ensures) → parsed dump → tracePacket.
 *
 * The fake node is kube-proxy's: name "test-node", lo 127.0.0.1/::1, eth0 192.168.0.2, 192.168.1.2,
 * 192.168.99.11, 2001:db8::1, 2001:db8:1::2; pods 10.0.0.0/8 (fd00:10::/64); masquerade bit 14 (0x4000).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import { buildProxyState } from '../../../src/model/index.js';
import type { IPFamily, ProxyState } from '../../../src/model/types.js';
import { parseIptablesDump, type IptablesDump } from '../../../src/net/iptables-dump.js';
import { tracePacket } from '../../../src/trace/tracer.js';
import { renderRestoreInput } from '../../../modes/iptables/render.js';
import { JUMP_RULES, KUBELET_FIREWALL_JUMPS, jumpLine } from '../../../modes/iptables/jumps.js';
import { checkIptablesRuleJumps } from '../../support/iptables-assert.js';
import { clusterCIDRMatch } from '../../support/mode-options.js';

export const TEST_NODE_NAME = 'test-node';
export const TEST_NODE_IP = '192.168.0.2';
export const TEST_NODE_IP_ALT = '192.168.1.2';
export const TEST_EXTERNAL_IP = '192.168.99.11';
export const TEST_NODE_IPV6 = '2001:db8::1';
export const TEST_NODE_IPV6_ALT = '2001:db8:1::2';
export const TEST_EXTERNAL_CLIENT = '203.0.113.2';
export const TEST_EXTERNAL_CLIENT_BLOCKED = '203.0.113.130';

/** The node's addresses as the tracer sees them (kube-proxy's testNodeIPs). */
export const TEST_NODE_IPS = [TEST_NODE_IP, TEST_NODE_IP_ALT, TEST_EXTERNAL_IP, TEST_NODE_IPV6, TEST_NODE_IPV6_ALT];
/** The host's interface addresses (kube-proxy's fake network: lo and eth0). */
export const TEST_HOST_ADDRESSES = ['127.0.0.1', '::1', ...TEST_NODE_IPS];

export function makeService(namespace: string, name: string, fn: (svc: ApiService & { spec: NonNullable<ApiService['spec']> }) => void): ApiService {
  const svc = { metadata: { namespace, name, annotations: {} }, spec: {}, status: {} } as ApiService & { spec: NonNullable<ApiService['spec']> };
  fn(svc);
  return svc;
}

export function makeSlice(namespace: string, name: string, n: number, fn: (eps: ApiEndpointSlice) => void): ApiEndpointSlice {
  const eps: ApiEndpointSlice = {
    metadata: { namespace, name: `${name}-${n}`, labels: { 'kubernetes.io/service-name': name } },
  };
  fn(eps);
  return eps;
}

export interface ProxyConfig {
  family?: IPFamily;
  /** Local-traffic detection by cluster CIDR; null = no detector. Default 10.0.0.0/8 (fd00:10::/64). */
  clusterCIDR?: string | null;
  masqueradeAll?: boolean;
  localhostNodePorts?: boolean;
  nodePortAddresses?: string[];
}

export interface RenderedCluster {
  state: ProxyState;
  /** The restore input the renderer produced. */
  restoreInput: string;
  /** restoreInput plus the built-in chain jumps, as the kernel would hold them. */
  dump: IptablesDump;
  warnings: string[];
}

/** Builds the state with the real model and renders it with the real iptables renderer. */
export function renderCluster(services: ApiService[], slices: ApiEndpointSlice[], cfg: ProxyConfig = {}): RenderedCluster {
  const family = cfg.family ?? 'IPv4';
  const warnings: string[] = [];
  const state = buildProxyState({
    family,
    nodeName: TEST_NODE_NAME,
    node: undefined,
    services,
    endpointSlices: slices,
    hostAddresses: TEST_HOST_ADDRESSES,
    nodePortAddresses: cfg.nodePortAddresses ?? [],
    localhostNodePorts: cfg.localhostNodePorts ?? true,
    warn: (msg, fields) => warnings.push(`${msg} ${JSON.stringify(fields ?? {})}`),
  });
  const defaultCIDR = family === 'IPv4' ? '10.0.0.0/8' : 'fd00:10::/64';
  const restoreInput = renderRestoreInput(state, {
    family,
    masqueradeAll: cfg.masqueradeAll ?? false,
    masqueradeBit: 14,
    localTraffic: clusterCIDRMatch(cfg.clusterCIDR === null ? '' : cfg.clusterCIDR ?? defaultCIDR),
    randomFully: false,
    nfacct: true,
  });
  const jumps = [...JUMP_RULES, ...KUBELET_FIREWALL_JUMPS];
  const base = ['nat', 'filter'].map((table) =>
    `*${table}\n${jumps.filter((j) => j.table === table).map(jumpLine).join('\n')}\nCOMMIT\n`).join('');
  const dump = parseIptablesDump(restoreInput + base);
  assert.deepEqual(dump.warnings, [], 'the rendered rules parse cleanly');
  return { state, restoreInput, dump, warnings };
}

export interface PacketFlow {
  name: string;
  sourceIP: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  destIP: string;
  destPort: number;
  output: string;
  masq?: boolean;
}

/** kube-proxy's runPacketFlowTests: one subtest a flow, failing with the matched rules printed. */
export async function runPacketFlows(t: TestContext, cluster: RenderedCluster, flows: readonly PacketFlow[], nodeIPs = TEST_NODE_IPS): Promise<void> {
  for (const f of flows) {
    await t.test(f.name, () => {
      const proto = (f.protocol ?? 'TCP').toLowerCase();
      const r = tracePacket(cluster.dump, { src: f.sourceIP, proto, dst: f.destIP, dport: f.destPort }, nodeIPs);
      const errors: string[] = [];
      if (r.output !== f.output) errors.push(`wrong output: expected ${JSON.stringify(f.output)} got ${JSON.stringify(r.output)}`);
      if (r.masq !== (f.masq ?? false)) errors.push(`wrong masq: expected ${f.masq ?? false} got ${r.masq}`);
      if (errors.length) {
        assert.fail(`${f.name}: a ${proto} packet from ${f.sourceIP} to ${f.destIP}:${f.destPort} got:\n${errors.join('\n')}\n\n` +
          `by matching:\n${r.matched.join('\n')}\n\nrestore input:\n${cluster.restoreInput}`);
      }
    });
  }
}

/** The rendered restore input passes kube-proxy's jump-consistency check. */
export function assertConsistent(cluster: RenderedCluster): void {
  assert.deepEqual(checkIptablesRuleJumps(cluster.restoreInput), [], `inconsistent rules:\n${cluster.restoreInput}`);
}
