/**
 * pure.ts: the pure part of each mode at a given size, no kernel involved:
 * - model: the API objects → ProxyState (ClusterCache + ProxyStateBuilder, what every sync starts from);
 * - iptables: the full restore input (renderRestoreInput);
 * - ipvs: the IPVS plan plus its iptables/ipset rules (planIpvs + renderIpvsRules);
 * - userspace: the listener plan plus the portal rules (planListeners + renderPortalRules);
 * each timed best-of-N after a warm-up, with the heap it retains (after a forced GC) and the RSS after.
 */
import { networkInterfaces } from 'node:os';
import { Registry } from 'prom-client';
import type { IptablesSettings } from '../../modes/iptables/settings.js';
import { planIpvs } from '../../modes/ipvs/plan.js';
import { renderIpvsRules } from '../../modes/ipvs/rules.js';
import { renderRestoreInput } from '../../modes/iptables/render.js';
import { planListeners } from '../../modes/userspace/listener-plan.js';
import { renderPortalRules } from '../../modes/userspace/portal-rules.js';
import type { BackendOptions } from '../../src/backend.js';
import { hostFacts } from '../../src/cli/host-facts.js';
import { modeSettings } from '../../src/cli/mode-options.js';
import { defaultConfig } from '../../src/config/types.js';
import { clusterCIDRDetector, iptablesLocalMatch } from '../../src/local-traffic.js';
import type { ProxyState } from '../../src/model/types.js';
import { createProxyMetrics } from '../../src/server/metrics.js';
import { ClusterCache } from '../../src/sync/cluster-cache.js';
import { systemClock } from '../../src/util/clock.js';
import { ProxyStateBuilder } from '../../src/sync/state-builder.js';
import { log } from '../../src/util/log.js';
import { memoryNow } from '../common/memory.js';
import type { SyntheticCluster } from './cluster.js';

export const CLUSTER_CIDR = '10.0.0.0/8';
export const LOCAL_TRAFFIC = iptablesLocalMatch(clusterCIDRDetector(CLUSTER_CIDR), { podCIDRs: [] });

export interface PureFigures {
  /** Best time of the runs, in ms. */
  readonly renderMs: number;
  readonly runsMs: readonly number[];
  /** Heap retained by the output (after GC), bytes. */
  readonly heapBytes: number;
  /** Process RSS after rendering (includes everything this benchmark process holds), bytes. */
  readonly rssBytes: number;
  /** Size of the output: restore lines, or listeners. */
  readonly outputSize: string;
}

/** API objects → ProxyState through the same incremental builder the proxier uses. */
export function buildState(cluster: SyntheticCluster, nodeName: string, nodeIP: string): ProxyState {
  const cache = new ClusterCache({ nodeName, clock: systemClock, log, metrics: createProxyMetrics() });
  cache.upsert({ kind: 'Node', obj: cluster.node });
  for (const s of cluster.services) cache.upsert({ kind: 'Service', obj: s });
  for (const s of cluster.slices) cache.upsert({ kind: 'EndpointSlice', obj: s });
  cache.synced('Service');
  cache.synced('EndpointSlice');
  cache.synced('Node');
  const changes = cache.take();
  const builder = new ProxyStateBuilder({ families: ['IPv4'], nodeName, hostAddresses: [nodeIP], nodePortAddresses: [], localhostNodePorts: true, log });
  const state = builder.build(cache, changes.services).get('IPv4');
  if (!state) throw new Error('the state builder produced no IPv4 state');
  return state;
}

function measure(runs: number, fn: () => { keep: unknown; size: string }): PureFigures {
  fn(); // warm-up: the JIT, and first-time allocation of caches
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  const before = memoryNow();
  const out = fn();
  const after = memoryNow();
  void out.keep;
  return { renderMs: Math.min(...times), runsMs: times, heapBytes: Math.max(0, after.heapUsed - before.heapUsed), rssBytes: after.rss, outputSize: out.size };
}

export function measureModel(cluster: SyntheticCluster, nodeName: string, nodeIP: string, runs: number): PureFigures {
  return measure(runs, () => {
    const st = buildState(cluster, nodeName, nodeIP);
    return { keep: st, size: `${st.services.size} service ports` };
  });
}

export function measurePure(mode: 'iptables' | 'ipvs' | 'userspace', state: ProxyState, runs: number): PureFigures {
  switch (mode) {
    case 'iptables':
      return measure(runs, () => {
        const text = renderRestoreInput(state, { family: 'IPv4', masqueradeAll: false, masqueradeBit: 14, localTraffic: LOCAL_TRAFFIC, randomFully: true });
        return { keep: text, size: `${countLines(text)} restore lines` };
      });
    case 'ipvs':
      return measure(runs, () => {
        const plan = planIpvs(state, { scheduler: 'rr', nodePortIPs: state.node.ips, nodeAddresses: new Set(state.node.ips) });
        const rules = renderIpvsRules(plan, { masqueradeAll: false, masqueradeBit: 14, localTraffic: LOCAL_TRAFFIC, randomFully: true });
        return { keep: [plan, rules], size: `${plan.virtualServers.size} virtual servers, ${countLines(rules)} rule lines` };
      });
    case 'userspace':
      return measure(runs, () => {
        const plan = planListeners(state);
        // Bound ports as the listener table would hand them out (from the kernel's ephemeral range).
        const ports = new Map(plan.listeners.map((l, i) => [l.id, 20_000 + (i % 40_000)]));
        const rules = renderPortalRules(plan.targets, ports, { family: 'IPv4', bindHost: '0.0.0.0', hostIP: state.node.ips[0] ?? '', nodePortAddresses: state.nodePortAddresses });
        return { keep: [plan, rules], size: `${plan.listeners.length} listeners, ${countLines(rules)} rule lines` };
      });
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** The iptables mode's options as kpx would resolve them from the default configuration with CLUSTER_CIDR. */
export function iptablesBackendOptions(): BackendOptions<IptablesSettings> {
  const config = defaultConfig();
  config.clusterCIDRs = [CLUSTER_CIDR];
  return { family: 'IPv4', log, registry: new Registry(), host: hostFacts(networkInterfaces), settings: modeSettings(config, 'iptables', 'IPv4') };
}
