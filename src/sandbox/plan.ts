/**
 * plan.ts: the sandbox's names and addresses, decided before anything touches the kernel. Pure, so the
 * address plan is tested without root and the builder only carries it out.
 *
 * Layout (N = node number, 1 or 2):
 *   kpx-<run>-lan      a switch namespace: bridge br0 joining the node network 10.10.0.0/24
 *   kpx-<run>-nodeN    eth0 10.10.0.N on the node network, bridge cbr0 10.244.N.1/24 for its pods,
 *                      default route out eth0 (a ClusterIP from the node needs a route before DNAT),
 *                      routes to the other nodes' pod CIDRs via their node IPs
 *   kpx-<run>-<pod>    eth0 10.244.N.(10+i)/24 on nodeN's cbr0, default via 10.244.N.1
 *   kpx-<run>-client   eth0 10.10.0.50/24 (+ 10.10.0.51 for source-range tests), default via node1
 * With dualStack, every one of them also gets an IPv6 address in the same shape:
 *   node network fd00:10:10::/64 (node N = ::N, client ::50 and ::51), pods fd00:10:244:N::/64
 *   (bridge ::1, pods ::(10+i)), cluster CIDR fd00:10:244::/56.
 */
import { randomBytes } from 'node:crypto';

export const NODE_NETWORK_PREFIX = '10.10.0';
export const NODE_NETWORK_CIDR = '10.10.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
export const CLIENT_IPS = ['10.10.0.50', '10.10.0.51'] as const;
export const NODE_NETWORK_V6_PREFIX = 'fd00:10:10::';
export const CLUSTER_CIDR_V6 = 'fd00:10:244::/56';
export const CLIENT_IPS_V6 = ['fd00:10:10::50', 'fd00:10:10::51'] as const;

/** The IPv6 side of a node, pod or client (dual-stack sandboxes only). */
export interface NodeV6 {
  readonly nodeIP: string;
  readonly podCIDR: string;
  readonly bridgeIP: string;
  readonly podRoutes: readonly { cidr: string; via: string }[];
}

export interface PodSpec {
  /** The pod's name: namespace suffix and the "pod" field its server answers with. */
  readonly name: string;
  /** 1-based node number. */
  readonly node: number;
  /** TCP (HTTP) ports the pod's server listens on; default [8080]. */
  readonly tcpPorts?: readonly number[];
  /** UDP ports the pod's server answers on; default [8080]. */
  readonly udpPorts?: readonly number[];
  /** Start no server (a pod that only sends). */
  readonly noServer?: boolean;
}

export interface SandboxOptions {
  /** 1 or 2 nodes (default 1). */
  readonly nodes?: number;
  /** The pods; default one pod "pod1" on node 1. */
  readonly pods?: readonly PodSpec[];
  /** Add the external client namespace on the node network (default false). */
  readonly externalClient?: boolean;
  /** Fixed run prefix (tests of the builder); default `kpx-<6 random chars>-`. */
  readonly prefix?: string;
  /** Give every namespace an IPv6 address too (default false). */
  readonly dualStack?: boolean;
}

export interface NodePlan {
  /** "node1", "node2": also the Kubernetes Node name kpx runs as. */
  readonly name: string;
  readonly index: number;
  readonly ns: string;
  readonly nodeIP: string;
  readonly podCIDR: string;
  /** The node's address on its pod bridge (the pods' gateway). */
  readonly bridgeIP: string;
  /** Interface names inside the node namespace. */
  readonly bridgeDev: 'cbr0';
  readonly uplinkDev: 'eth0';
  /** Routes to the other nodes' pod CIDRs. */
  readonly podRoutes: readonly { cidr: string; via: string }[];
  /** Dual-stack sandboxes: the node's IPv6 addresses and routes. */
  readonly v6?: NodeV6;
}

export interface PodPlan {
  readonly name: string;
  readonly ns: string;
  readonly node: string;
  readonly ip: string;
  readonly gateway: string;
  /** The veth end in the node namespace (the pod's end is eth0). */
  readonly hostDev: string;
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
  readonly noServer: boolean;
  /** Dual-stack sandboxes: the pod's IPv6 address and gateway. */
  readonly v6?: { readonly ip: string; readonly gateway: string };
}

export interface ClientPlan {
  readonly name: 'client';
  readonly ns: string;
  readonly ips: readonly string[];
  /** Its default gateway: node1, so LoadBalancer and external IPs reach a node. */
  readonly gateway: string;
  /** Dual-stack sandboxes: its IPv6 addresses and gateway (node1). */
  readonly v6?: { readonly ips: readonly string[]; readonly gateway: string };
}

export interface SandboxPlan {
  readonly prefix: string;
  readonly lanNs: string;
  readonly nodes: readonly NodePlan[];
  readonly pods: readonly PodPlan[];
  readonly client?: ClientPlan;
}

const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const POD_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** Pod names become namespace names and the answer's "pod" field: short DNS labels only. */
export function checkPodName(name: string): void {
  if (!POD_NAME.test(name)) throw new Error(`pod name ${JSON.stringify(name)} must be a short DNS label`);
}

/** A fresh run prefix `kpx-<6 random chars>-`: unique names let parallel runs share one machine. */
export function newRunPrefix(): string {
  const bytes = randomBytes(6);
  let s = '';
  for (const b of bytes) s += PREFIX_ALPHABET[b % PREFIX_ALPHABET.length];
  return `kpx-${s}-`;
}

function nodeV6(index: number, nodeCount: number): NodeV6 {
  const others = [];
  for (let j = 1; j <= nodeCount; j++) {
    if (j !== index) others.push({ cidr: `fd00:10:244:${j}::/64`, via: `${NODE_NETWORK_V6_PREFIX}${j}` });
  }
  return { nodeIP: `${NODE_NETWORK_V6_PREFIX}${index}`, podCIDR: `fd00:10:244:${index}::/64`, bridgeIP: `fd00:10:244:${index}::1`, podRoutes: others };
}

export function nodePlan(prefix: string, index: number, nodeCount: number, dualStack = false): NodePlan {
  const others = [];
  for (let j = 1; j <= nodeCount; j++) {
    if (j !== index) others.push({ cidr: `10.244.${j}.0/24`, via: `${NODE_NETWORK_PREFIX}.${j}` });
  }
  return {
    ...(dualStack ? { v6: nodeV6(index, nodeCount) } : {}),
    name: `node${index}`,
    index,
    ns: `${prefix}node${index}`,
    nodeIP: `${NODE_NETWORK_PREFIX}.${index}`,
    podCIDR: `10.244.${index}.0/24`,
    bridgeIP: `10.244.${index}.1`,
    bridgeDev: 'cbr0',
    uplinkDev: 'eth0',
    podRoutes: others,
  };
}

/** The pod's address: 10.244.<node>.<10 + its position among that node's pods, 1-based>. */
export function podPlan(prefix: string, spec: PodSpec, hostIndex: number, dualStack = false): PodPlan {
  return {
    ...(dualStack ? { v6: { ip: `fd00:10:244:${spec.node}::${10 + hostIndex}`, gateway: `fd00:10:244:${spec.node}::1` } } : {}),
    name: spec.name,
    ns: `${prefix}${spec.name}`,
    node: `node${spec.node}`,
    ip: `10.244.${spec.node}.${10 + hostIndex}`,
    gateway: `10.244.${spec.node}.1`,
    hostDev: `vp${hostIndex}`,
    tcpPorts: spec.tcpPorts ?? [8080],
    udpPorts: spec.udpPorts ?? [8080],
    noServer: spec.noServer ?? false,
  };
}

/** Validates the options and lays out names and addresses. Throws on a bad option (a caller's bug). */
export function planSandbox(opts: SandboxOptions = {}): SandboxPlan {
  const prefix = opts.prefix ?? newRunPrefix();
  if (!/^kpx-[a-z0-9]{1,12}-$/.test(prefix)) throw new Error(`sandbox prefix ${JSON.stringify(prefix)} must look like kpx-<chars>-`);
  const nodeCount = opts.nodes ?? 1;
  if (nodeCount !== 1 && nodeCount !== 2) throw new Error(`sandbox nodes must be 1 or 2, got ${nodeCount}`);
  const nodes = [];
  const dual = opts.dualStack ?? false;
  for (let i = 1; i <= nodeCount; i++) nodes.push(nodePlan(prefix, i, nodeCount, dual));
  const specs = opts.pods ?? [{ name: 'pod1', node: 1 }];
  const seen = new Set<string>(['lan', 'client', ...nodes.map((n) => n.name)]);
  const perNode = new Map<number, number>();
  const pods = specs.map((spec) => {
    checkPodName(spec.name);
    if (seen.has(spec.name)) throw new Error(`pod name ${spec.name} is used twice (or is a node/client name)`);
    if (!Number.isInteger(spec.node) || spec.node < 1 || spec.node > nodeCount) throw new Error(`pod ${spec.name}: node ${spec.node} does not exist`);
    seen.add(spec.name);
    const idx = (perNode.get(spec.node) ?? 0) + 1;
    if (idx > 200) throw new Error(`too many pods on node ${spec.node}`);
    perNode.set(spec.node, idx);
    return podPlan(prefix, spec, idx, dual);
  });
  const client: ClientPlan | undefined = opts.externalClient
    ? {
      name: 'client', ns: `${prefix}client`, ips: [...CLIENT_IPS], gateway: nodes[0]!.nodeIP,
      ...(dual ? { v6: { ips: [...CLIENT_IPS_V6], gateway: nodes[0]!.v6!.nodeIP } } : {}),
    }
    : undefined;
  return { prefix, lanNs: `${prefix}lan`, nodes, pods, ...(client ? { client } : {}) };
}
