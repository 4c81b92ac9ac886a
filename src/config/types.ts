/**
 * types.ts: kpx's effective configuration. Field names follow KubeProxyConfiguration
 * (kubeproxy.config.k8s.io/v1alpha1); durations are held in milliseconds here and written back in Go's
 * duration form by --write-config-to.
 */
import type { ProxyMode } from '../backend.js';

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

export interface KpxConfig {
  mode: ProxyMode;
  kubeconfig: string;
  master: string;
  hostnameOverride: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  /** Comma-separated in flags; one CIDR per family at most. */
  clusterCIDRs: string[];
  iptables: {
    masqueradeAll: boolean;
    masqueradeBit: number;
    syncPeriodMs: number;
    minSyncPeriodMs: number;
    localhostNodePorts: boolean;
  };
  ipvs: {
    scheduler: string;
    syncPeriodMs: number;
    minSyncPeriodMs: number;
    strictARP: boolean;
    tcpTimeoutMs: number;
    tcpFinTimeoutMs: number;
    udpTimeoutMs: number;
    excludeCIDRs: string[];
  };
  nodePortAddresses: string[];
  conntrack: {
    maxPerCore: number;
    min: number;
    tcpEstablishedTimeoutMs: number;
    tcpCloseWaitTimeoutMs: number;
    tcpBeLiberal: boolean;
    udpTimeoutMs: number;
    udpStreamTimeoutMs: number;
  };
  detectLocalMode: DetectLocalMode;
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string };
  /** Userspace mode: idle timeout of a UDP session (--udp-timeout, default 250ms). */
  udpIdleTimeoutMs: number;
  /** Userspace mode: "" (kernel's choice) or "from-to" / "from+count" (--proxy-port-range). */
  portRange: string;
  configSyncPeriodMs: number;
  /** klog verbosity (-v). */
  verbosity: number;
  /** component-base's LoggingConfiguration besides the verbosity (--logging-format, --vmodule, ...). */
  logging: {
    format: string;
    /** klog's --vmodule text, `pattern=N,...` (the file's list of {filePattern, verbosity} is joined into it). */
    vmodule: string;
    flushFrequencyMs: number;
    text: { splitStream: boolean; infoBufferSize: string };
    json: { splitStream: boolean; infoBufferSize: string };
  };

  // kpx's own additions
  /** --manifests DIR: read cluster state from a directory of YAML/JSON manifests instead of the API. */
  manifests: string;
  /** --dry-run: compute everything, touch no kernel, print what would be programmed. */
  dryRun: boolean;
  /** --cleanup: remove what any mode left and exit. */
  cleanup: boolean;
  /** --write-config-to FILE: write the effective configuration and exit. */
  writeConfigTo: string;
  /** --config FILE, as given. */
  configFile: string;
}

export const DEFAULT_CONFIG: Readonly<KpxConfig> = Object.freeze({
  mode: 'iptables',
  kubeconfig: '',
  master: '',
  hostnameOverride: '',
  bindAddress: '0.0.0.0',
  healthzBindAddress: '0.0.0.0:10256',
  metricsBindAddress: '127.0.0.1:10249',
  clusterCIDRs: [],
  iptables: {
    masqueradeAll: false,
    masqueradeBit: 14,
    syncPeriodMs: 30_000,
    minSyncPeriodMs: 1_000,
    localhostNodePorts: true,
  },
  ipvs: {
    scheduler: '',
    syncPeriodMs: 30_000,
    minSyncPeriodMs: 0,
    strictARP: false,
    tcpTimeoutMs: 0,
    tcpFinTimeoutMs: 0,
    udpTimeoutMs: 0,
    excludeCIDRs: [],
  },
  nodePortAddresses: [],
  conntrack: {
    maxPerCore: 32_768,
    min: 131_072,
    tcpEstablishedTimeoutMs: 24 * 3600_000,
    tcpCloseWaitTimeoutMs: 3600_000,
    tcpBeLiberal: false,
    udpTimeoutMs: 0,
    udpStreamTimeoutMs: 0,
  },
  detectLocalMode: 'ClusterCIDR',
  detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' },
  udpIdleTimeoutMs: 250,
  portRange: '',
  configSyncPeriodMs: 15 * 60_000,
  verbosity: 0,
  logging: {
    format: 'text',
    vmodule: '',
    flushFrequencyMs: 5_000,
    text: { splitStream: false, infoBufferSize: '0' },
    json: { splitStream: false, infoBufferSize: '0' },
  },
  manifests: '',
  dryRun: false,
  cleanup: false,
  writeConfigTo: '',
  configFile: '',
}) as KpxConfig;

/** A deep copy of the defaults, safe to mutate. */
export function defaultConfig(): KpxConfig {
  return structuredClone(DEFAULT_CONFIG) as KpxConfig;
}
