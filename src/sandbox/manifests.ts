/**
 * manifests.ts: Services, EndpointSlices and Nodes for the sandbox's cluster, written as YAML files into
 * the directory kpx's manifests source watches. Builders are pure; ManifestDir does the file I/O and
 * replaces files atomically (write elsewhere, then rename), so the watcher never reads half a file.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ApiEndpointSlice, ApiNode, ApiService } from '../model/api.js';
import type { NodePlan } from './plan.js';

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface PortSpec {
  /** Port name; required when a service has more than one port. */
  name?: string;
  port: number;
  /** The pods' port (default: port). */
  targetPort?: number;
  protocol?: PortProtocol;
  nodePort?: number;
}

export interface ServiceSpec {
  name: string;
  namespace?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  clusterIP: string;
  /** Makes the service dual-stack (RequireDualStack) with this IPv6 ClusterIP. */
  clusterIPv6?: string;
  ports: readonly PortSpec[];
  externalIPs?: readonly string[];
  /** status.loadBalancer.ingress IPs. */
  loadBalancerIPs?: readonly string[];
  loadBalancerSourceRanges?: readonly string[];
  sessionAffinity?: 'None' | 'ClientIP';
  affinityTimeoutSeconds?: number;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
}

export interface EndpointSpec {
  ip: string;
  /** The pod's IPv6 address (dual-stack sandboxes): listed in the service's IPv6 slice. */
  ipv6?: string;
  /** The node the pod runs on ("node1"). */
  nodeName: string;
  /** Pod name (targetRef), for readability of the manifests. */
  podName?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

/** An endpoint for a pod of the sandbox: ready and serving unless told otherwise. */
export function endpointFor(pod: { name: string; ip: string; node: string; v6?: { ip: string } }, conditions: Pick<EndpointSpec, 'ready' | 'serving' | 'terminating'> = {}): EndpointSpec {
  return { ip: pod.ip, ...(pod.v6 ? { ipv6: pod.v6.ip } : {}), nodeName: pod.node, podName: pod.name, ...conditions };
}

export function serviceManifest(spec: ServiceSpec): ApiService {
  const type = spec.type ?? 'ClusterIP';
  const svc: ApiService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: spec.namespace ?? 'default' },
    spec: {
      type,
      clusterIP: spec.clusterIP,
      ...(spec.clusterIPv6
        ? { clusterIPs: [spec.clusterIP, spec.clusterIPv6], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }
        : { clusterIPs: [spec.clusterIP], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' }),
      ports: spec.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol ?? 'TCP',
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
      ...(spec.externalIPs?.length ? { externalIPs: [...spec.externalIPs] } : {}),
      ...(spec.loadBalancerSourceRanges?.length ? { loadBalancerSourceRanges: [...spec.loadBalancerSourceRanges] } : {}),
      sessionAffinity: spec.sessionAffinity ?? 'None',
      ...(spec.sessionAffinity === 'ClientIP'
        ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: spec.affinityTimeoutSeconds ?? 10800 } } }
        : {}),
      ...(type !== 'ClusterIP' || spec.externalIPs?.length ? { externalTrafficPolicy: spec.externalTrafficPolicy ?? 'Cluster' } : {}),
      internalTrafficPolicy: spec.internalTrafficPolicy ?? 'Cluster',
      ...(spec.healthCheckNodePort ? { healthCheckNodePort: spec.healthCheckNodePort } : {}),
    },
  };
  if (spec.loadBalancerIPs?.length) svc.status = { loadBalancer: { ingress: spec.loadBalancerIPs.map((ip) => ({ ip })) } };
  return svc;
}

/**
 * One EndpointSlice listing `endpoints` for the service's ports (at their targetPort); `portNames`
 * limits it to some ports, so different ports of one service can have different endpoints.
 */
export function endpointSliceManifest(spec: ServiceSpec, endpoints: readonly EndpointSpec[], sliceName = `${spec.name}-1`, portNames?: readonly string[], family: 'IPv4' | 'IPv6' = 'IPv4'): ApiEndpointSlice {
  const ports = portNames ? spec.ports.filter((p) => portNames.includes(p.name ?? '')) : spec.ports;
  const listed = family === 'IPv4' ? endpoints : endpoints.filter((e) => e.ipv6 !== undefined);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName,
      namespace: spec.namespace ?? 'default',
      labels: { 'kubernetes.io/service-name': spec.name, 'endpointslice.kubernetes.io/managed-by': 'kpx-sandbox' },
    },
    addressType: family,
    endpoints: listed.map((e) => {
      const terminating = e.terminating ?? false;
      return {
        addresses: [family === 'IPv4' ? e.ip : e.ipv6!],
        conditions: { ready: e.ready ?? !terminating, serving: e.serving ?? true, terminating },
        nodeName: e.nodeName,
        ...(e.podName ? { targetRef: { kind: 'Pod', name: e.podName, namespace: spec.namespace ?? 'default' } } : {}),
      };
    }),
    ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: p.protocol ?? 'TCP', port: p.targetPort ?? p.port })),
  };
}

export function nodeManifest(node: NodePlan): ApiNode {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } },
    spec: { podCIDR: node.podCIDR, podCIDRs: node.v6 ? [node.podCIDR, node.v6.podCIDR] : [node.podCIDR] },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.nodeIP },
        ...(node.v6 ? [{ type: 'InternalIP', address: node.v6.nodeIP }] : []),
        { type: 'Hostname', address: node.name },
      ],
    },
  };
}

/** A watched manifests directory with atomic file replacement. */
export class ManifestDir {
  readonly dir: string;
  private readonly staging: string;
  private seq = 0;

  /** `root` is a private directory; the manifests go to root/manifests, staging files beside it. */
  constructor(root: string) {
    this.dir = join(root, 'manifests');
    this.staging = join(root, 'manifests-staging');
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.staging, { recursive: true });
  }

  /** Writes (or replaces) one file holding one or more objects (multi-document YAML). */
  write(fileName: string, objects: object | readonly object[]): void {
    if (!/^[a-zA-Z0-9._-]+\.ya?ml$/.test(fileName)) throw new Error(`bad manifest file name ${fileName}`);
    const list = Array.isArray(objects) ? objects : [objects];
    const text = list.map((o) => stringify(o)).join('---\n');
    const tmp = join(this.staging, `${this.seq++}-${fileName}`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.dir, fileName));
  }

  remove(fileName: string): void {
    const p = join(this.dir, fileName);
    if (existsSync(p)) rmSync(p);
  }

  /** A service and its endpoints, one file each, named after the service. */
  writeService(spec: ServiceSpec, endpoints: readonly EndpointSpec[]): void {
    const ns = spec.namespace ?? 'default';
    this.write(`svc-${ns}-${spec.name}.yaml`, serviceManifest(spec));
    this.writeEndpoints(spec, endpoints);
  }

  /** Replaces the endpoints of a service (scaling, replacing pods, terminating). */
  writeEndpoints(spec: ServiceSpec, endpoints: readonly EndpointSpec[]): void {
    const ns = spec.namespace ?? 'default';
    this.write(`eps-${ns}-${spec.name}.yaml`, endpointSliceManifest(spec, endpoints));
    // A dual-stack service has one slice per address family, as the EndpointSlice controller makes them.
    if (spec.clusterIPv6) this.write(`eps-${ns}-${spec.name}-v6.yaml`, endpointSliceManifest(spec, endpoints, `${spec.name}-v6`, undefined, 'IPv6'));
  }

  /** Replaces the endpoints of a service with one slice (and file) per group of ports. */
  writeEndpointsPerPort(spec: ServiceSpec, groups: readonly { portNames: readonly string[]; endpoints: readonly EndpointSpec[] }[]): void {
    const ns = spec.namespace ?? 'default';
    groups.forEach((g, i) => {
      this.write(`eps-${ns}-${spec.name}${i === 0 ? '' : `-${i + 1}`}.yaml`, endpointSliceManifest(spec, g.endpoints, `${spec.name}-${i + 1}`, g.portNames));
    });
  }

  removeService(spec: ServiceSpec): void {
    const ns = spec.namespace ?? 'default';
    this.remove(`svc-${ns}-${spec.name}.yaml`);
    this.remove(`eps-${ns}-${spec.name}.yaml`);
    this.remove(`eps-${ns}-${spec.name}-v6.yaml`);
  }

  writeNodes(nodes: readonly NodePlan[]): void {
    for (const n of nodes) this.write(`node-${n.name}.yaml`, nodeManifest(n));
  }
}
