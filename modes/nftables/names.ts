/**
 * names.ts: kube-proxy's nftables names, so `nft list table ip kube-proxy` reads the same under kpx: the
 * table, its base chains (type-hook, with upstream's priorities), its top-level chains, sets and maps, and
 * the per-service and per-endpoint chain and affinity-set names, whose hash is the first 8 characters of
 * base32(sha256("ns/name/proto/portName")) (endpoints: "...__ip/port", an IPv6 address's colons as dots).
 */
import type { Endpoint, ServicePort } from '../../src/model/types.js';
import type { NftChainObject, NftFamily } from '../../src/net/nft-transaction.js';
import { sha256Base32Prefix } from '../../src/util/chain-hash.js';

export const TABLE = 'kube-proxy';
export const TABLE_COMMENT = 'rules for kube-proxy';

// Top-level regular chains.
export const SERVICES = 'services';
export const MARK_MASQ = 'mark-for-masquerade';
export const MASQUERADING = 'masquerading';
export const SERVICE_ENDPOINTS_CHECK = 'service-endpoints-check';
export const NODEPORT_ENDPOINTS_CHECK = 'nodeport-endpoints-check';
export const FIREWALL_CHECK = 'firewall-check';
export const CLUSTER_IPS_CHECK = 'cluster-ips-check';
export const REJECT_CHAIN = 'reject-chain';

// Sets and verdict maps.
export const CLUSTER_IPS = 'cluster-ips';
export const NODEPORT_IPS = 'nodeport-ips';
export const SERVICE_IPS = 'service-ips';
export const SERVICE_NODEPORTS = 'service-nodeports';
export const FIREWALL_IPS = 'firewall-ips';
export const NO_ENDPOINT_SERVICES = 'no-endpoint-services';
export const NO_ENDPOINT_NODEPORTS = 'no-endpoint-nodeports';

/** knftables' DNATPriority (-100) and SNATPriority (100); filter chains run 10 before DNAT. */
const DNAT = -100;
const SNAT = 100;

export type BaseChain = Required<Pick<NftChainObject, 'name' | 'type' | 'hook' | 'priority'>> & { readonly kind: 'chain' };

const base = (name: string, type: BaseChain['type'], hook: BaseChain['hook'], priority: number): BaseChain =>
  Object.freeze({ kind: 'chain', name, type, hook, priority });

export const BASE_CHAINS: readonly BaseChain[] = Object.freeze([
  base('filter-prerouting', 'filter', 'prerouting', DNAT - 10),
  base('filter-input', 'filter', 'input', DNAT - 10),
  base('filter-forward', 'filter', 'forward', DNAT - 10),
  base('filter-output', 'filter', 'output', DNAT - 10),
  base('filter-output-post-dnat', 'filter', 'output', DNAT + 10),
  base('nat-prerouting', 'nat', 'prerouting', DNAT),
  base('nat-output', 'nat', 'output', DNAT),
  base('nat-postrouting', 'nat', 'postrouting', SNAT),
]);

export function nftFamily(family: 'IPv4' | 'IPv6'): Extract<NftFamily, 'ip' | 'ip6'> {
  return family === 'IPv6' ? 'ip6' : 'ip';
}

/** nft's name limit (256 with the terminator) less the longest prefix, as kube-proxy reserves it. */
const NAME_BASE_MAX = 256 - 16;

function hashAndTruncate(name: string): string {
  const full = `${sha256Base32Prefix(name, 8)}-${name}`;
  return full.length > NAME_BASE_MAX ? full.slice(0, NAME_BASE_MAX - 3) + '...' : full;
}

function portPath(sp: ServicePort): string {
  return `${sp.namespace}/${sp.name}/${sp.protocol.toLowerCase()}/${sp.portName}`;
}

/** The chain and set names of one service port and its endpoints; memoised per service port. */
export interface ServiceNames {
  readonly cluster: string;
  readonly local: string;
  readonly external: string;
  readonly firewall: string;
  endpoint(ep: Endpoint): string;
  affinity(ep: Endpoint): string;
}

const namesByPort = new WeakMap<ServicePort, ServiceNames>();

export function serviceNames(sp: ServicePort): ServiceNames {
  let names = namesByPort.get(sp);
  if (!names) namesByPort.set(sp, (names = computeNames(sp)));
  return names;
}

function computeNames(sp: ServicePort): ServiceNames {
  const b = hashAndTruncate(portPath(sp));
  const bases = new Map<string, string>();
  const epBase = (ep: Endpoint) => {
    let e = bases.get(ep.key);
    if (e === undefined) bases.set(ep.key, (e = hashAndTruncate(`${portPath(sp)}__${ep.ip.replaceAll(':', '.')}/${ep.port}`)));
    return e;
  };
  return {
    cluster: `service-${b}`, local: `local-${b}`, external: `external-${b}`, firewall: `firewall-${b}`,
    endpoint: (ep) => `endpoint-${epBase(ep)}`,
    affinity: (ep) => `affinity-${epBase(ep)}`,
  };
}

/** Per-service and per-endpoint chains have a "/" in their name; kube-proxy's fixed chains never do. */
export function isServiceChainName(name: string): boolean {
  return name.includes('/');
}

export function isAffinitySetName(name: string): boolean {
  return name.startsWith('affinity-');
}
