/**
 * mode-options.ts: the one place the configuration is turned into what each mode reads. A mode is handed its
 * settings, never KpxConfig, so a policy is decided here (or in the model) once, and a setting no mode reads
 * does not appear in any mode's settings type.
 */
import type { KpxConfig } from '../config/types.js';
import { clusterCIDRDetector, type LocalTrafficDetector } from '../local-traffic.js';
import { NODE_PORT_ADDRESSES_PRIMARY, servesLocalhostNodePorts } from '../model/index.js';
import type { IPFamily } from '../model/types.js';
import type { ModeSettings } from '../modes.js';
import type { ProxyMode } from '../backend.js';
import { parsePortRange } from '../../modes/userspace/port-range.js';
import { clusterCIDRFor } from './host-facts.js';

/** --detect-local-mode and its companions, for one family. */
export function localTrafficDetector(config: KpxConfig, family: IPFamily): LocalTrafficDetector {
  switch (config.detectLocalMode) {
    case 'ClusterCIDR': return clusterCIDRDetector(clusterCIDRFor(config, family));
    case 'NodeCIDR': return { mode: 'NodeCIDR' };
    case 'BridgeInterface': return { mode: 'BridgeInterface', interfaceName: config.detectLocal.bridgeInterface };
    case 'InterfaceNamePrefix': return { mode: 'InterfaceNamePrefix', prefix: config.detectLocal.interfaceNamePrefix };
  }
}

const RESOLVERS: { readonly [M in ProxyMode]: (config: KpxConfig, family: IPFamily) => ModeSettings[M] } = {
  iptables: (config, family) => ({
    masqueradeAll: config.iptables.masqueradeAll,
    masqueradeBit: config.iptables.masqueradeBit,
    localhostNodePorts: servesLocalhostNodePorts(config.nodePortAddresses, config.iptables.localhostNodePorts, family),
    localTraffic: localTrafficDetector(config, family),
    syncPeriodMs: config.iptables.syncPeriodMs,
  }),
  ipvs: (config, family) => ({
    scheduler: config.ipvs.scheduler,
    strictARP: config.ipvs.strictARP,
    tcpTimeoutMs: config.ipvs.tcpTimeoutMs,
    tcpFinTimeoutMs: config.ipvs.tcpFinTimeoutMs,
    udpTimeoutMs: config.ipvs.udpTimeoutMs,
    excludeCIDRs: config.ipvs.excludeCIDRs,
    masqueradeAll: config.iptables.masqueradeAll,
    masqueradeBit: config.iptables.masqueradeBit,
    localTraffic: localTrafficDetector(config, family),
  }),
  userspace: (config) => ({
    bindAddress: config.bindAddress,
    portRange: parsePortRange(config.portRange),
    udpIdleTimeoutMs: config.udpIdleTimeoutMs,
  }),
  nftables: (config, family) => ({
    masqueradeAll: config.iptables.masqueradeAll,
    masqueradeBit: config.iptables.masqueradeBit,
    localTraffic: localTrafficDetector(config, family),
    // kube-proxy learns these from ServiceCIDR objects, which no kpx source delivers yet.
    serviceCIDRs: [],
    syncPeriodMs: config.iptables.syncPeriodMs,
  }),
};

/**
 * nodePortAddresses as the proxy applies them: in nftables mode an empty list means "primary" (the node's
 * primary IPs), upstream's documented default for that mode; every other mode serves all addresses.
 */
export function effectiveNodePortAddresses(config: KpxConfig): readonly string[] {
  return config.mode === 'nftables' && config.nodePortAddresses.length === 0 ? [NODE_PORT_ADDRESSES_PRIMARY] : config.nodePortAddresses;
}

/** The settings of one mode for one family. Throws ConfigError for a value only the mode can judge. */
export function modeSettings<M extends ProxyMode>(config: KpxConfig, mode: M, family: IPFamily): ModeSettings[M] {
  return RESOLVERS[mode](config, family);
}
