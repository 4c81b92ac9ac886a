/**
 * render-fixtures.ts: builds ServicePort / ProxyState values for iptables render tests the way the model
 * resolves them (kube-proxy's CategorizeEndpoints: ready endpoints, else serving-terminating ones; local
 * endpoints for Local policies), with kube-proxy's test addresses (REFERENCE.md §4.1).
 */
import type { Endpoint, IPFamily, ProxyState, ServicePort } from '../../../src/model/types.js';
import { portProtoHash } from '../../../modes/iptables/chain-names.js';
import type { RenderOptions } from '../../../modes/iptables/render.js';

export const NODE_IP = '192.168.0.2';

export interface EpSpec { ip: string; port?: number; local?: boolean; ready?: boolean; serving?: boolean; terminating?: boolean }

export interface SvcSpec {
  ns: string; name: string; portName?: string; protocol?: 'TCP' | 'UDP' | 'SCTP'; clusterIP: string; port?: number;
  nodePort?: number; externalIPs?: string[]; lbIPs?: string[]; sourceRanges?: string[]; affinity?: number;
  eTPLocal?: boolean; iTPLocal?: boolean; hcNodePort?: number; endpoints?: EpSpec[]; family?: IPFamily;
}

function usable(eps: Endpoint[]): Endpoint[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
}

export function svcPort(s: SvcSpec): ServicePort {
  const portName = s.portName ?? 'p80';
  const protocol = s.protocol ?? 'TCP';
  const key = `${s.ns}/${s.name}${portName ? ':' + portName : ''}`;
  const endpoints: Endpoint[] = (s.endpoints ?? []).map((e) => {
    const port = e.port ?? 80;
    const ready = e.ready ?? true;
    return {
      key: e.ip.includes(':') ? `[${e.ip}]:${port}` : `${e.ip}:${port}`, ip: e.ip, port, ready,
      serving: e.serving ?? ready, terminating: e.terminating ?? false, isLocal: e.local ?? false,
    };
  });
  const externallyAccessible = (s.nodePort ?? 0) !== 0 || (s.externalIPs ?? []).length > 0 || (s.lbIPs ?? []).length > 0;
  const externalPolicyLocal = (s.eTPLocal ?? false) && externallyAccessible;
  const internalPolicyLocal = s.iTPLocal ?? false;
  const usesClusterEndpoints = !internalPolicyLocal || externallyAccessible;
  const usesLocalEndpoints = internalPolicyLocal || externalPolicyLocal;
  const clusterEndpoints = usesClusterEndpoints ? usable(endpoints) : [];
  const localEndpoints = usesLocalEndpoints ? usable(endpoints.filter((e) => e.isLocal)) : [];
  const all = [...clusterEndpoints];
  for (const e of localEndpoints) if (!all.includes(e)) all.push(e);
  return {
    key, serviceKey: `${s.ns}/${s.name}`, namespace: s.ns, name: s.name, portName, protocol,
    hash: portProtoHash(key, protocol), family: s.family ?? 'IPv4', clusterIP: s.clusterIP, port: s.port ?? 80,
    nodePort: s.nodePort ?? 0, externalIPs: s.externalIPs ?? [], loadBalancerIPs: s.lbIPs ?? [],
    loadBalancerSourceRanges: s.sourceRanges ?? [], affinityTimeoutSeconds: s.affinity ?? 0,
    externalPolicyLocal, internalPolicyLocal, healthCheckNodePort: externalPolicyLocal ? (s.hcNodePort ?? 0) : 0,
    externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, endpoints, clusterEndpoints, localEndpoints,
    allReachableEndpoints: all, hasAnyEndpoints: clusterEndpoints.length > 0 || localEndpoints.length > 0,
    readyLocalEndpointCount: endpoints.filter((e) => e.isLocal && e.ready).length,
  };
}

export function proxyState(ports: ServicePort[], opts: { family?: IPFamily; nodeIPs?: string[]; all?: boolean; npIPs?: string[]; localhost?: boolean } = {}): ProxyState {
  const family = opts.family ?? 'IPv4';
  return {
    family,
    node: { name: 'test-node', labels: {}, zone: '', ips: opts.nodeIPs ?? [NODE_IP], podCIDRs: [], eligible: true },
    nodePortAddresses: { all: opts.all ?? true, ips: opts.npIPs ?? [], localhost: opts.localhost ?? family === 'IPv4' },
    services: new Map(ports.map((p) => [p.key, p])),
  };
}

/** kube-proxy's NewFakeProxier settings: mark 0x4000, cluster CIDR 10.0.0.0/8, --random-fully off. */
export const FAKE_PROXIER_OPTS: RenderOptions = {
  family: 'IPv4', masqueradeAll: false, masqueradeBit: 14, clusterCIDR: '10.0.0.0/8', randomFully: false,
};

/** The six services of kube-proxy's TestOverallIPTablesRules. */
export function overallServices(): ServicePort[] {
  return [
    svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: '10.180.0.1' }] }),
    svcPort({ ns: 'ns2', name: 'svc2', clusterIP: '172.30.0.42', nodePort: 3001, lbIPs: ['1.2.3.4'], externalIPs: ['192.168.99.22'],
      eTPLocal: true, hcNodePort: 30000, endpoints: [{ ip: '10.180.0.2' }] }),
    svcPort({ ns: 'ns3', name: 'svc3', clusterIP: '172.30.0.43', nodePort: 3003, endpoints: [{ ip: '10.180.0.3' }] }),
    svcPort({ ns: 'ns4', name: 'svc4', clusterIP: '172.30.0.44', externalIPs: ['192.168.99.33'],
      endpoints: [{ ip: '10.180.0.4' }, { ip: '10.180.0.5', local: true }] }),
    svcPort({ ns: 'ns5', name: 'svc5', clusterIP: '172.30.0.45', nodePort: 3002, lbIPs: ['5.6.7.8'], hcNodePort: 30000,
      sourceRanges: ['203.0.113.0/25'], affinity: 10800, endpoints: [{ ip: '10.180.0.3' }] }),
    svcPort({ ns: 'ns6', name: 'svc6', clusterIP: '172.30.0.46' }),
  ];
}

/**
 * Sorts restore input like kube-proxy's sortIPTablesRules: per table, chain declarations sorted, rules
 * grouped by chain (chains sorted, order within a chain kept), -X lines last.
 */
export function sortRestoreInput(text: string): string {
  const out: string[] = [];
  let decls: string[] = [];
  let rules = new Map<string, string[]>();
  let deletes: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('*')) { out.push(line); decls = []; rules = new Map(); deletes = []; }
    else if (line.startsWith(':')) decls.push(line);
    else if (line.startsWith('-X')) deletes.push(line);
    else if (line.startsWith('-A')) {
      const chain = line.split(' ')[1];
      if (!rules.has(chain)) rules.set(chain, []);
      rules.get(chain)!.push(line);
    } else if (line === 'COMMIT') {
      out.push(...decls.sort());
      for (const c of [...rules.keys()].sort()) out.push(...rules.get(c)!);
      out.push(...deletes.sort(), 'COMMIT');
    }
  }
  return out.join('\n') + '\n';
}

const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'MARK', 'MASQUERADE', 'DNAT', 'SNAT']);

/**
 * Jump consistency (kube-proxy's checkIPTablesRuleJumps): every -j target is declared in its table, and
 * every declared per-service chain is jumped to.
 */
export function jumpProblems(text: string): string[] {
  const problems: string[] = [];
  let table = '';
  const declared = new Map<string, Set<string>>();
  const jumped = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) { table = line.slice(1); declared.set(table, new Set()); jumped.set(table, new Set()); }
    else if (line.startsWith(':')) declared.get(table)!.add(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A')) {
      const m = / -j (\S+)/.exec(line);
      if (m && !BUILTIN_TARGETS.has(m[1])) jumped.get(table)!.add(m[1]);
    }
  }
  for (const [t, js] of jumped) for (const j of js) if (!declared.get(t)!.has(j)) problems.push(`${t}: jump to undeclared ${j}`);
  for (const [t, ds] of declared) for (const d of ds) {
    if (/^KUBE-(SVC|SVL|EXT|FW|SEP)-/.test(d) && !jumped.get(t)!.has(d)) problems.push(`${t}: ${d} declared but never jumped to`);
  }
  return problems;
}
