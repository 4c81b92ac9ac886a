/**
 * flow-harness.ts: kube-proxy's packet-flow test set-up for kpx (proxier_test.go's NewFakeProxier,
 * makeTestService, makeTestEndpointSlice, runPacketFlowTests), on the real model and the real iptables
 * backend: API objects → buildProxyState → IptablesBackend.sync into a fake iptables that keeps the parsed
 * tables (test/support/fake-iptables.ts) → the fake's dump → tracePacket. A FlowNode keeps its backend and
 * tables between syncs, so partial syncs are traced as the kernel would hold them.
 *
 * The fake node is kube-proxy's: name "test-node", lo 127.0.0.1/::1, eth0 192.168.0.2, 192.168.1.2,
 * 192.168.99.11, 2001:db8::1, 2001:db8:1::2; pods 10.0.0.0/8 (fd00:10::/64); masquerade bit 14 (0x4000).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { IptablesBackend } from '../../../modes/iptables/backend.js';
import { renderRestoreInput } from '../../../modes/iptables/render.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import { buildProxyState } from '../../../src/model/index.js';
import type { SyncResult } from '../../../src/backend.js';
import type { ChangeSet, IPFamily, ProxyState } from '../../../src/model/types.js';
import { dumpToString, parseIptablesDump, type IptablesDump } from '../../../src/net/iptables-dump.js';
import { tracePacket } from '../../../src/trace/tracer.js';
import { RecordingConntrack } from '../../support/fake-conntrack.js';
import { FakeIptables } from '../../support/fake-iptables.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { checkIptablesRuleJumps } from '../../support/iptables-assert.js';
import { clusterCIDRMatch, modeOptions } from '../../support/mode-options.js';
import { memoryLogger } from '../../support/logger.js';

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
  /** The complete restore input the renderer gives for the state (kube-proxy's golden tests compare it). */
  restoreInput: string;
  /** The fake kernel's tables after the backend's sync. */
  dump: IptablesDump;
  warnings: string[];
}

export const FULL_SYNC: ChangeSet = { full: true, services: new Set() };

/**
 * A node with the iptables backend syncing into a fake iptables; `sync` builds the state with the real
 * model and hands it to the real backend, full or partial.
 */
export class FlowNode {
  readonly iptables = new FakeIptables();
  readonly conntrack = new RecordingConntrack();
  readonly logs: string[] = [];
  readonly backend: IptablesBackend;
  private readonly family: IPFamily;
  private readonly clusterCIDR: string;

  constructor(private readonly cfg: ProxyConfig = {}) {
    this.family = cfg.family ?? 'IPv4';
    const config = defaultConfig();
    config.iptables.masqueradeAll = cfg.masqueradeAll ?? false;
    config.iptables.masqueradeBit = 14;
    config.iptables.localhostNodePorts = cfg.localhostNodePorts ?? true;
    config.nodePortAddresses = cfg.nodePortAddresses ?? [];
    const defaultCIDR = this.family === 'IPv4' ? '10.0.0.0/8' : 'fd00:10::/64';
    this.clusterCIDR = cfg.clusterCIDR === null ? '' : cfg.clusterCIDR ?? defaultCIDR;
    this.backend = new IptablesBackend(
      modeOptions('iptables', { family: this.family, config, log: memoryLogger(this.logs), clusterCIDR: this.clusterCIDR }),
      // No canary poll interval: every partial sync looks, so a flush in a test is seen at once.
      { iptables: this.iptables, conntrack: this.conntrack, sysctl: new FakeSysctl({}, new Set(['net.ipv4.conf.all.route_localnet'])), driftCheckIntervalMs: 0 },
    );
  }

  state(services: ApiService[], slices: ApiEndpointSlice[], warnings: string[] = []): ProxyState {
    return buildProxyState({
      family: this.family,
      nodeName: TEST_NODE_NAME,
      node: undefined,
      services,
      endpointSlices: slices,
      hostAddresses: TEST_HOST_ADDRESSES,
      nodePortAddresses: this.cfg.nodePortAddresses ?? [],
      localhostNodePorts: this.cfg.localhostNodePorts ?? true,
      warn: (msg, fields) => warnings.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    });
  }

  /** One backend sync of the cluster; the result says whether the backend accepted it. */
  async trySync(services: ApiService[], slices: ApiEndpointSlice[], changed: ChangeSet = FULL_SYNC): Promise<{ result: SyncResult; cluster: RenderedCluster }> {
    const warnings: string[] = [];
    const state = this.state(services, slices, warnings);
    const result = await this.backend.sync(state, changed);
    const restoreInput = renderRestoreInput(state, {
      family: this.family,
      masqueradeAll: this.cfg.masqueradeAll ?? false,
      masqueradeBit: 14,
      localTraffic: clusterCIDRMatch(this.clusterCIDR),
      randomFully: false,
      nfacct: true,
    });
    return { result, cluster: { state, restoreInput, dump: this.iptables.dump(), warnings } };
  }

  /** One backend sync that must succeed. */
  async sync(services: ApiService[], slices: ApiEndpointSlice[], changed: ChangeSet = FULL_SYNC): Promise<RenderedCluster> {
    const { result, cluster } = await this.trySync(services, slices, changed);
    assert.deepEqual(result, { ok: true }, `the sync failed; logs:\n${this.logs.join('\n')}`);
    assert.deepEqual(parseIptablesDump(cluster.restoreInput).warnings, [], 'the rendered rules parse cleanly');
    return cluster;
  }
}

/** Builds the state with the real model and syncs it with the real iptables backend, into a fresh fake node. */
export function renderCluster(services: ApiService[], slices: ApiEndpointSlice[], cfg: ProxyConfig = {}): Promise<RenderedCluster> {
  return new FlowNode(cfg).sync(services, slices);
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
          `by matching:\n${r.matched.join('\n')}\n\ntables:\n${dumpToString(cluster.dump)}`);
      }
    });
  }
}

/** The rendered restore input passes kube-proxy's jump-consistency check. */
export function assertConsistent(cluster: RenderedCluster): void {
  assert.deepEqual(checkIptablesRuleJumps(cluster.restoreInput), [], `inconsistent rules:\n${cluster.restoreInput}`);
}
