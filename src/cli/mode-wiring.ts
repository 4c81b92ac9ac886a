/**
 * mode-wiring.ts: the parts every run builds from the configuration: a mode's backend for one IP family
 * (with its resolved settings), its --dry-run text, and the cluster-state source.
 */
import type { Registry } from 'prom-client';
import type { Backend, BackendContext, HostFacts, ProxyMode } from '../backend.js';
import type { KpxConfig } from '../config/types.js';
import type { IPFamily, ProxyState } from '../model/types.js';
import { MODES } from '../modes.js';
import type { ClusterSource } from '../source/types.js';
import type { Logger } from '../util/log.js';
import { modeSettings } from './mode-options.js';

export interface ModeContextInput {
  readonly family: IPFamily;
  readonly registry: Registry;
  readonly log: Logger;
  readonly host: HostFacts;
}

function context(mode: ProxyMode, input: ModeContextInput): BackendContext {
  return { family: input.family, registry: input.registry, host: input.host, log: input.log.child({ mode, family: input.family }) };
}

/** The backend of `mode` for one family. Throws ConfigError for a setting the mode cannot use. */
export function createModeBackend<M extends ProxyMode>(config: KpxConfig, mode: M, input: ModeContextInput): Backend {
  return MODES[mode].createBackend({ ...context(mode, input), settings: modeSettings(config, mode, input.family) });
}

/** What `mode` would program for the state (--dry-run). */
export function describeMode<M extends ProxyMode>(config: KpxConfig, mode: M, state: ProxyState, input: ModeContextInput): string {
  return MODES[mode].describe(state, { ...context(mode, input), settings: modeSettings(config, mode, input.family) });
}

/**
 * The cluster-state source (a manifests directory, else the kube API), with each source's module loaded only when
 * used: the kube source pulls in @kubernetes/client-node, which takes seconds to load and is not needed
 * for --manifests. Throws ConfigError (one line) for an unusable kubeconfig or --master.
 */
export async function loadSource(config: KpxConfig, nodeName: string, log: Logger): Promise<ClusterSource> {
  if (config.manifests) return (await import('../source/manifests.js')).createManifestsSource(config.manifests, log);
  const { createKubeSource } = await import('../source/kube.js');
  return createKubeSource({ kubeconfig: config.kubeconfig, master: config.master, nodeName, log });
}
