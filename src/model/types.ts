/**
 * types.ts: the proxy's resolved view of the cluster (kpng's "expected node-local state").
 *
 * Every mode consumes a ProxyState and nothing else: policy (traffic policies, topology, terminating
 * fallback, node-port addresses) is decided once, in src/model, and a backend only turns it into kernel
 * state. One ProxyState per IP family; dual-stack runs one backend per family.
 */

import type { IPFamily } from '../util/ip.js';

export type { IPFamily };
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** "namespace/name": the unit of change tracking and of partial sync. */
export type ServiceKey = string;

/**
 * "namespace/name:portName" (":portName" omitted for an unnamed port), exactly kube-proxy's
 * ServicePortName.String(), so chain-name hashes match kube-proxy's.
 */
export type ServicePortKey = string;

export interface Endpoint {
  /** "ip:port" (IPv6: "[ip]:port"), unique within a service port. */
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** Runs on this node (nodeName matches, or the legacy hostname match). */
  readonly isLocal: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
  /** Topology hints from the slice: zones and nodes this endpoint is meant for (undefined = no hints). */
  readonly zoneHints?: ReadonlySet<string>;
  readonly nodeHints?: ReadonlySet<string>;
}

export interface ServicePort {
  /** kube-proxy's ServicePortName.String(): "ns/name:port" or "ns/name". */
  readonly key: ServicePortKey;
  readonly serviceKey: ServiceKey;
  readonly namespace: string;
  readonly name: string;
  /** The port's name, "" when unnamed. */
  readonly portName: string;
  readonly protocol: Protocol;
  /**
   * kube-proxy's portProtoHash: base32(sha256(key + lowercase protocol)), first 16 characters. The suffix
   * of KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-FW- chain names.
   */
  readonly hash: string;
  readonly family: IPFamily;
  /** The ClusterIP of this family (normalised). */
  readonly clusterIP: string;
  readonly port: number;
  /** 0 when the service has no node port. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress IPs of this family, without ipMode: Proxy ones. */
  readonly loadBalancerIPs: readonly string[];
  /** CIDRs of this family (normalised); empty = no restriction. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** 0 = no affinity; otherwise ClientIP affinity with this timeout (default 10800). */
  readonly affinityTimeoutSeconds: number;
  /** externalTrafficPolicy=Local, and the service is externally accessible. */
  readonly externalPolicyLocal: boolean;
  /** internalTrafficPolicy=Local. */
  readonly internalPolicyLocal: boolean;
  /** 0 when none. Only meaningful with externalPolicyLocal. */
  readonly healthCheckNodePort: number;
  /** Has a NodePort, externalIPs or LB IPs. */
  readonly externallyAccessible: boolean;
  /** Reached through cluster endpoints (iTP Cluster, or external traffic with eTP Cluster). */
  readonly usesClusterEndpoints: boolean;
  /** Reached through local endpoints (iTP Local, or external traffic with eTP Local). */
  readonly usesLocalEndpoints: boolean;

  /** Every endpoint the slices list for this port and family, whatever their conditions. */
  readonly endpoints: readonly Endpoint[];
  /**
   * The endpoints for cluster-wide traffic after topology and the terminating fallback; empty when
   * usesClusterEndpoints is false or nothing is usable.
   */
  readonly clusterEndpoints: readonly Endpoint[];
  /** Local endpoints after the terminating fallback; empty when usesLocalEndpoints is false. */
  readonly localEndpoints: readonly Endpoint[];
  /** Union of clusterEndpoints and localEndpoints: every endpoint some traffic may reach. */
  readonly allReachableEndpoints: readonly Endpoint[];
  /** Any endpoint at all (ready or serving-terminating), anywhere: false means REJECT. */
  readonly hasAnyEndpoints: boolean;
  /** Ready local endpoints: what the health-check node port reports. */
  readonly readyLocalEndpointCount: number;
}

/** Where NodePorts are served. */
export interface NodePortAddresses {
  /** true: every local address of the family (kube-proxy's default, or "all"). */
  readonly all: boolean;
  /**
   * The node's addresses matching nodePortAddresses (when all is true: every local address of the
   * family). IPv6 link-local never; IPv4 loopback only when localhost is true.
   */
  readonly ips: readonly string[];
  /** IPv4 localhost node ports (127.0.0.0/8) are served. */
  readonly localhost: boolean;
}

export interface NodeInfo {
  readonly name: string;
  /** The family this NodeInfo describes (set by nodeInfoFrom; ips and podCIDRs are of this family). */
  readonly family?: IPFamily;
  readonly labels: Readonly<Record<string, string>>;
  /** Zone from topology.kubernetes.io/zone, "" when unknown. */
  readonly zone: string;
  /** The node's own addresses of this family (from the Node object and the host's interfaces). */
  readonly ips: readonly string[];
  readonly podCIDRs: readonly string[];
  /** False while the Node is being deleted or carries ToBeDeletedByClusterAutoscaler. */
  readonly eligible: boolean;
  /**
   * The node's primary IP of this family: the Node object's first InternalIP (else ExternalIP) of the
   * family, not loopback. Undefined when the Node reports none. ("primary" in nodePortAddresses.)
   */
  readonly primaryIP?: string;
}

export interface ProxyState {
  readonly family: IPFamily;
  readonly node: NodeInfo;
  readonly nodePortAddresses: NodePortAddresses;
  /** Keyed by ServicePortKey + "/" + protocol is not needed: a key is unique per port name. */
  readonly services: ReadonlyMap<ServicePortKey, ServicePort>;
}

/** What changed since the last successful sync. */
export interface ChangeSet {
  /** Rewrite everything: at start, after a failure, every sync-period, after a node change. */
  readonly full: boolean;
  /** Services whose ports or endpoints changed (added, updated, removed). */
  readonly services: ReadonlySet<ServiceKey>;
}
