/**
 * selectors.ts: which Services and EndpointSlices kpx proxies, stated once for both sources.
 *
 * kube-proxy lists both kinds with `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`
 * (cmd/kube-proxy/app/server.go): a service-proxy-name label hands the object to another proxy, and the
 * headless label marks EndpointSlices of headless services, which have no virtual IP to program.
 */
import { LABEL_HEADLESS, LABEL_SERVICE_PROXY_NAME } from '../model/api.js';
import type { ClusterObject } from './cluster-object.js';

/** The label selector kube-proxy's informers use, for Services and EndpointSlices alike. */
export const PROXIED_LABEL_SELECTOR = `!${LABEL_SERVICE_PROXY_NAME},!${LABEL_HEADLESS}`;

/** nodeFieldSelector selects only this node's Node object. */
export function nodeFieldSelector(nodeName: string): string {
  return `metadata.name=${nodeName}`;
}

/**
 * isProxied answers, for an object a source received, whether kpx should see it: the same filter as the
 * label selector above (the manifests source has no API server to apply it).
 */
export function isProxied(object: ClusterObject): boolean {
  if (object.kind === 'Node') return true;
  const labels = object.obj.metadata?.labels;
  if (!labels || typeof labels !== 'object') return true;
  return !Object.hasOwn(labels, LABEL_SERVICE_PROXY_NAME) && !Object.hasOwn(labels, LABEL_HEADLESS);
}
