/**
 * describe-state.ts: a readable text rendering of a ProxyState, for `kpx --dry-run` and for logs at high
 * verbosity. Pure; sorted by service port key so the output is stable and diffable.
 */
import type { Endpoint, ProxyState, ServicePort } from '../model/types.js';
import { joinHostPort } from '../util/ip.js';

/** "10.0.1.2:8080 (ready, local, zone z1)": the endpoint and its conditions. */
export function describeEndpoint(ep: Endpoint): string {
  const flags: string[] = [];
  if (ep.ready) flags.push('ready');
  else if (ep.serving) flags.push('serving');
  else flags.push('not-ready');
  if (ep.terminating) flags.push('terminating');
  if (ep.isLocal) flags.push('local');
  if (ep.nodeName) flags.push(`node ${ep.nodeName}`);
  if (ep.zone) flags.push(`zone ${ep.zone}`);
  if (ep.zoneHints && ep.zoneHints.size > 0) flags.push(`hints zones=${[...ep.zoneHints].sort().join('+')}`);
  if (ep.nodeHints && ep.nodeHints.size > 0) flags.push(`hints nodes=${[...ep.nodeHints].sort().join('+')}`);
  return `${ep.key} (${flags.join(', ')})`;
}

function list(eps: readonly Endpoint[]): string {
  return eps.length === 0 ? '(none)' : eps.map((e) => e.key).join(', ');
}

export function describeServicePort(sp: ServicePort): string[] {
  const lines: string[] = [];
  lines.push(`  ${sp.key}  ${joinHostPort(sp.clusterIP, sp.port)}/${sp.protocol}`);
  if (sp.endpoints.length === 0) lines.push('    endpoints: none (traffic is rejected)');
  else {
    lines.push('    endpoints:');
    for (const ep of sp.endpoints) lines.push(`      ${describeEndpoint(ep)}`);
  }
  if (sp.usesClusterEndpoints) lines.push(`    cluster endpoints: ${list(sp.clusterEndpoints)}`);
  if (sp.usesLocalEndpoints) lines.push(`    local endpoints: ${list(sp.localEndpoints)}`);
  if (sp.endpoints.length > 0 && !sp.hasAnyEndpoints) lines.push('    no usable endpoint (none ready or serving): traffic is rejected');
  if (sp.nodePort > 0) lines.push(`    node port: ${sp.nodePort}/${sp.protocol}`);
  if (sp.externalIPs.length > 0) lines.push(`    external IPs: ${sp.externalIPs.map((ip) => joinHostPort(ip, sp.port)).join(', ')}`);
  if (sp.loadBalancerIPs.length > 0) lines.push(`    load-balancer IPs: ${sp.loadBalancerIPs.map((ip) => joinHostPort(ip, sp.port)).join(', ')}`);
  if (sp.loadBalancerSourceRanges.length > 0) lines.push(`    load-balancer source ranges: ${sp.loadBalancerSourceRanges.join(', ')}`);
  const policies = [
    `externalTrafficPolicy=${sp.externalPolicyLocal ? 'Local' : 'Cluster'}`,
    `internalTrafficPolicy=${sp.internalPolicyLocal ? 'Local' : 'Cluster'}`,
    sp.affinityTimeoutSeconds > 0 ? `sessionAffinity=ClientIP (${sp.affinityTimeoutSeconds}s)` : 'sessionAffinity=None',
  ];
  if (sp.healthCheckNodePort > 0) policies.push(`healthCheckNodePort=${sp.healthCheckNodePort} (${sp.readyLocalEndpointCount} ready local)`);
  lines.push(`    policies: ${policies.join(', ')}`);
  return lines;
}

/** describeProxyState renders one family's state: the node, where node ports listen, every service port. */
export function describeProxyState(state: ProxyState): string {
  const n = state.node;
  const npa = state.nodePortAddresses;
  const lines: string[] = [];
  lines.push(`${state.family} state for node ${n.name}${n.zone ? ` (zone ${n.zone})` : ''}${n.eligible ? '' : ' [not eligible: deleting or tainted]'}`);
  lines.push(`  node IPs: ${n.ips.length > 0 ? n.ips.join(', ') : '(none)'}${n.podCIDRs.length > 0 ? `; pod CIDRs: ${n.podCIDRs.join(', ')}` : ''}`);
  const where = npa.all ? 'all local addresses' : npa.ips.length > 0 ? npa.ips.join(', ') : '(no address)';
  lines.push(`  node ports on: ${where}${npa.localhost ? ' and localhost' : ''}`);
  const ports = [...state.services.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.protocol.localeCompare(b.protocol)));
  lines.push(`  service ports: ${ports.length}`);
  for (const sp of ports) lines.push(...describeServicePort(sp));
  return lines.join('\n') + '\n';
}
