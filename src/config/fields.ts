/**
 * fields.ts: one table of every configurable value kpx knows: its kube-proxy flag, its KubeProxyConfiguration
 * field, its kind, its per-value check and its help line. The flag parser, the config-file reader, the
 * --write-config-to writer and --help are all driven by this table, so a setting is declared once and the
 * four can never disagree.
 */
import { PROXY_MODES } from '../backend.js';
import type { KpxConfig } from './types.js';
import { DEFAULT_CONFIG } from './types.js';
import { formatDuration, parseDuration, DurationError } from './duration.js';
import {
  appendPortIfNeeded,
  checkBindAddress,
  checkCIDRList,
  checkClusterCIDRs,
  checkIP,
  checkNodePortAddresses,
  checkPortRange,
} from './addresses.js';
import { LOG_FORMATS, parseVModule } from '../util/log.js';

export type Value = string | boolean | number | string[];

/**
 * Kind says how a value is written on the command line and in the file:
 * - string, bool, int, duration: scalar (durations in Go's form);
 * - list: comma-separated on the command line, a YAML sequence in the file;
 * - csv: comma-separated in both (KubeProxyConfiguration's clusterCIDR is one string).
 */
export type Kind = 'string' | 'bool' | 'int' | 'duration' | 'list' | 'csv';

export interface FieldSpec {
  /** Stable id: the file path when there is one, else "kpx.<name>". */
  readonly id: string;
  /** Flag name without the leading dashes. */
  readonly flag?: string;
  /** One-letter shorthand (-v). */
  readonly short?: string;
  /** Dotted path in a KubeProxyConfiguration document. */
  readonly file?: string;
  readonly kind: Kind;
  /** Type word shown by --help (kube-proxy's: duration, ip, ipport, int32, strings...). */
  readonly metavar: string;
  readonly help: string;
  /** Path into KpxConfig. */
  readonly path: readonly string[];
  /** Per-value check: a reason phrase when invalid. */
  readonly check?: (v: Value) => string | undefined;
  /**
   * kube-proxy's defaulting: a zero value ("" or 0) in the file means "use the default" (kubeadm writes
   * `syncPeriod: 0s` and `healthzBindAddress: ""` and relies on it).
   */
  readonly zeroMeansDefault?: boolean;
  /** An empty value, from a flag or the file, selects the default (kube-proxy's "blank means best available"). */
  readonly blankIsDefault?: boolean;
  /** Applied to a value from a flag or the file before it is checked (kube-proxy's AppendPortIfNeeded). */
  readonly normalize?: (v: Value) => Value;
  /** Turns the decoded YAML value into the field's usual form first (a list of vmodule items into klog's text). */
  readonly fromFile?: (v: unknown) => unknown;
  /** The value as the file writes it, when that differs from the flag's form. */
  readonly toFile?: (v: Value) => unknown;
  /** When --write-config-to writes it: always (default) or only when it differs from the default. */
  readonly write?: 'always' | 'nonDefault';
}

export { PROXY_MODES };
export const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'sed', 'nq', 'mh'] as const;
export const DETECT_LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'] as const;

const INT32_MAX = 2 ** 31 - 1;
/** kube-proxy's ports.ProxyHealthzPort and ports.ProxyStatusPort. */
export const HEALTHZ_PORT = 10256;
export const METRICS_PORT = 10249;

function oneOf(values: readonly string[], what: string): (v: Value) => string | undefined {
  return (v) => (values.includes(v as string) ? undefined : `${what} must be one of ${values.join(', ')}`);
}
const positive = (v: Value) => ((v as number) > 0 ? undefined : 'must be greater than 0');
const nonNegative = (v: Value) => ((v as number) >= 0 ? undefined : 'must be greater than or equal to 0');
const inRange = (lo: number, hi: number) => (v: Value) =>
  (v as number) >= lo && (v as number) <= hi ? undefined : `must be within the range [${lo}, ${hi}]`;

const modeCheck = (v: Value) => {
  if ((PROXY_MODES as readonly string[]).includes(v as string)) return undefined;
  if (v === 'kernelspace') return `mode "${v}" is not supported by kpx (use ${PROXY_MODES.join(', ')})`;
  return `must be one of ${PROXY_MODES.join(', ')}`;
};
const schedulerCheck = (v: Value) =>
  v === '' || (IPVS_SCHEDULERS as readonly string[]).includes(v as string)
    ? undefined
    : `must be one of ${IPVS_SCHEDULERS.join(', ')} (or empty for rr)`;

/** component-base's LoggingConfiguration.vmodule: a list of {filePattern, verbosity} in the file. */
function vmoduleFromFile(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  return v.map((item: unknown) => {
    const { filePattern, verbosity } = (item ?? {}) as { filePattern?: unknown; verbosity?: unknown };
    return `${String(filePattern)}=${String(verbosity)}`;
  }).join(',');
}
function vmoduleToFile(v: Value): unknown {
  return parseVModule(v as string).map((r) => ({ filePattern: r.pattern, verbosity: r.level }));
}
const vmoduleCheck = (v: Value) => {
  try {
    parseVModule(v as string);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};
/** resource.Quantity as the log buffer sizes take it ("0", "64Ki", "1M"); the file may hold a bare number. */
const quantityCheck = (v: Value) => (/^\d+(\.\d+)?([KMGTPE]i|[kMGTPE]|[eE]\d+)?$/.test(v as string) ? undefined : 'not a quantity (e.g. 0, 64Ki, 1M)');
const quantityFromFile = (v: unknown) => (typeof v === 'number' ? String(v) : v);
/** logging.flushFrequency: a duration string or, as component-base's TimeOrMetaDuration, a number of nanoseconds. */
const nanosFromFile = (v: unknown) => (typeof v === 'number' ? `${v}ns` : v);

/** FIELDS: every setting, in the order --help lists them. */
export const FIELDS: readonly FieldSpec[] = [
  { id: 'mode', flag: 'proxy-mode', file: 'mode', kind: 'string', metavar: 'ProxyMode', path: ['mode'], zeroMeansDefault: true, blankIsDefault: true, check: modeCheck,
    help: `Which proxy mode to use: ${PROXY_MODES.map((m) => `'${m}'`).join(', ')}.` },
  { id: 'clientConnection.kubeconfig', flag: 'kubeconfig', file: 'clientConnection.kubeconfig', kind: 'string', metavar: 'string', path: ['kubeconfig'],
    help: 'Path to kubeconfig file with authorization information (the master location can be overridden by the master flag).' },
  { id: 'kpx.master', flag: 'master', kind: 'string', metavar: 'string', path: ['master'],
    help: 'The address of the Kubernetes API server (overrides any value in kubeconfig).' },
  { id: 'hostnameOverride', flag: 'hostname-override', file: 'hostnameOverride', kind: 'string', metavar: 'string', path: ['hostnameOverride'],
    help: "If non-empty, will be used as the name of the Node that kpx is running on. If unset, the node name is assumed to be the same as the node's hostname." },
  { id: 'bindAddress', flag: 'bind-address', file: 'bindAddress', kind: 'string', metavar: 'ip', path: ['bindAddress'], zeroMeansDefault: true, check: (v) => checkIP(v as string),
    help: "Overrides kpx's idea of what its node's primary IP is (an IPv6 address makes the healthz and metrics defaults IPv6)." },
  { id: 'healthzBindAddress', flag: 'healthz-bind-address', file: 'healthzBindAddress', kind: 'string', metavar: 'ipport', path: ['healthzBindAddress'], zeroMeansDefault: true, normalize: (v) => appendPortIfNeeded(v as string, HEALTHZ_PORT), check: (v) => checkBindAddress(v as string),
    help: "The IP address with port for the health check server to serve on ('[::]:10256' for all IPv6 interfaces). Set empty to disable." },
  { id: 'metricsBindAddress', flag: 'metrics-bind-address', file: 'metricsBindAddress', kind: 'string', metavar: 'ipport', path: ['metricsBindAddress'], zeroMeansDefault: true, normalize: (v) => appendPortIfNeeded(v as string, METRICS_PORT), check: (v) => checkBindAddress(v as string),
    help: "The IP address with port for the metrics server to serve on ('0.0.0.0:10249' for all IPv4 interfaces). Set empty to disable." },
  { id: 'clusterCIDR', flag: 'cluster-cidr', file: 'clusterCIDR', kind: 'csv', metavar: 'string', path: ['clusterCIDRs'], check: (v) => checkClusterCIDRs(v as string[]),
    help: 'The CIDR range of the pods in the cluster (comma-separated, at most one per IP family). Traffic from outside it to a cluster IP is masqueraded.' },
  { id: 'iptables.masqueradeAll', flag: 'masquerade-all', file: 'iptables.masqueradeAll', kind: 'bool', metavar: '', path: ['iptables', 'masqueradeAll'],
    help: 'SNAT all traffic sent via Service cluster IPs (iptables, ipvs and nftables modes).' },
  { id: 'iptables.masqueradeBit', flag: 'iptables-masquerade-bit', file: 'iptables.masqueradeBit', kind: 'int', metavar: 'int32', path: ['iptables', 'masqueradeBit'], check: inRange(0, 31),
    help: 'The bit of the fwmark space to mark packets requiring SNAT with. Must be within the range [0, 31].' },
  { id: 'iptables.syncPeriod', flag: 'iptables-sync-period', file: 'iptables.syncPeriod', kind: 'duration', metavar: 'duration', path: ['iptables', 'syncPeriodMs'], zeroMeansDefault: true, check: positive,
    help: "The maximum interval of how often iptables rules are refreshed (e.g. '5s', '1m', '2h22m'). Must be greater than 0." },
  { id: 'iptables.minSyncPeriod', flag: 'iptables-min-sync-period', file: 'iptables.minSyncPeriod', kind: 'duration', metavar: 'duration', path: ['iptables', 'minSyncPeriodMs'], zeroMeansDefault: true, check: nonNegative,
    help: "The minimum period between iptables rule resyncs (e.g. '5s', '1m', '2h22m'). 0 resyncs immediately on every change." },
  { id: 'iptables.localhostNodePorts', flag: 'iptables-localhost-nodeports', file: 'iptables.localhostNodePorts', kind: 'bool', metavar: '', path: ['iptables', 'localhostNodePorts'],
    help: 'If false, NodePort services are not reachable via localhost (iptables mode, IPv4 only).' },
  { id: 'ipvs.scheduler', flag: 'ipvs-scheduler', file: 'ipvs.scheduler', kind: 'string', metavar: 'string', path: ['ipvs', 'scheduler'], check: schedulerCheck,
    help: `The ipvs scheduler when the proxy mode is ipvs: ${IPVS_SCHEDULERS.join(', ')} (empty means rr).` },
  { id: 'ipvs.syncPeriod', flag: 'ipvs-sync-period', file: 'ipvs.syncPeriod', kind: 'duration', metavar: 'duration', path: ['ipvs', 'syncPeriodMs'], zeroMeansDefault: true, check: positive,
    help: "The maximum interval of how often ipvs rules are refreshed (e.g. '5s', '1m', '2h22m'). Must be greater than 0." },
  { id: 'ipvs.minSyncPeriod', flag: 'ipvs-min-sync-period', file: 'ipvs.minSyncPeriod', kind: 'duration', metavar: 'duration', path: ['ipvs', 'minSyncPeriodMs'], check: nonNegative,
    help: "The minimum period between IPVS rule resyncs (e.g. '5s', '1m', '2h22m'). 0 resyncs immediately on every change." },
  { id: 'ipvs.strictARP', flag: 'ipvs-strict-arp', file: 'ipvs.strictARP', kind: 'bool', metavar: '', path: ['ipvs', 'strictARP'],
    help: 'Enable strict ARP by setting arp_ignore to 1 and arp_announce to 2.' },
  { id: 'ipvs.tcpTimeout', flag: 'ipvs-tcp-timeout', file: 'ipvs.tcpTimeout', kind: 'duration', metavar: 'duration', path: ['ipvs', 'tcpTimeoutMs'], check: nonNegative,
    help: 'The timeout for idle IPVS TCP connections, 0 to leave as-is.' },
  { id: 'ipvs.tcpFinTimeout', flag: 'ipvs-tcpfin-timeout', file: 'ipvs.tcpFinTimeout', kind: 'duration', metavar: 'duration', path: ['ipvs', 'tcpFinTimeoutMs'], check: nonNegative,
    help: 'The timeout for IPVS TCP connections after receiving a FIN packet, 0 to leave as-is.' },
  { id: 'ipvs.udpTimeout', flag: 'ipvs-udp-timeout', file: 'ipvs.udpTimeout', kind: 'duration', metavar: 'duration', path: ['ipvs', 'udpTimeoutMs'], check: nonNegative,
    help: 'The timeout for IPVS UDP packets, 0 to leave as-is.' },
  { id: 'ipvs.excludeCIDRs', flag: 'ipvs-exclude-cidrs', file: 'ipvs.excludeCIDRs', kind: 'list', metavar: 'strings', path: ['ipvs', 'excludeCIDRs'], check: (v) => checkCIDRList(v as string[]),
    help: 'A comma-separated list of CIDRs which the ipvs proxier should not touch when cleaning up IPVS rules.' },
  { id: 'nodePortAddresses', flag: 'nodeport-addresses', file: 'nodePortAddresses', kind: 'list', metavar: 'strings', path: ['nodePortAddresses'], check: (v) => checkNodePortAddresses(v as string[]),
    help: "A comma-separated list of CIDRs (e.g. 1.2.3.0/24) or 'primary' naming the node addresses NodePorts listen on. Empty means all local addresses (in nftables mode: 'primary')." },
  { id: 'conntrack.maxPerCore', flag: 'conntrack-max-per-core', file: 'conntrack.maxPerCore', kind: 'int', metavar: 'int32', path: ['conntrack', 'maxPerCore'], check: inRange(0, INT32_MAX),
    help: 'Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore conntrack-min).' },
  { id: 'conntrack.min', flag: 'conntrack-min', file: 'conntrack.min', kind: 'int', metavar: 'int32', path: ['conntrack', 'min'], check: inRange(0, INT32_MAX),
    help: 'Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core.' },
  { id: 'conntrack.tcpEstablishedTimeout', flag: 'conntrack-tcp-timeout-established', file: 'conntrack.tcpEstablishedTimeout', kind: 'duration', metavar: 'duration', path: ['conntrack', 'tcpEstablishedTimeoutMs'], check: nonNegative,
    help: 'Idle timeout for established TCP connections (0 to leave as-is).' },
  { id: 'conntrack.tcpCloseWaitTimeout', flag: 'conntrack-tcp-timeout-close-wait', file: 'conntrack.tcpCloseWaitTimeout', kind: 'duration', metavar: 'duration', path: ['conntrack', 'tcpCloseWaitTimeoutMs'], check: nonNegative,
    help: 'NAT timeout for TCP connections in the CLOSE_WAIT state (0 to leave as-is).' },
  { id: 'conntrack.tcpBeLiberal', flag: 'conntrack-tcp-be-liberal', file: 'conntrack.tcpBeLiberal', kind: 'bool', metavar: '', path: ['conntrack', 'tcpBeLiberal'],
    help: 'Enable liberal mode for tracking TCP packets (out-of-window packets are not marked INVALID).' },
  { id: 'conntrack.udpTimeout', flag: 'conntrack-udp-timeout', file: 'conntrack.udpTimeout', kind: 'duration', metavar: 'duration', path: ['conntrack', 'udpTimeoutMs'], check: nonNegative,
    help: 'Idle timeout for UNREPLIED UDP connections (0 to leave as-is).' },
  { id: 'conntrack.udpStreamTimeout', flag: 'conntrack-udp-timeout-stream', file: 'conntrack.udpStreamTimeout', kind: 'duration', metavar: 'duration', path: ['conntrack', 'udpStreamTimeoutMs'], check: nonNegative,
    help: 'Idle timeout for ASSURED UDP connections (0 to leave as-is).' },
  { id: 'detectLocalMode', flag: 'detect-local-mode', file: 'detectLocalMode', kind: 'string', metavar: 'LocalMode', path: ['detectLocalMode'], zeroMeansDefault: true, blankIsDefault: true, check: oneOf(DETECT_LOCAL_MODES, 'mode'),
    help: `Mode to use to detect local traffic: ${DETECT_LOCAL_MODES.join(', ')}.` },
  { id: 'detectLocal.bridgeInterface', flag: 'pod-bridge-interface', file: 'detectLocal.bridgeInterface', kind: 'string', metavar: 'string', path: ['detectLocal', 'bridgeInterface'],
    help: 'A bridge interface name; traffic from it is local when detect-local-mode is BridgeInterface.' },
  { id: 'detectLocal.interfaceNamePrefix', flag: 'pod-interface-name-prefix', file: 'detectLocal.interfaceNamePrefix', kind: 'string', metavar: 'string', path: ['detectLocal', 'interfaceNamePrefix'],
    help: 'An interface name prefix; traffic from matching interfaces is local when detect-local-mode is InterfaceNamePrefix.' },
  { id: 'udpIdleTimeout', flag: 'udp-timeout', file: 'udpIdleTimeout', kind: 'duration', metavar: 'duration', path: ['udpIdleTimeoutMs'], zeroMeansDefault: true, check: positive, write: 'nonDefault',
    help: "How long an idle UDP connection will be kept open (e.g. '250ms', '2s'). Must be greater than 0. Only for proxy-mode=userspace." },
  { id: 'portRange', flag: 'proxy-port-range', file: 'portRange', kind: 'string', metavar: 'port-range', path: ['portRange'], check: (v) => checkPortRange(v as string),
    help: 'Range of host ports (beginPort-endPort, single port or beginPort+offset, inclusive) userspace mode may use. Empty means random ports.' },
  { id: 'configSyncPeriod', flag: 'config-sync-period', file: 'configSyncPeriod', kind: 'duration', metavar: 'duration', path: ['configSyncPeriodMs'], zeroMeansDefault: true, check: positive,
    help: 'How often configuration from the apiserver is refreshed. Must be greater than 0.' },
  { id: 'logging.verbosity', flag: 'v', short: 'v', file: 'logging.verbosity', kind: 'int', metavar: 'Level', path: ['verbosity'], check: inRange(0, INT32_MAX),
    help: 'Number for the log level verbosity.' },
  { id: 'logging.format', flag: 'logging-format', file: 'logging.format', kind: 'string', metavar: 'string', path: ['logging', 'format'], zeroMeansDefault: true, blankIsDefault: true, check: oneOf(LOG_FORMATS, 'format'),
    help: `Sets the log format. Permitted formats: ${LOG_FORMATS.map((f) => `"${f}"`).join(', ')}.` },
  { id: 'logging.vmodule', flag: 'vmodule', file: 'logging.vmodule', kind: 'string', metavar: 'pattern=N,...', path: ['logging', 'vmodule'], check: vmoduleCheck, fromFile: vmoduleFromFile, toFile: vmoduleToFile,
    help: 'Comma-separated list of pattern=N settings for file-filtered logging (only works for the text log format); a pattern matches a source file name without extension or a logger component such as proxier.' },
  { id: 'logging.flushFrequency', flag: 'log-flush-frequency', file: 'logging.flushFrequency', kind: 'duration', metavar: 'duration', path: ['logging', 'flushFrequencyMs'], zeroMeansDefault: true, check: positive, fromFile: nanosFromFile,
    help: 'Maximum number of seconds between log flushes (kpx writes every line at once).' },
  { id: 'logging.options.text.splitStream', flag: 'log-text-split-stream', file: 'logging.options.text.splitStream', kind: 'bool', metavar: '', path: ['logging', 'text', 'splitStream'],
    help: '[Alpha] In text format, write error messages to stderr and info messages to stdout.' },
  { id: 'logging.options.text.infoBufferSize', flag: 'log-text-info-buffer-size', file: 'logging.options.text.infoBufferSize', kind: 'string', metavar: 'quantity', path: ['logging', 'text', 'infoBufferSize'], blankIsDefault: true, zeroMeansDefault: true, check: quantityCheck, fromFile: quantityFromFile,
    help: '[Alpha] In text format with split output streams, the info messages can be buffered for a while to increase performance (kpx does not buffer).' },
  { id: 'logging.options.json.splitStream', flag: 'log-json-split-stream', file: 'logging.options.json.splitStream', kind: 'bool', metavar: '', path: ['logging', 'json', 'splitStream'],
    help: '[Alpha] In JSON format, write error messages to stderr and info messages to stdout.' },
  { id: 'logging.options.json.infoBufferSize', flag: 'log-json-info-buffer-size', file: 'logging.options.json.infoBufferSize', kind: 'string', metavar: 'quantity', path: ['logging', 'json', 'infoBufferSize'], blankIsDefault: true, zeroMeansDefault: true, check: quantityCheck, fromFile: quantityFromFile,
    help: '[Alpha] In JSON format with split output streams, the info messages can be buffered for a while to increase performance (kpx does not buffer).' },
  { id: 'kpx.config', flag: 'config', kind: 'string', metavar: 'string', path: ['configFile'],
    help: 'The path to the configuration file (a KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1).' },
  { id: 'kpx.writeConfigTo', flag: 'write-config-to', kind: 'string', metavar: 'string', path: ['writeConfigTo'],
    help: 'If set, write the effective configuration to this file as a KubeProxyConfiguration and exit.' },
  { id: 'kpx.cleanup', flag: 'cleanup', kind: 'bool', metavar: '', path: ['cleanup'],
    help: 'If true, clean up iptables, ipvs and nftables rules (of every mode) and exit.' },
  { id: 'kpx.manifests', flag: 'manifests', kind: 'string', metavar: 'dir', path: ['manifests'],
    help: '(kpx) Read Services, EndpointSlices and Nodes from a directory of YAML/JSON manifests, watched for changes, instead of the API server.' },
  { id: 'kpx.dryRun', flag: 'dry-run', kind: 'bool', metavar: '', path: ['dryRun'],
    help: '(kpx) Compute everything, touch no kernel state, and print what would be programmed.' },
];

/**
 * COMPAT_FLAGS: kube-proxy flags kpx accepts so an existing DaemonSet's command line keeps working, but ignores
 * (a warning names each one given). Their values are still checked for the right kind.
 */
export interface CompatFlag {
  readonly flag: string;
  readonly kind: 'string' | 'bool' | 'int' | 'number';
  readonly help: string;
}
export const COMPAT_FLAGS: readonly CompatFlag[] = [
  { flag: 'oom-score-adj', kind: 'int', help: 'kube-proxy: the oom-score-adj value for the process.' },
  { flag: 'profiling', kind: 'bool', help: 'kube-proxy: enable profiling via /debug/pprof.' },
  { flag: 'kube-api-qps', kind: 'number', help: 'kube-proxy: QPS to use while talking with the API server.' },
  { flag: 'kube-api-burst', kind: 'int', help: 'kube-proxy: burst to use while talking with the API server.' },
  { flag: 'kube-api-content-type', kind: 'string', help: 'kube-proxy: content type of requests sent to the API server.' },
  { flag: 'feature-gates', kind: 'string', help: 'kube-proxy: key=value pairs for alpha/experimental features.' },
  { flag: 'bind-address-hard-fail', kind: 'bool', help: 'kube-proxy: treat failure to bind a port as fatal.' },
  { flag: 'show-hidden-metrics-for-version', kind: 'string', help: 'kube-proxy: show metrics hidden since this version.' },
];

/** Values kube-proxy accepts for its boolean flags (Go's strconv.ParseBool). */
const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export function parseBool(raw: string): boolean {
  if (TRUE_WORDS.has(raw)) return true;
  if (FALSE_WORDS.has(raw)) return false;
  throw new Error('not a boolean (true or false)');
}

export function parseInt32(raw: string): number {
  if (!/^[+-]?\d+$/.test(raw)) throw new Error('not an integer');
  const n = Number(raw);
  if (n > INT32_MAX || n < -INT32_MAX - 1) throw new Error('integer out of range');
  return n;
}

function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** parseFlagText: a flag's text into the field's value; throws with a reason phrase. */
export function parseFlagText(spec: FieldSpec, raw: string): Value {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'bool':
      return parseBool(raw);
    case 'int':
      return parseInt32(raw);
    case 'duration':
      return parseDurationText(raw);
    case 'list':
    case 'csv':
      return splitList(raw);
  }
}

function parseDurationText(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (err) {
    if (err instanceof DurationError) throw new Error(`${err.reason}; use Go's form, e.g. "30s", "1m30s", "500ms"`);
    throw err;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** parseFileValue: a decoded YAML value into the field's value; throws with a reason phrase. */
export function parseFileValue(spec: FieldSpec, v: unknown): Value {
  switch (spec.kind) {
    case 'string':
    case 'csv':
      if (typeof v !== 'string') throw new Error(`must be a string, got ${describe(v)}`);
      return spec.kind === 'csv' ? splitList(v) : v;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`must be true or false, got ${describe(v)}`);
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`must be an integer, got ${describe(v)}`);
      if (Math.abs(v) > INT32_MAX) throw new Error('integer out of range');
      return v;
    case 'duration':
      if (typeof v !== 'string') throw new Error(`must be a duration string like "30s", got ${describe(v)}`);
      return parseDurationText(v);
    case 'list':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`must be a list of strings, got ${describe(v)}`);
      return (v as string[]).map((s) => s.trim());
  }
}

/** isZero: the "unset" value kube-proxy's defaulting replaces. */
export function isZero(v: Value): boolean {
  return v === '' || v === 0 || (Array.isArray(v) && v.length === 0);
}

export function getValue(config: KpxConfig, spec: FieldSpec): Value {
  let cur: unknown = config;
  for (const k of spec.path) cur = (cur as Record<string, unknown>)[k];
  return cur as Value;
}

export function setValue(config: KpxConfig, spec: FieldSpec, v: Value): void {
  let cur = config as unknown as Record<string, unknown>;
  for (const k of spec.path.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[spec.path[spec.path.length - 1]] = Array.isArray(v) ? [...v] : v;
}

export function defaultValue(spec: FieldSpec): Value {
  return getValue(DEFAULT_CONFIG, spec);
}

/** formatValue: a value as --help and error messages show it (durations in Go's form, lists comma-joined). */
export function formatValue(spec: FieldSpec, v: Value): string {
  if (spec.kind === 'duration') return formatDuration(v as number);
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

export const FIELD_BY_FLAG: ReadonlyMap<string, FieldSpec> = new Map(
  FIELDS.filter((f) => f.flag).map((f) => [f.flag!, f] as const),
);
export const FIELD_BY_SHORT: ReadonlyMap<string, FieldSpec> = new Map(
  FIELDS.filter((f) => f.short).map((f) => [f.short!, f] as const),
);
export const FIELD_BY_FILE: ReadonlyMap<string, FieldSpec> = new Map(
  FIELDS.filter((f) => f.file).map((f) => [f.file!, f] as const),
);
export const COMPAT_BY_FLAG: ReadonlyMap<string, CompatFlag> = new Map(COMPAT_FLAGS.map((f) => [f.flag, f] as const));
