/**
 * plan.ts: the wanted IPVS state for a ProxyState, as kube-proxy's ipvs mode builds it: one virtual server
 * per ClusterIP, externalIP, LB ingress IP and node IP (NodePort) with its real servers, the addresses bound
 * to kube-ipvs0, and the ipset entries the iptables rules match on. Pure.
 */
import type { Endpoint, IPFamily, Protocol, ProxyState, ServiceKey, ServicePort } from '../../src/model/types.js';
import { cidrContains, isLoopbackIP } from '../../src/util/ip.js';
import { defaultNetmask, virtualServerId, type VirtualServer } from '../../src/net/ipvs/codec.js';
import { SvcFlag } from '../../src/net/ipvs/constants.js';
import { SET, type SetId } from './names.js';

export interface PlannedRealServer {
  readonly address: string;
  readonly port: number;
}

export interface PlannedVirtualServer {
  readonly vs: VirtualServer;
  readonly realServers: readonly PlannedRealServer[];
  /** The service port this virtual server belongs to ("ns/name:port"). */
  readonly servicePort: string;
}

export interface IpvsPlan {
  readonly family: IPFamily;
  /** By virtualServerId ("TCP/10.96.0.10:80"). */
  readonly virtualServers: ReadonlyMap<string, PlannedVirtualServer>;
  /** Addresses wanted on kube-ipvs0. */
  readonly bindAddresses: ReadonlySet<string>;
  /** ipset entries (ipset's own text form) per set. */
  readonly sets: ReadonlyMap<SetId, ReadonlySet<string>>;
  /** LB IPs whose source ranges exclude the node: node-originated traffic to them is dropped. */
  readonly lbNoNodeAccess: readonly { ip: string; protocol: Protocol; port: number }[];
  readonly noLocalEndpoints: { readonly internal: ReadonlySet<ServiceKey>; readonly external: ReadonlySet<ServiceKey> };
}

export interface IpvsPlanOptions {
  /** --ipvs-scheduler; "" means rr. */
  readonly scheduler: string;
  /** Addresses NodePort virtual servers listen on: the nodePortAddresses, without kube-ipvs0's and loopback. */
  readonly nodePortIPs: readonly string[];
  /** Addresses the node already has on other interfaces: an externalIP or LB IP among them is not bound. */
  readonly nodeAddresses: ReadonlySet<string>;
}

const proto = (p: Protocol) => p.toLowerCase();
const ipPortEntry = (ip: string, p: Protocol, port: number) => `${ip},${proto(p)}:${port}`;

/** Which endpoints a virtual server gets: kube-proxy's syncEndpoint choice, Local policy included. */
function endpointsFor(sp: ServicePort, onlyNodeLocal: boolean): readonly Endpoint[] {
  if (!onlyNodeLocal) return sp.clusterEndpoints;
  // With no local endpoint kube-proxy falls back to the cluster set, so local pods keep access (k/k#97081);
  // external traffic then reaches a remote pod whose reply is dropped, as in kube-proxy.
  return sp.localEndpoints.length > 0 ? sp.localEndpoints : sp.clusterEndpoints;
}

/**
 * The plan for this node: NodePorts on the node-port addresses the host has now (never loopback, never
 * kube-ipvs0's: hostAddresses come without them).
 */
export function planForHost(state: ProxyState, scheduler: string, hostAddresses: readonly string[]): IpvsPlan {
  const addrs = new Set(hostAddresses);
  const candidates = state.nodePortAddresses.all ? [...addrs] : state.nodePortAddresses.ips;
  const nodePortIPs = candidates.filter((ip) => addrs.has(ip) && !isLoopbackIP(ip));
  return planIpvs(state, { scheduler, nodePortIPs, nodeAddresses: addrs });
}

export function planIpvs(state: ProxyState, opts: IpvsPlanOptions): IpvsPlan {
  const scheduler = opts.scheduler || 'rr';
  const virtualServers = new Map<string, PlannedVirtualServer>();
  const bindAddresses = new Set<string>();
  const sets = new Map<SetId, Set<string>>(Object.values(SET).map((id) => [id, new Set<string>()]));
  const add = (id: SetId, entry: string) => sets.get(id)!.add(entry);
  const lbNoNodeAccess: { ip: string; protocol: Protocol; port: number }[] = [];
  const noLocalInternal = new Set<ServiceKey>();
  const noLocalExternal = new Set<ServiceKey>();
  const nodeIPs = state.node.ips;

  for (const sp of state.services.values()) {
    let flags = 0;
    let timeout = 0;
    if (sp.affinityTimeoutSeconds > 0) { flags |= SvcFlag.PERSISTENT; timeout = sp.affinityTimeoutSeconds; }
    // kube-proxy sets mh-port with the maglev scheduler, so the port takes part in the hash.
    if (scheduler === 'mh') flags |= SvcFlag.SCHED2;
    const addVS = (address: string, port: number, onlyNodeLocal: boolean) => {
      const vs: VirtualServer = { family: state.family, protocol: sp.protocol, address, port, scheduler, flags, timeout, netmask: defaultNetmask(state.family) };
      const eps = endpointsFor(sp, onlyNodeLocal);
      virtualServers.set(virtualServerId(vs), { vs, realServers: eps.map((e) => ({ address: e.ip, port: e.port })), servicePort: sp.key });
    };
    if (sp.hasAnyEndpoints) {
      if (sp.internalPolicyLocal && sp.localEndpoints.length === 0) noLocalInternal.add(sp.serviceKey);
      if (sp.externalPolicyLocal && sp.localEndpoints.length === 0) noLocalExternal.add(sp.serviceKey);
    }

    // Hairpin: a local endpoint reaching its own service is masqueraded.
    for (const e of sp.endpoints) if (e.isLocal) add(SET.LOOP_BACK, `${e.ip},${proto(sp.protocol)}:${e.port},${e.ip}`);

    add(SET.CLUSTER_IP, ipPortEntry(sp.clusterIP, sp.protocol, sp.port));
    addVS(sp.clusterIP, sp.port, sp.internalPolicyLocal);
    bindAddresses.add(sp.clusterIP);

    for (const ip of sp.externalIPs) {
      add(sp.externalPolicyLocal ? SET.EXTERNAL_IP_LOCAL : SET.EXTERNAL_IP, ipPortEntry(ip, sp.protocol, sp.port));
      addVS(ip, sp.port, sp.externalPolicyLocal);
      // An address the node already has elsewhere must not be added to the dummy device.
      if (!opts.nodeAddresses.has(ip)) bindAddresses.add(ip);
    }

    for (const ip of sp.loadBalancerIPs) {
      const entry = ipPortEntry(ip, sp.protocol, sp.port);
      add(SET.LOAD_BALANCER, entry);
      if (sp.externalPolicyLocal) add(SET.LOAD_BALANCER_LOCAL, entry);
      if (sp.loadBalancerSourceRanges.length > 0) {
        add(SET.LOAD_BALANCER_FW, entry);
        let allowFromNode = false;
        for (const cidr of sp.loadBalancerSourceRanges) {
          add(SET.LOAD_BALANCER_SOURCE_CIDR, `${entry},${cidr}`);
          if (nodeIPs.some((n) => cidrContains(cidr, n))) allowFromNode = true;
        }
        // Traffic from the node to its own LB IP carries the LB IP as source (IPVS binds it locally).
        if (allowFromNode) add(SET.LOAD_BALANCER_SOURCE_IP, `${entry},${ip}`);
        else lbNoNodeAccess.push({ ip, protocol: sp.protocol, port: sp.port });
      }
      addVS(ip, sp.port, sp.externalPolicyLocal);
      if (!opts.nodeAddresses.has(ip)) bindAddresses.add(ip);
    }

    if (sp.nodePort > 0 && opts.nodePortIPs.length > 0) {
      const entries = sp.protocol === 'SCTP'
        ? opts.nodePortIPs.map((ip) => ipPortEntry(ip, 'SCTP', sp.nodePort))
        : [String(sp.nodePort)];
      const [all, local] = sp.protocol === 'TCP' ? [SET.NODE_PORT_TCP, SET.NODE_PORT_LOCAL_TCP]
        : sp.protocol === 'UDP' ? [SET.NODE_PORT_UDP, SET.NODE_PORT_LOCAL_UDP]
        : [SET.NODE_PORT_SCTP, SET.NODE_PORT_LOCAL_SCTP];
      for (const e of entries) {
        add(all, e);
        if (sp.externalPolicyLocal) add(local, e);
      }
      for (const ip of opts.nodePortIPs) addVS(ip, sp.nodePort, sp.externalPolicyLocal);
    }

    if (sp.externalPolicyLocal && sp.healthCheckNodePort > 0) add(SET.HEALTH_CHECK_NODE_PORT, String(sp.healthCheckNodePort));
  }
  for (const ip of bindAddresses) add(SET.IPVS_IPS, ip);

  return { family: state.family, virtualServers, bindAddresses, sets, lbNoNodeAccess, noLocalEndpoints: { internal: noLocalInternal, external: noLocalExternal } };
}
