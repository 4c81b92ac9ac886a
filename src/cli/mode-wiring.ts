/**
 * mode-wiring.ts: the parts every run builds from the configuration: a mode's backend options for one IP
 * family, and the cluster-state source.
 */
import type { Registry } from 'prom-client';
import type { BackendOptions } from '../backend.js';
import type { KpxConfig } from '../config/types.js';
import type { IPFamily, ProxyMode } from '../model/types.js';
import type { ClusterSource } from '../source/types.js';
import type { Logger } from '../util/log.js';
import { clusterCIDRFor } from './host-facts.js';

export function backendOptions(config: KpxConfig, mode: ProxyMode, family: IPFamily, registry: Registry, log: Logger): BackendOptions {
  return {
    family,
    config,
    log: log.child({ mode, family }),
    registry,
    clusterCIDR: clusterCIDRFor(config, family),
  };
}

/**
 * The cluster-state source (src/source/index.ts's choice), with each source's module loaded only when
 * used: the kube source pulls in @kubernetes/client-node, which takes seconds to load and is not needed
 * for --manifests. Throws ConfigError (one line) for an unusable kubeconfig or --master.
 */
export async function loadSource(config: KpxConfig, nodeName: string, log: Logger): Promise<ClusterSource> {
  if (config.manifests) return (await import('../source/manifests.js')).createManifestsSource(config.manifests, log);
  const { createKubeSource } = await import('../source/kube.js');
  return createKubeSource({ kubeconfig: config.kubeconfig, master: config.master, nodeName, log });
}
