/**
 * service-info.ts: one Service → its service ports of one IP family, without endpoints (kube-proxy's
 * serviceToServiceMap + newBaseServiceInfo).
 *
 * Decided here: headless (clusterIP None or unset) and ExternalName services are not proxied; services
 * labelled service.kubernetes.io/service-proxy-name belong to another proxy; a service with no ClusterIP of
 * this family has no ports in this family; every address list is split by family and normalised; LB
 * ingress with ipMode Proxy is left to the load balancer. Bad input is reported through `warn` and skipped:
 * a bad ClusterIP or source range skips the service (a dropped source range would open it to everyone),
 * a bad port skips that port, a bad external/ingress IP skips that address.
 */
import type { ApiService } from './api.js';
import { LABEL_SERVICE_PROXY_NAME } from './api.js';
import { portProtoHash } from '../util/chain-hash.js';
import { parseIP } from '../util/ip.js';
import { splitCIDRsByFamily, splitIPsByFamily } from './family-split.js';
import { isDNSLabel, serviceKeyOf, servicePortKeyOf } from './keys.js';
import { safeWarn, show } from './show.js';
import type { IPFamily, Protocol, ServicePort } from './types.js';

/** A service port before endpoints are attached. */
export type ServicePortSpec = Omit<ServicePort,
  'endpoints' | 'clusterEndpoints' | 'localEndpoints' | 'allReachableEndpoints' | 'hasAnyEndpoints' | 'readyLocalEndpointCount'>;

export type Warn = (msg: string, fields?: Record<string, unknown>) => void;

/** kube-proxy's (and the API's) default ClientIP affinity timeout: 3 hours. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** The API's upper bound for sessionAffinityConfig.clientIP.timeoutSeconds: one day. */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

const PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'UDP', 'SCTP']);
const SERVICE_TYPES: ReadonlySet<string> = new Set(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']);

export function isProtocol(p: unknown): p is Protocol {
  return typeof p === 'string' && PROTOCOLS.has(p);
}

export function isPortNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * Why a Service is not proxied at all (in any family), or null when it is. Reasons that are normal
 * (headless, ExternalName, another proxy's service) are not warnings; the caller decides what to log.
 */
export function skipReason(svc: ApiService): { reason: string; warn: boolean } | null {
  if (serviceKeyOf(svc) === null) return { reason: 'missing or invalid name or namespace', warn: true };
  if (svc.metadata?.labels?.[LABEL_SERVICE_PROXY_NAME] !== undefined) {
    return { reason: 'handled by another service proxy', warn: false };
  }
  const spec = svc.spec;
  if (!spec || typeof spec !== 'object') return { reason: 'no spec', warn: true };
  const type = spec.type || 'ClusterIP';
  if (!SERVICE_TYPES.has(type)) return { reason: `unknown type ${show(type)}`, warn: true };
  if (type === 'ExternalName') return { reason: 'ExternalName', warn: false };
  const ips = clusterIPCandidates(svc);
  if (ips.length === 0 || ips.includes('None')) return { reason: 'headless (no clusterIP)', warn: false };
  for (const ip of ips) {
    if (!parseIP(ip)) return { reason: `invalid clusterIP ${show(ip)}`, warn: true };
  }
  return null;
}

function clusterIPCandidates(svc: ApiService): string[] {
  const spec = svc.spec ?? {};
  const out: string[] = [];
  if (Array.isArray(spec.clusterIPs)) {
    for (const ip of spec.clusterIPs) {
      if (ip !== '' && ip != null) out.push(typeof ip === 'string' ? ip : show(ip)); // non-strings fail parseIP
    }
  }
  if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '' && !out.includes(spec.clusterIP)) {
    out.unshift(spec.clusterIP);
  } else if (spec.clusterIP != null && typeof spec.clusterIP !== 'string') {
    out.unshift(show(spec.clusterIP)); // not an IP: reported as an invalid clusterIP
  }
  return out;
}

/** The service's ClusterIP of this family (normalised), or null (kube-proxy's GetClusterIPByFamily). */
export function clusterIPForFamily(svc: ApiService, family: IPFamily): string | null {
  for (const raw of clusterIPCandidates(svc)) {
    const p = parseIP(raw);
    if (p && p.family === family) return p.text;
  }
  return null;
}

function affinityTimeout(svc: ApiService, key: string, warn: Warn): number {
  const spec = svc.spec!;
  const affinity = spec.sessionAffinity ?? 'None';
  if (affinity === 'None' || affinity === '') return 0;
  if (affinity !== 'ClientIP') {
    warn('Ignoring unknown sessionAffinity', { service: key, sessionAffinity: affinity });
    return 0;
  }
  const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (t === undefined || t === null) return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_AFFINITY_TIMEOUT_SECONDS) {
    warn('Invalid sessionAffinityConfig.clientIP.timeoutSeconds; using the default', {
      service: key, timeoutSeconds: t, default: DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    });
    return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  }
  return t;
}

function policy(value: unknown, field: string, key: string, warn: Warn): 'Cluster' | 'Local' {
  if (value === 'Local') return 'Local';
  if (value !== undefined && value !== null && value !== '' && value !== 'Cluster') {
    warn(`Unknown ${field}; treating it as Cluster`, { service: key, [field]: value });
  }
  return 'Cluster';
}

/**
 * The service ports of one family, in spec order. Empty when the service is skipped or has no ClusterIP
 * of this family.
 */
export function servicePortSpecs(svc: ApiService, family: IPFamily, rawWarn: Warn): ServicePortSpec[] {
  const warn = safeWarn(rawWarn);
  const skip = skipReason(svc);
  if (skip) {
    if (skip.warn) {
      warn('Skipping Service', {
        reason: skip.reason, namespace: svc?.metadata?.namespace, name: svc?.metadata?.name,
      });
    }
    return [];
  }
  const serviceKey = serviceKeyOf(svc)!;
  const [namespace, name] = serviceKey.split('/');
  const spec = svc.spec!;
  const type = spec.type || 'ClusterIP';
  const clusterIP = clusterIPForFamily(svc, family);
  if (clusterIP === null) return [];

  const external = splitIPsByFamily(spec.externalIPs);
  for (const bad of external.invalid) warn('Ignoring invalid externalIP', { service: serviceKey, ip: bad });

  // The API allows whitespace around source ranges (a validation slip kube-proxy tolerates too).
  const ranges = splitCIDRsByFamily(Array.isArray(spec.loadBalancerSourceRanges)
    ? spec.loadBalancerSourceRanges.map((r) => (typeof r === 'string' ? r.trim() : r)) : []);
  if (ranges.invalid.length > 0) {
    warn('Skipping Service: invalid loadBalancerSourceRanges (skipping it would open the service to all)', {
      service: serviceKey, ranges: ranges.invalid,
    });
    return [];
  }

  const lbIPs: string[] = [];
  const ingress = Array.isArray(svc.status?.loadBalancer?.ingress) ? svc.status.loadBalancer.ingress : [];
  for (const ing of ingress) {
    if (!ing || !ing.ip) continue; // hostname-only ingress: nothing for the proxy to do
    if (ing.ipMode === 'Proxy') continue; // the load balancer proxies; traffic arrives for the node IPs
    const p = parseIP(ing.ip);
    if (!p) { warn('Ignoring invalid load balancer ingress IP', { service: serviceKey, ip: ing.ip }); continue; }
    if (p.family === family && !lbIPs.includes(p.text)) lbIPs.push(p.text);
  }

  const affinityTimeoutSeconds = affinityTimeout(svc, serviceKey, warn);
  const etp = policy(spec.externalTrafficPolicy, 'externalTrafficPolicy', serviceKey, warn);
  const itp = policy(spec.internalTrafficPolicy, 'internalTrafficPolicy', serviceKey, warn);
  // apiservice.ExternallyAccessible: the service type or its externalIPs (any family) make it reachable
  // from outside; only then does externalTrafficPolicy mean anything.
  const serviceExternallyAccessible = type === 'NodePort' || type === 'LoadBalancer'
    || external.IPv4.length + external.IPv6.length > 0;
  const externalPolicyLocal = etp === 'Local' && serviceExternallyAccessible;
  const internalPolicyLocal = itp === 'Local';

  let healthCheckNodePort = 0;
  if (type === 'LoadBalancer' && externalPolicyLocal) {
    const hc = spec.healthCheckNodePort;
    if (hc === undefined || hc === null || hc === 0) {
      warn('Service has no healthCheckNodePort', { service: serviceKey });
    } else if (!isPortNumber(hc)) {
      warn('Ignoring invalid healthCheckNodePort', { service: serviceKey, healthCheckNodePort: hc });
    } else {
      healthCheckNodePort = hc;
    }
  }

  const out: ServicePortSpec[] = [];
  const seenNames = new Set<string>();
  const seenPortProto = new Set<string>();
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i];
    const where = { service: serviceKey, port: i };
    if (!p || typeof p !== 'object') { warn('Skipping invalid service port', where); continue; }
    const portName = p.name ?? '';
    if (portName !== '' && !isDNSLabel(portName)) {
      warn('Skipping service port with an invalid name', { ...where, portName });
      continue;
    }
    const protocol = p.protocol ?? 'TCP';
    if (!isProtocol(protocol)) {
      warn('Skipping service port with an unknown protocol', { ...where, portName, protocol });
      continue;
    }
    if (!isPortNumber(p.port)) {
      warn('Skipping service port out of range 1-65535', { ...where, portName, value: p.port });
      continue;
    }
    let nodePort = 0;
    if (p.nodePort !== undefined && p.nodePort !== null && p.nodePort !== 0) {
      if (!isPortNumber(p.nodePort)) {
        warn('Skipping service port with a nodePort out of range 1-65535', { ...where, portName, nodePort: p.nodePort });
        continue;
      }
      if (type === 'NodePort' || type === 'LoadBalancer') nodePort = p.nodePort;
      else warn('Ignoring nodePort on a service of type ' + type, { ...where, portName, nodePort: p.nodePort });
    }
    if (seenNames.has(portName)) {
      warn('Skipping service port with a duplicate name', { ...where, portName });
      continue;
    }
    const pp = `${p.port}/${protocol}`;
    if (seenPortProto.has(pp)) {
      warn('Skipping service port with a duplicate port and protocol', { ...where, portName, port: pp });
      continue;
    }
    seenNames.add(portName);
    seenPortProto.add(pp);

    const key = servicePortKeyOf(serviceKey, portName);
    const externallyAccessible = nodePort !== 0 || lbIPs.length > 0 || external[family].length > 0;
    out.push({
      key,
      serviceKey,
      namespace,
      name,
      portName,
      protocol,
      hash: portProtoHash(key, protocol),
      family,
      clusterIP,
      port: p.port,
      nodePort,
      externalIPs: external[family],
      loadBalancerIPs: lbIPs,
      loadBalancerSourceRanges: ranges[family],
      affinityTimeoutSeconds,
      externalPolicyLocal,
      internalPolicyLocal,
      healthCheckNodePort,
      externallyAccessible,
      // Cluster endpoints serve iTP=Cluster traffic, and any external traffic: even with eTP=Local,
      // traffic from pods and the node to external addresses short-circuits to all endpoints.
      usesClusterEndpoints: !internalPolicyLocal || externallyAccessible,
      usesLocalEndpoints: internalPolicyLocal || (externalPolicyLocal && externallyAccessible),
    });
  }
  return out;
}
