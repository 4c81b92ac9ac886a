/**
 * index.ts: picks the cluster-state source from the configuration: `--manifests DIR` reads a directory,
 * anything else watches the Kubernetes API (kubeconfig, in-cluster service account or --master).
 */
import type { KpxConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { createKubeSource } from './kube.js';
import { createManifestsSource } from './manifests.js';
import type { ClusterSource } from './types.js';

export type { ClusterSource, SourceHandler } from './types.js';
export { createKubeSource } from './kube.js';
export { createManifestsSource } from './manifests.js';

/** createSource throws ConfigError when the kubeconfig or --master cannot be used. */
export function createSource(config: KpxConfig, nodeName: string, log: Logger): ClusterSource {
  if (config.manifests) return createManifestsSource(config.manifests, log);
  return createKubeSource({ kubeconfig: config.kubeconfig, master: config.master, nodeName, log });
}
