/**
 * demo.ts: what `kpx sandbox` shows. Two nodes, four pods and an external client; a ClusterIP (TCP and
 * UDP), a NodePort, a LoadBalancer with a source range and a externalTrafficPolicy=Local LoadBalancer
 * with its health-check node port. Each check says who must answer and which client address the pod
 * must see, so the run proves the proxy rather than just exercising it.
 */
import type { ProxyMode } from '../backend.js';
import type { Sandbox } from './builder.js';
import { endpointFor, type ManifestDir, type ServiceSpec } from './manifests.js';
import { CLIENT_IPS, type PodSpec } from './plan.js';
import { isAnswer, requestMany, type Proto } from './traffic.js';

export const DEMO_PODS: readonly PodSpec[] = [
  { name: 'pod1', node: 1 },
  { name: 'pod2', node: 1 },
  { name: 'pod3', node: 2 },
  { name: 'pod4', node: 2 },
];

export const DEMO_SERVICES = {
  web: { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] },
  dns: { name: 'dns', clusterIP: '10.96.0.53', ports: [{ port: 53, targetPort: 8080, protocol: 'UDP' }] },
  nodeport: { name: 'web-nodeport', type: 'NodePort', clusterIP: '10.96.0.11', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] },
  lb: {
    name: 'web-lb', type: 'LoadBalancer', clusterIP: '10.96.0.12', ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }],
    loadBalancerIPs: ['192.168.100.10'], loadBalancerSourceRanges: [`${CLIENT_IPS[0]}/32`],
  },
  local: {
    name: 'web-local', type: 'LoadBalancer', clusterIP: '10.96.0.13', ports: [{ port: 80, targetPort: 8080, nodePort: 30082 }],
    loadBalancerIPs: ['192.168.100.11'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32082,
  },
} satisfies Record<string, ServiceSpec>;

/** Writes the demo's Services and EndpointSlices. */
export function writeDemoServices(dir: ManifestDir, sb: Sandbox): void {
  const ep = (name: string) => endpointFor(sb.pod(name));
  const s = DEMO_SERVICES;
  dir.writeService(s.web, [ep('pod1'), ep('pod2'), ep('pod3')]);
  dir.writeService(s.dns, [ep('pod1'), ep('pod3')]);
  dir.writeService(s.nodeport, [ep('pod1'), ep('pod3')]);
  dir.writeService(s.lb, [ep('pod2'), ep('pod4')]);
  dir.writeService(s.local, [ep('pod2')]);
}

export interface DemoCheck {
  readonly service: string;
  /** Where the traffic comes from: a pod, a node or "client". */
  readonly from: string;
  readonly localAddress?: string;
  readonly addr: string;
  readonly port: number;
  readonly proto: Proto;
  readonly count: number;
  readonly path?: string;
  readonly timeoutMs?: number;
  /** Pods that must all answer (and nobody else); empty = no answer expected. */
  readonly expectPods: readonly string[];
  /** When no answer is expected: how it fails. */
  readonly expectError?: 'timeout' | 'refused' | 'closed';
  /** Client addresses the pods may see; undefined = not checked. */
  readonly expectSources?: readonly string[];
  /** HTTP status expected (health checks, answered by kpx itself, not by a pod). */
  readonly expectStatus?: number;
  readonly note: string;
}

/** The checks for a mode. The userspace mode proxies through the node, so pods see the node there. */
export function demoChecks(sb: Sandbox, mode: ProxyMode): DemoCheck[] {
  const n1 = sb.node('node1');
  const n2 = sb.node('node2');
  const node1Addrs = [n1.nodeIP, n1.bridgeIP];
  const kernel = mode !== 'userspace';
  const src = (addrs: readonly string[]) => (kernel ? addrs : undefined);
  const s = DEMO_SERVICES;
  const checks: DemoCheck[] = [
    { service: 'web (ClusterIP)', from: 'pod4', addr: s.web.clusterIP, port: 80, proto: 'tcp', count: 30, expectPods: ['pod1', 'pod2', 'pod3'], expectSources: src([sb.pod('pod4').ip]), note: 'pod → ClusterIP, client address kept' },
    { service: 'web (ClusterIP)', from: 'node1', addr: s.web.clusterIP, port: 80, proto: 'tcp', count: 30, expectPods: ['pod1', 'pod2', 'pod3'], expectSources: src(node1Addrs), note: 'node → ClusterIP, masqueraded' },
    { service: 'dns (ClusterIP/UDP)', from: 'pod2', addr: s.dns.clusterIP, port: 53, proto: 'udp', count: 20, expectPods: ['pod1', 'pod3'], expectSources: src([sb.pod('pod2').ip]), note: 'UDP' },
    { service: 'web-nodeport (NodePort)', from: 'client', addr: n1.nodeIP, port: 30080, proto: 'tcp', count: 20, expectPods: ['pod1', 'pod3'], expectSources: src(node1Addrs), note: 'external → NodePort, masqueraded' },
    { service: 'web-lb (LoadBalancer)', from: 'client', localAddress: CLIENT_IPS[0], addr: '192.168.100.10', port: 80, proto: 'tcp', count: 20, expectPods: ['pod2', 'pod4'], expectSources: src(node1Addrs), note: 'inside loadBalancerSourceRanges' },
    { service: 'web-lb (LoadBalancer)', from: 'client', localAddress: CLIENT_IPS[1], addr: '192.168.100.10', port: 80, proto: 'tcp', count: 2, timeoutMs: 1000, expectPods: [], expectError: 'timeout', note: 'outside the source ranges: dropped' },
    { service: 'web-local (eTP=Local)', from: 'client', addr: n1.nodeIP, port: 30082, proto: 'tcp', count: 10, expectPods: ['pod2'], expectSources: src([CLIENT_IPS[0]]), note: 'local pod only, real client address' },
    { service: 'web-local (eTP=Local)', from: 'client', addr: n2.nodeIP, port: 30082, proto: 'tcp', count: 2, timeoutMs: 1000, expectPods: [], expectError: 'timeout', note: 'node2 has no local pod: dropped' },
    { service: 'web-local health check', from: 'client', addr: n1.nodeIP, port: 32082, proto: 'tcp', count: 1, path: '/', expectPods: [], expectStatus: 200, note: 'node1 has a local endpoint' },
    { service: 'web-local health check', from: 'client', addr: n2.nodeIP, port: 32082, proto: 'tcp', count: 1, path: '/', expectPods: [], expectStatus: 503, note: 'node2 has none' },
  ];
  if (kernel) return checks;
  // The userspace mode carries traffic itself: with no local endpoint it closes the connection at once
  // (there is no DROP rule), and like the legacy mode it does not filter loadBalancerSourceRanges.
  return checks
    .filter((c) => !(c.expectError === 'timeout' && c.localAddress === CLIENT_IPS[1]))
    .map((c) => (c.expectError === 'timeout'
      ? { ...c, expectError: 'closed' as const, note: 'node2 has no local pod: closed at once' }
      : { ...c, note: c.note.replace(/,? *(client address kept|masqueraded|real client address)$/, '') }));
}

/** Lines printed under the table for a mode: what its checks leave out, and why. */
export function demoNotes(mode: ProxyMode): string[] {
  return mode === 'userspace'
    ? ['userspace mode: pods see the node as the client, and loadBalancerSourceRanges is not enforced (as in the legacy mode), so those are not checked']
    : [];
}

export interface DemoRow {
  readonly check: DemoCheck;
  readonly ok: boolean;
  readonly expected: string;
  readonly got: string;
  readonly sources: string;
}

function sortedJoin(xs: Iterable<string>): string {
  return [...xs].sort().join(',') || '-';
}

/** Sends one check's traffic and judges it. */
export async function runCheck(sb: Sandbox, check: DemoCheck): Promise<DemoRow> {
  const d = await requestMany(sb.ns(check.from), check.addr, check.port, check.proto, check.count, {
    ...(check.localAddress ? { localAddress: check.localAddress } : {}),
    ...(check.path ? { path: check.path } : {}),
    ...(check.timeoutMs ? { timeoutMs: check.timeoutMs } : {}),
  });
  const errors = [...d.errors.entries()].map(([e, n]) => `${e}×${n}`);
  if (check.expectStatus !== undefined) {
    const statuses = d.results.map((r) => (isAnswer(r) ? String(r.status) : r.error));
    const ok = statuses.every((s) => s === String(check.expectStatus));
    return { check, ok, expected: `HTTP ${check.expectStatus}`, got: statuses.map((s) => (/^\d+$/.test(s) ? `HTTP ${s}` : s)).join(','), sources: '-' };
  }
  if (check.expectPods.length === 0) {
    const ok = d.byPod.size === 0 && d.errors.size === 1 && d.errors.has(check.expectError ?? 'timeout');
    return { check, ok, expected: `no answer (${check.expectError ?? 'timeout'})`, got: d.byPod.size ? sortedJoin(d.pods) : errors.join(','), sources: sortedJoin(d.clientAddrs) };
  }
  const podsOk = sortedJoin(d.pods) === sortedJoin(check.expectPods) && d.errors.size === 0;
  const srcOk = !check.expectSources || [...d.clientAddrs].every((a) => check.expectSources!.includes(a));
  const got = sortedJoin(d.pods) + (errors.length ? ` (+${errors.join(',')})` : '');
  return { check, ok: podsOk && srcOk, expected: `${sortedJoin(check.expectPods)}${check.expectSources ? ` from ${sortedJoin(check.expectSources)}` : ''}`, got, sources: sortedJoin(d.clientAddrs) };
}

/** The result table, one line per check. */
export function formatTable(rows: readonly DemoRow[]): string {
  const head = ['SERVICE', 'FROM', 'TO', 'EXPECTED', 'GOT', 'SOURCE SEEN', 'OK', 'WHAT'];
  const lines = rows.map((r) => [
    r.check.service,
    r.check.from + (r.check.localAddress ? ` (${r.check.localAddress})` : ''),
    `${r.check.addr}:${r.check.port}/${r.check.proto}`,
    r.expected,
    r.got,
    r.sources,
    r.ok ? 'ok' : 'FAIL',
    r.check.note,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: readonly string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...lines.map(fmt)].join('\n');
}
