/**
 * backend.ts: the contract between the sync loop and a proxy mode: what a mode is handed (resolved, typed
 * options: never the raw configuration, so no mode re-decides policy), what it must do (Backend), and what a
 * sync reports (SyncResult). src/modes.ts maps each ProxyMode to its ModeModule explicitly.
 */
import type { Registry } from 'prom-client';
import type { ChangeSet, IPFamily, ProxyState } from './model/types.js';
import type { LocalTrafficDetector } from './local-traffic.js';
import type { KpxError } from './util/errors.js';
import type { Logger } from './util/log.js';

/** Every proxy mode, in a stable order (iptables first: kube-proxy's default). The one list of mode names. */
export const PROXY_MODES = Object.freeze(['iptables', 'ipvs', 'userspace', 'nftables'] as const);
export type ProxyMode = (typeof PROXY_MODES)[number];

export function isProxyMode(v: unknown): v is ProxyMode {
  return (PROXY_MODES as readonly unknown[]).includes(v);
}

/** The host as a mode may ask about it while it runs (addresses change; a mode must not read the OS itself). */
export interface HostFacts {
  /** The host's own addresses of a family now, without kpx's own service-address device (kube-ipvs0). */
  addresses(family: IPFamily): string[];
}

/** What every mode is handed, whatever its settings. */
export interface BackendContext {
  readonly family: IPFamily;
  readonly log: Logger;
  /** Mode-specific metrics are registered here (kube-proxy's names, prefix kubeproxy_). */
  readonly registry: Registry;
  readonly host: HostFacts;
}

/** A mode's options: the shared context plus the settings that mode (and only it) reads, resolved once. */
export type BackendOptions<S> = BackendContext & { readonly settings: S };

export interface ModeModule<S> {
  createBackend(opts: BackendOptions<S>): Backend;
  /** Pure: what this mode would program for the state (for --dry-run), as readable text. */
  describe(state: ProxyState, opts: BackendOptions<S>): string;
}

export interface SyncError {
  readonly code: KpxError['code'];
  readonly message: string;
}

/** A failed sync is retried by the runner (with backoff, and in full); a mode has no other answer to give. */
export type SyncResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: SyncError };

/**
 * Backend: one proxy mode for one IP family. sync() converges the node to the state and never throws;
 * cleanup() removes everything the mode (or kube-proxy's same mode) made; init() does the idempotent
 * privileged host set-up (sysctls, base chains) once before the first sync. Whether a sync rewrites
 * everything is the runner's decision (ChangeSet.full); a backend only adds what it alone can know (nothing
 * written yet, its table flushed behind its back).
 */
export interface Backend {
  readonly mode: ProxyMode;
  readonly family: IPFamily;
  init(): Promise<void>;
  sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult>;
  cleanup(): Promise<void>;
  /** Stops what the backend runs itself (userspace listeners); kernel rules stay in place. */
  close(): Promise<void>;
  /**
   * Whether this mode left anything on the node. Starting in another mode calls cleanup() only when this says
   * so: modes share chains (KUBE-SERVICES, KUBE-POSTROUTING), and cleaning on every restart would cut traffic
   * until the first sync. Absent means "assume yes".
   */
  hasLeftovers?(): Promise<boolean>;
}

export type { LocalTrafficDetector };
