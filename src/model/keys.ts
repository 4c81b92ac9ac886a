/**
 * keys.ts: the names kpx keys everything by (ServiceKey "ns/name", ServicePortKey "ns/name:port"), and the
 * checks that keep names safe to embed in rules.
 *
 * Names end up inside iptables comments, ipset names and log lines; the API server guarantees DNS labels
 * but manifest files guarantee nothing, so a name that is not a DNS label is rejected here, once.
 */
import type { ApiEndpointSlice, ApiService } from './api.js';
import { LABEL_SERVICE_NAME } from './api.js';
import type { ServiceKey, ServicePortKey } from './types.js';

/** Namespace used when an object omits it, as kubectl does. */
export const DEFAULT_NAMESPACE = 'default';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label of at most 63 characters (namespaces, service names, port names). */
export function isDNSLabel(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 63 && DNS_LABEL.test(s);
}

function namespaceOf(ns: unknown): string | null {
  if (ns === undefined || ns === null || ns === '') return DEFAULT_NAMESPACE;
  return isDNSLabel(ns) ? ns : null;
}

/** "namespace/name" of a Service, or null when its name or namespace is missing or not a DNS label. */
export function serviceKeyOf(svc: ApiService): ServiceKey | null {
  const md = svc?.metadata;
  const ns = namespaceOf(md?.namespace);
  if (ns === null || !isDNSLabel(md?.name)) return null;
  return `${ns}/${md.name}`;
}

/**
 * "namespace/service" an EndpointSlice belongs to (label kubernetes.io/service-name), or null when the
 * label is missing or not a DNS label.
 */
export function serviceKeyOfSlice(slice: ApiEndpointSlice): ServiceKey | null {
  const md = slice?.metadata;
  const ns = namespaceOf(md?.namespace);
  const svc = md?.labels?.[LABEL_SERVICE_NAME];
  if (ns === null || !isDNSLabel(svc)) return null;
  return `${ns}/${svc}`;
}

/** kube-proxy's ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port. */
export function servicePortKeyOf(serviceKey: ServiceKey, portName: string): ServicePortKey {
  return portName === '' ? serviceKey : `${serviceKey}:${portName}`;
}
