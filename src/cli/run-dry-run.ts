/**
 * run-dry-run.ts: `kpx --dry-run`: the source lists the cluster, the model computes one ProxyState per
 * family, and kpx prints it and what the chosen mode would program. No kernel call, no port opened.
 */
import { Registry } from 'prom-client';
import type { KpxConfig } from '../config/types.js';
import type { ProxyState } from '../model/types.js';
import type { ClusterSource } from '../source/types.js';
import { ClusterCache } from '../sync/cluster-cache.js';
import type { Clock } from '../util/clock.js';
import { describeProxyState } from '../sync/describe-state.js';
import { ProxyStateBuilder } from '../sync/state-builder.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { hostAddressesFrom, hostFacts, ipFamiliesFor, nodeNameFor } from './host-facts.js';
import { describeMode, loadSource } from './mode-wiring.js';
import { effectiveNodePortAddresses } from './mode-options.js';
import type { RunEnvironment } from './run-environment.js';

function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => reject(new Error(what)), ms);
    p.then((v) => { clock.clearTimeout(t); resolve(v); }, (e) => { clock.clearTimeout(t); reject(e); });
  });
}

/** --dry-run: list, compute, print; no kernel, no ports. */
export async function runDryRun(config: KpxConfig, env: RunEnvironment): Promise<number> {
  const log = env.log.child({ component: 'dry-run' });
  const nodeName = nodeNameFor(config, env.hostname);
  const hostAddresses = hostAddressesFrom(env.networkInterfaces());
  const families = ipFamiliesFor(hostAddresses);
  let source: ClusterSource;
  try {
    source = await loadSource(config, nodeName, log);
  } catch (err) {
    env.stderr(`kpx: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }
  const cache = new ClusterCache({ nodeName, clock: env.clock, log });
  try {
    await source.start(cache);
    const seconds = Math.round(env.dryRunTimeoutMs / 1000);
    await withTimeout(cache.whenInitialized(), env.dryRunTimeoutMs, env.clock,
      `--dry-run: the ${source.name} source did not list Services and EndpointSlices within ${seconds}s` +
      ` (Services ${cache.isSynced('Service') ? 'listed' : 'pending'}, EndpointSlices ${cache.isSynced('EndpointSlice') ? 'listed' : 'pending'})`);
  } catch (err) {
    await source.stop().catch(() => undefined);
    env.stderr(`kpx: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }
  await source.stop().catch((err) => log.warn('stopping the source failed', { error: errorMessage(err) }));

  const builder = new ProxyStateBuilder({
    families, nodeName, hostAddresses,
    nodePortAddresses: effectiveNodePortAddresses(config),
    localhostNodePorts: config.iptables.localhostNodePorts,
    log,
  });
  const states = builder.build(cache, new Set());
  const out: string[] = [];
  out.push(`kpx dry run: mode ${config.mode}, source ${source.name}, node ${nodeName}, families ${families.join(', ')}\n`);
  out.push('Nothing is programmed: no kernel state is read or changed and no port is opened.\n\n');
  for (const family of families) {
    const state = states.get(family);
    if (!state) continue;
    out.push(describeProxyState(state));
    out.push('\n');
    out.push(modeDescription(config, state, env, log));
    out.push('\n');
  }
  env.stdout(out.join(''));
  return 0;
}

/** The mode's own account of what it would program; a mode that cannot describe yet says so. */
function modeDescription(config: KpxConfig, state: ProxyState, env: RunEnvironment, log: Logger): string {
  const header = `${config.mode} mode would program (${state.family}):\n`;
  try {
    const text = describeMode(config, config.mode, state, { family: state.family, registry: new Registry(), log, host: hostFacts(env.networkInterfaces) });
    return header + (text.endsWith('\n') ? text : text + '\n');
  } catch (err) {
    return header + `  (the ${config.mode} mode cannot describe its rules yet: ${errorMessage(err).split('\n')[0]})\n`;
  }
}
