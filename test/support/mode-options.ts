/**
 * mode-options.ts: a mode's BackendOptions for tests, resolved from a KpxConfig by the same resolver the CLI
 * uses (src/cli/mode-options.ts), so a test cannot hand a mode settings production would never build.
 */
import { networkInterfaces } from 'node:os';
import { Registry } from 'prom-client';
import type { BackendOptions, ProxyMode } from '../../src/backend.js';
import { hostFacts } from '../../src/cli/host-facts.js';
import { modeSettings } from '../../src/cli/mode-options.js';
import { defaultConfig, type KpxConfig } from '../../src/config/types.js';
import { clusterCIDRDetector, iptablesLocalMatch, type IptablesLocalMatch } from '../../src/local-traffic.js';
import type { IPFamily } from '../../src/model/types.js';
import type { ModeSettings } from '../../src/modes.js';
import { log as defaultLog, type Logger } from '../../src/util/log.js';

export interface ModeOptionsInput {
  readonly family?: IPFamily;
  /** Defaults to defaultConfig(); clusterCIDR, when given, replaces its clusterCIDRs. */
  readonly config?: KpxConfig;
  readonly clusterCIDR?: string;
  readonly log?: Logger;
  readonly registry?: Registry;
}

export function modeOptions<M extends ProxyMode>(mode: M, input: ModeOptionsInput = {}): BackendOptions<ModeSettings[M]> {
  const family = input.family ?? 'IPv4';
  const config = structuredClone(input.config ?? defaultConfig());
  if (input.clusterCIDR !== undefined) config.clusterCIDRs = input.clusterCIDR ? [input.clusterCIDR] : [];
  return {
    family,
    log: input.log ?? defaultLog,
    registry: input.registry ?? new Registry(),
    host: hostFacts(networkInterfaces),
    settings: modeSettings(config, mode, family),
  };
}

/** ClusterCIDR local-traffic detection as render options carry it ("" = no detector). */
export function clusterCIDRMatch(cidr: string): IptablesLocalMatch {
  return iptablesLocalMatch(clusterCIDRDetector(cidr), { podCIDRs: [] });
}
