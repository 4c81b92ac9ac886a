/**
 * model-state.ts (test support): builds a ProxyState from generated objects (collecting warnings) and checks every
 * value in it that a mode writes into a ruleset.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { buildProxyState } from '../../src/model/index.js';
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../src/model/api.js';
import type { IPFamily, ProxyState } from '../../src/model/types.js';
import { HOST_ADDRESSES, NODE_NAME } from './model-generators.js';

export function build(services: readonly ApiService[], slices: readonly ApiEndpointSlice[], node: ApiNode | undefined, family: IPFamily,
  warnings: string[] = []): ProxyState {
  return buildProxyState({
    family, nodeName: NODE_NAME, node, services, endpointSlices: slices,
    hostAddresses: HOST_ADDRESSES, nodePortAddresses: [], localhostNodePorts: true,
    warn: (msg, fields) => {
      // Like the real logger: every field must serialise.
      JSON.stringify(fields ?? {});
      warnings.push(msg);
    },
  });
}

const canonicalV4 = (s: string) => isIPv4(s) && s.split('.').every((o) => o === '0' || !o.startsWith('0'));
const ipOf = (family: IPFamily, s: string) => (family === 'IPv4' ? canonicalV4(s) : isIPv6(s));

function cidrOk(family: IPFamily, c: string): boolean {
  const [addr, bits, extra] = c.split('/');
  if (extra !== undefined || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  return family === 'IPv4' ? isIPv4(addr) && n <= 32 : isIPv6(addr) && n <= 128;
}

/** Every value a mode writes into a ruleset, checked. Returns the problems found. */
export function stateProblems(state: ProxyState): string[] {
  const out: string[] = [];
  const f = state.family;
  const seen = new Map<string, string>();
  for (const [key, sp] of state.services) {
    const where = `${key}`;
    if (!ipOf(f, sp.clusterIP)) out.push(`${where}: cluster IP ${JSON.stringify(sp.clusterIP)}`);
    if (!Number.isInteger(sp.port) || sp.port < 1 || sp.port > 65535) out.push(`${where}: port ${sp.port}`);
    if (!Number.isInteger(sp.nodePort) || sp.nodePort < 0 || sp.nodePort > 65535) out.push(`${where}: nodePort ${sp.nodePort}`);
    if (!['TCP', 'UDP', 'SCTP'].includes(sp.protocol)) out.push(`${where}: protocol ${sp.protocol}`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(sp.namespace) || sp.namespace.length > 63) out.push(`${where}: namespace ${JSON.stringify(sp.namespace)}`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(sp.name) || sp.name.length > 63) out.push(`${where}: name ${JSON.stringify(sp.name).slice(0, 80)}`);
    if (/[\s"'`$;\\]/.test(sp.portName)) out.push(`${where}: port name ${JSON.stringify(sp.portName)}`);
    for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) if (!ipOf(f, ip)) out.push(`${where}: service IP ${JSON.stringify(ip)}`);
    for (const c of sp.loadBalancerSourceRanges) if (!cidrOk(f, c)) out.push(`${where}: source range ${JSON.stringify(c)}`);
    for (const e of sp.endpoints) {
      if (!ipOf(f, e.ip)) out.push(`${where}: endpoint IP ${JSON.stringify(e.ip)}`);
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) out.push(`${where}: endpoint port ${e.port}`);
    }
    const pp = `${sp.serviceKey} ${sp.clusterIP} ${sp.port}/${sp.protocol}`;
    if (seen.has(pp)) out.push(`${where}: duplicate ${pp} (also ${seen.get(pp)})`);
    seen.set(pp, key);
  }
  return out;
}

