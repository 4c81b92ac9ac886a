/**
 * backend.ts: how a mode is constructed. src/modes.ts maps each ProxyMode to a ModeModule explicitly
 * (no import-time registry).
 */
import type { Registry } from 'prom-client';
import type { KpxConfig } from './config/types.js';
import type { Backend, IPFamily, ProxyState } from './model/types.js';
import type { Logger } from './util/log.js';

export interface BackendOptions {
  readonly family: IPFamily;
  readonly config: Readonly<KpxConfig>;
  readonly log: Logger;
  /** Mode-specific metrics are registered here (kube-proxy's names, prefix kubeproxy_). */
  readonly registry: Registry;
  /** Cluster CIDR of this family for local-traffic detection ("" when none given). */
  readonly clusterCIDR: string;
}

export interface ModeModule {
  createBackend(opts: BackendOptions): Backend;
  /** Pure: what this mode would program for the state (for --dry-run), as readable text. */
  describe(state: ProxyState, opts: BackendOptions): string;
}
