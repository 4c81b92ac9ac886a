/**
 * portal-rules.ts: pure; the userspace mode's iptables rules ("portals") as iptables-restore input, in
 * the legacy proxy's chains:
 *
 *   nat PREROUTING → KUBE-PORTALS-CONTAINER   traffic crossing the node (pods, outside) to ClusterIPs,
 *                                             externalIPs and LB IPs: REDIRECT to the listener's port
 *   nat OUTPUT     → KUBE-PORTALS-HOST        the node's own traffic to the same: DNAT to nodeIP:port
 *                                             (REDIRECT of locally generated packets sends them to
 *                                             127.0.0.1, and replies then leave from the wrong address)
 *   nat PREROUTING → KUBE-NODEPORT-CONTAINER  node ports (jump limited to --dst-type LOCAL, and last)
 *   nat OUTPUT     → KUBE-NODEPORT-HOST
 *   filter INPUT   → KUBE-NODEPORT-NON-LOCAL  ACCEPT new connections to listeners that outside traffic
 *                                             reaches, for hosts whose INPUT policy is deny
 *
 * Only these chains are written (with --noflush, declaring a chain flushes just that chain); the jumps
 * from the built-in chains are added only when missing, so a resync never reorders other software's rules.
 * With --bind-address set to one address, the listeners exist only there, so every rule DNATs to it.
 */
import type { IPFamily, NodePortAddresses } from '../../src/model/types.js';
import { joinHostPort } from '../../src/util/ip.js';
import type { PortalTargets } from './listener-plan.js';

export const CONTAINER_PORTAL_CHAIN = 'KUBE-PORTALS-CONTAINER';
export const HOST_PORTAL_CHAIN = 'KUBE-PORTALS-HOST';
export const CONTAINER_NODEPORT_CHAIN = 'KUBE-NODEPORT-CONTAINER';
export const HOST_NODEPORT_CHAIN = 'KUBE-NODEPORT-HOST';
export const NON_LOCAL_NODEPORT_CHAIN = 'KUBE-NODEPORT-NON-LOCAL';

export const NAT_CHAINS = [CONTAINER_PORTAL_CHAIN, HOST_PORTAL_CHAIN, CONTAINER_NODEPORT_CHAIN, HOST_NODEPORT_CHAIN] as const;
export const FILTER_CHAINS = [NON_LOCAL_NODEPORT_CHAIN] as const;

export type Table = 'nat' | 'filter';

/** A jump from a built-in chain into one of ours. */
export interface JumpRule {
  readonly table: Table;
  readonly chain: 'PREROUTING' | 'OUTPUT' | 'INPUT';
  /** first: portals must see traffic before anything else; last: node ports match broadly, so after all. */
  readonly position: 'first' | 'last';
  /** The rule as iptables-save prints it, without "-A CHAIN". */
  readonly spec: string;
  readonly target: string;
}

const PORTALS_COMMENT = '"handle ClusterIPs; NOTE: this must be before the NodePort rules"';
const NODEPORTS_COMMENT = '"handle service NodePorts; NOTE: this must be the last rule in the chain"';
const NON_LOCAL_COMMENT = '"Ensure that non-local NodePort traffic can flow"';

export const JUMPS: readonly JumpRule[] = [
  { table: 'nat', chain: 'PREROUTING', position: 'first', spec: `-m comment --comment ${PORTALS_COMMENT} -j ${CONTAINER_PORTAL_CHAIN}`, target: CONTAINER_PORTAL_CHAIN },
  { table: 'nat', chain: 'OUTPUT', position: 'first', spec: `-m comment --comment ${PORTALS_COMMENT} -j ${HOST_PORTAL_CHAIN}`, target: HOST_PORTAL_CHAIN },
  { table: 'nat', chain: 'PREROUTING', position: 'last', spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${CONTAINER_NODEPORT_CHAIN}`, target: CONTAINER_NODEPORT_CHAIN },
  { table: 'nat', chain: 'OUTPUT', position: 'last', spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${HOST_NODEPORT_CHAIN}`, target: HOST_NODEPORT_CHAIN },
  { table: 'filter', chain: 'INPUT', position: 'first', spec: `-m comment --comment ${NON_LOCAL_COMMENT} -j ${NON_LOCAL_NODEPORT_CHAIN}`, target: NON_LOCAL_NODEPORT_CHAIN },
];

export interface PortalRuleOptions {
  readonly family: IPFamily;
  /** The address listeners are bound to ("0.0.0.0"/"::" = every address). */
  readonly bindHost: string;
  /** The node address the host-path DNAT goes to when listeners are bound to every address; "" = none known. */
  readonly hostIP: string;
  /** Where node ports are served (the state's nodePortAddresses). */
  readonly nodePortAddresses: NodePortAddresses;
}

/** The current save output of each table, for deciding which jumps are missing ("" = not read). */
export interface SavedTables {
  readonly nat: string;
  readonly filter: string;
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function cidr(ip: string, family: IPFamily): string {
  return `${ip}/${family === 'IPv6' ? 128 : 32}`;
}

function quote(comment: string): string {
  return `"${comment.replace(/"/g, '')}"`;
}

/**
 * renderPortalRules: the full restore input (--noflush) for kpx's userspace chains. `ports` maps listener
 * ids to bound ports; traffic whose listener is not open gets no rule (the sync reports the failure).
 * `missingJumps` (from missingJumpLines) is appended inside the right tables.
 */
export function renderPortalRules(
  targets: readonly PortalTargets[],
  ports: ReadonlyMap<string, number>,
  opts: PortalRuleOptions,
  missingJumps: { readonly nat: readonly string[]; readonly filter: readonly string[] } = { nat: [], filter: [] },
): string {
  const fam = opts.family;
  const redirectAll = isUnspecified(opts.bindHost);
  const hostTarget = redirectAll ? opts.hostIP : opts.bindHost;
  const cp: string[] = [];
  const hp: string[] = [];
  const cn: string[] = [];
  const hn: string[] = [];
  const nl: string[] = [];

  const containerJump = (port: number) => (redirectAll ? `-j REDIRECT --to-ports ${port}` : `-j DNAT --to-destination ${joinHostPort(opts.bindHost, port)}`);
  const hostJump = (port: number) => `-j DNAT --to-destination ${joinHostPort(hostTarget, port)}`;
  const acceptedPorts = new Set<string>();

  for (const t of targets) {
    const sp = t.servicePort;
    const proto = sp.protocol.toLowerCase();
    const match = (dport: number) => `-p ${proto} -m comment --comment ${quote(sp.key)} -m ${proto} --dport ${dport}`;
    const accept = (port: number) => {
      const k = `${proto}/${port}`;
      if (acceptedPorts.has(k)) return;
      acceptedPorts.add(k);
      nl.push(`-A ${NON_LOCAL_NODEPORT_CHAIN} -p ${proto} -m comment --comment ${quote(sp.key)} -m ${proto} --dport ${port} -m conntrack --ctstate NEW -j ACCEPT`);
    };

    const clusterPort = ports.get(t.clusterIP);
    if (clusterPort !== undefined && sp.clusterIP) {
      cp.push(`-A ${CONTAINER_PORTAL_CHAIN} -d ${cidr(sp.clusterIP, fam)} ${match(sp.port)} ${containerJump(clusterPort)}`);
      if (hostTarget) hp.push(`-A ${HOST_PORTAL_CHAIN} -d ${cidr(sp.clusterIP, fam)} ${match(sp.port)} ${hostJump(clusterPort)}`);
    }

    const externalPort = ports.get(t.external);
    const externalIPs = [...sp.externalIPs, ...sp.loadBalancerIPs];
    if (externalPort !== undefined && externalIPs.length > 0) {
      for (const ip of externalIPs) {
        cp.push(`-A ${CONTAINER_PORTAL_CHAIN} -d ${cidr(ip, fam)} ${match(sp.port)} ${containerJump(externalPort)}`);
        if (hostTarget) hp.push(`-A ${HOST_PORTAL_CHAIN} -d ${cidr(ip, fam)} ${match(sp.port)} ${hostJump(externalPort)}`);
      }
      accept(externalPort);
    }

    const nodePortListener = t.nodePort ? ports.get(t.nodePort) : undefined;
    if (nodePortListener !== undefined) {
      const npa = opts.nodePortAddresses;
      const dests = npa.all ? [''] : npa.ips.map((ip) => `-d ${cidr(ip, fam)} `);
      for (const d of dests) {
        cn.push(`-A ${CONTAINER_NODEPORT_CHAIN} ${d}${match(sp.nodePort)} ${containerJump(nodePortListener)}`);
        if (hostTarget) hn.push(`-A ${HOST_NODEPORT_CHAIN} ${d}${match(sp.nodePort)} ${hostJump(nodePortListener)}`);
      }
      if (!npa.all && npa.localhost && fam === 'IPv4' && hostTarget) {
        hn.push(`-A ${HOST_NODEPORT_CHAIN} -d 127.0.0.0/8 ${match(sp.nodePort)} ${hostJump(nodePortListener)}`);
      }
      accept(nodePortListener);
    }
  }

  const out: string[] = ['*nat'];
  for (const c of NAT_CHAINS) out.push(`:${c} - [0:0]`);
  out.push(...cp, ...hp, ...cn, ...hn, ...missingJumps.nat, 'COMMIT', '*filter');
  for (const c of FILTER_CHAINS) out.push(`:${c} - [0:0]`);
  out.push(...nl, ...missingJumps.filter, 'COMMIT');
  return out.join('\n') + '\n';
}

/** Rules of `chain` in a save output that jump to `target`, as printed (without "-A CHAIN "). */
function jumpsIn(save: string, chain: string, target: string): string[] {
  const prefix = `-A ${chain} `;
  const out: string[] = [];
  for (const line of save.split('\n')) {
    const l = line.trimEnd();
    if (l.startsWith(prefix) && (l.endsWith(` -j ${target}`) || l.endsWith(` -g ${target}`))) out.push(l.slice(prefix.length));
  }
  return out;
}

/** missingJumpLines: restore lines adding each jump absent from the saved tables (idempotent). */
export function missingJumpLines(saved: SavedTables): { nat: string[]; filter: string[] } {
  const out = { nat: [] as string[], filter: [] as string[] };
  for (const j of JUMPS) {
    if (jumpsIn(saved[j.table], j.chain, j.target).length > 0) continue;
    out[j.table].push(j.position === 'first' ? `-I ${j.chain} 1 ${j.spec}` : `-A ${j.chain} ${j.spec}`);
  }
  return out;
}

/**
 * renderCleanup: restore input (--noflush) removing kpx's userspace chains and every jump into them
 * (whatever their exact form), for --cleanup and mode switches. Valid whether or not the chains exist.
 */
export function renderCleanup(saved: SavedTables): string {
  const out: string[] = [];
  const tables: [Table, readonly string[], readonly string[]][] = [
    ['nat', NAT_CHAINS, ['PREROUTING', 'OUTPUT', 'INPUT', 'POSTROUTING']],
    ['filter', FILTER_CHAINS, ['INPUT', 'FORWARD', 'OUTPUT']],
  ];
  for (const [table, chains, builtins] of tables) {
    out.push(`*${table}`);
    for (const c of chains) out.push(`:${c} - [0:0]`);
    for (const b of builtins) for (const c of chains) for (const spec of jumpsIn(saved[table], b, c)) out.push(`-D ${b} ${spec}`);
    for (const c of chains) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}
