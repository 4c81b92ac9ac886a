/**
 * api.ts: the subset of Kubernetes API objects kpx reads, as plain JSON shapes.
 *
 * Every field is optional because input comes from users (manifest files) and from the API server, and
 * the model must survive anything. The kube source hands objects over in this JSON shape (timestamps as
 * strings), so the model never depends on @kubernetes/client-node's classes.
 */

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string | null;
  creationTimestamp?: string | null;
}

export interface ApiServicePort {
  name?: string;
  protocol?: string; // TCP | UDP | SCTP; default TCP
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface ApiLoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: string; // VIP (default) | Proxy
}

export interface ApiService {
  apiVersion?: string;
  kind?: 'Service' | string;
  metadata?: ObjectMeta;
  spec?: {
    type?: string; // ClusterIP | NodePort | LoadBalancer | ExternalName
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    ports?: ApiServicePort[];
    selector?: Record<string, string>;
    externalIPs?: string[];
    externalName?: string;
    loadBalancerIP?: string;
    loadBalancerSourceRanges?: string[];
    sessionAffinity?: string; // None | ClientIP
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalTrafficPolicy?: string; // Cluster | Local
    internalTrafficPolicy?: string; // Cluster | Local
    healthCheckNodePort?: number;
    trafficDistribution?: string; // PreferClose | PreferSameZone | PreferSameNode
    publishNotReadyAddresses?: boolean;
  };
  status?: {
    loadBalancer?: { ingress?: ApiLoadBalancerIngress[] };
  };
}

export interface ApiEndpointPort {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
}

export interface ApiEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name?: string }[]; forNodes?: { name?: string }[] };
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

export interface ApiEndpointSlice {
  apiVersion?: string;
  kind?: 'EndpointSlice' | string;
  metadata?: ObjectMeta;
  addressType?: string; // IPv4 | IPv6 | FQDN
  endpoints?: ApiEndpoint[];
  ports?: ApiEndpointPort[];
}

export interface ApiNode {
  apiVersion?: string;
  kind?: 'Node' | string;
  metadata?: ObjectMeta;
  spec?: {
    podCIDR?: string;
    podCIDRs?: string[];
    taints?: { key?: string; value?: string; effect?: string }[];
  };
  status?: {
    addresses?: { type?: string; address?: string }[];
  };
}

/** The kinds a source delivers. */
export type ApiKind = 'Service' | 'EndpointSlice' | 'Node';

export type ApiObject = ApiService | ApiEndpointSlice | ApiNode;

/** Well-known labels and annotations kube-proxy honours. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
export const ANNOTATION_TOPOLOGY_MODE = 'service.kubernetes.io/topology-mode';
export const ANNOTATION_TOPOLOGY_AWARE_HINTS = 'service.kubernetes.io/topology-aware-hints';
export const ANNOTATION_LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
export const TAINT_TO_BE_DELETED = 'ToBeDeletedByClusterAutoscaler';
