/**
 * run.ts: wires kpx together for one of its three runs.
 *
 *  - `--cleanup`: every mode's backend removes what it (or kube-proxy's same mode) left, for both IP
 *    families; idempotent; exit 0 when everything is clean.
 *  - `--dry-run`: the source lists the cluster, the model computes one ProxyState per family, and kpx
 *    prints it and what the chosen mode would program. No kernel call, no port opened.
 *  - the proxy: metrics and healthz servers, the source, the proxier with one backend per family and its
 *    bounded-frequency runner. Before the first sync (once Services and EndpointSlices are listed) the
 *    other modes' leftovers are cleaned up and the chosen mode's init() runs, as kube-proxy does, so a
 *    mode switch costs at most one sync of disruption. SIGTERM/SIGINT stop syncing and leave kernel rules
 *    in place so traffic flows until the next kpx starts (userspace closes its listeners: it carries the
 *    traffic itself).
 *
 * IP families: IPv4 always, plus IPv6 when the host has a global IPv6 address (scope global: not
 * loopback, not link-local fe80::/10; unique-local fd00::/8 counts, as it does for iproute2). Dual-stack is
 * one backend per family behind one proxier, as kube-proxy's metaproxier.
 */
import { hostname, networkInterfaces } from 'node:os';
import { Registry } from 'prom-client';
import type { BackendOptions, ModeModule } from '../backend.js';
import type { KpxConfig } from '../config/types.js';
import { nodeInfoFrom, resolveNodePortAddresses } from '../model/index.js';
import type { Backend, IPFamily, ProxyMode, ProxyState } from '../model/types.js';
import { MODES, MODE_NAMES, modeModule } from '../modes.js';
import { createProxyMetrics, type ProxyMetrics } from '../server/metrics.js';
import { startMetricsServer } from '../server/metrics-server.js';
import { startHealthzServer } from '../server/healthz-server.js';
import { ProxyHealth } from '../server/proxy-health.js';
import { ServiceHealthServer } from '../server/service-health.js';
import type { ClusterSource } from '../source/types.js';
import { ClusterCache } from '../sync/cluster-cache.js';
import { systemClock, type Clock } from '../sync/clock.js';
import { describeProxyState } from '../sync/describe-state.js';
import { Proxier, syncEndChannel } from '../sync/proxier.js';
import { Conntrack } from '../net/conntrack.js';
import { applyConntrackSettings } from './conntrack-settings.js';
import { ProxyStateBuilder } from '../sync/state-builder.js';
import { createEventRecorder, type EventSink } from '../events/recorder.js';
import { errorMessage } from '../util/errors.js';
import { log as rootLog, type Logger } from '../util/log.js';

/** Everything runProxy takes from the process, injectable for tests. */
export interface RunEnvironment {
  readonly clock: Clock;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly hostname: () => string;
  readonly networkInterfaces: () => ReturnType<typeof networkInterfaces>;
  /** Resolves with the signal's name when the process is asked to stop. */
  readonly waitForStop: () => Promise<string>;
  readonly log: Logger;
  /** How long --dry-run waits for the source's initial lists. */
  readonly dryRunTimeoutMs: number;
}

/**
 * Resolves on the first SIGTERM or SIGINT. A second one while shutting down exits at once (status 1): an
 * operator's second Ctrl-C, or a kubelet's repeated TERM, must never wait on a hung sync.
 */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const first = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const second = (again: NodeJS.Signals) => {
        process.stderr.write(`kpx: ${again} received again while stopping; exiting now\n`);
        process.exit(1);
      };
      process.once('SIGTERM', second);
      process.once('SIGINT', second);
      resolve(sig);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

const processEnvironment: RunEnvironment = {
  clock: systemClock,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  hostname,
  networkInterfaces,
  waitForStop: waitForSignal,
  log: rootLog,
  dryRunTimeoutMs: 60_000,
};

/** The node's name: --hostname-override, else the host name, lowercased (kube-proxy's GetHostname). */
export function nodeNameFor(config: KpxConfig, host: () => string = hostname): string {
  const name = config.hostnameOverride.trim() || host().trim();
  return name.toLowerCase();
}

/** Every address on the host's interfaces, without IPv6 zone suffixes. */
export function hostAddressesFrom(ifaces: ReturnType<typeof networkInterfaces>): string[] {
  const out: string[] = [];
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      const addr = a.address.split('%')[0];
      if (!out.includes(addr)) out.push(addr);
    }
  }
  return out;
}

/** True for an IPv6 address of global scope (not ::1, not ::, not link-local fe80::/10, not v4-mapped). */
export function isGlobalIPv6(addr: string): boolean {
  if (!addr.includes(':')) return false;
  const a = addr.toLowerCase();
  if (a === '::1' || a === '::' || a.startsWith('::ffff:')) return false;
  const first = parseInt(a.split(':')[0] || '0', 16);
  return (first & 0xffc0) !== 0xfe80;
}

/** IPv4, plus IPv6 when the host has a global IPv6 address (see the file comment). */
export function ipFamiliesFor(hostAddresses: readonly string[]): IPFamily[] {
  return hostAddresses.some(isGlobalIPv6) ? ['IPv4', 'IPv6'] : ['IPv4'];
}

/** The configured cluster CIDR of this family ("" when none). */
export function clusterCIDRFor(config: KpxConfig, family: IPFamily): string {
  return config.clusterCIDRs.find((c) => c.includes(':') === (family === 'IPv6')) ?? '';
}

function backendOptions(config: KpxConfig, mode: ProxyMode, family: IPFamily, registry: Registry, log: Logger): BackendOptions {
  return {
    family,
    config,
    log: log.child({ mode, family }),
    registry,
    clusterCIDR: clusterCIDRFor(config, family),
  };
}

/** The sync periods of the chosen mode (iptables' for userspace, as kube-proxy's userspace mode did). */
function syncPeriods(config: KpxConfig): { syncPeriodMs: number; minSyncPeriodMs: number } {
  const p = config.mode === 'ipvs' ? config.ipvs : config.iptables;
  return { syncPeriodMs: p.syncPeriodMs, minSyncPeriodMs: p.minSyncPeriodMs };
}

/**
 * The cluster-state source (src/source/index.ts's choice), with each source's module loaded only when
 * used: the kube source pulls in @kubernetes/client-node, which takes seconds to load and is not needed
 * for --manifests. Throws ConfigError (one line) for an unusable kubeconfig or --master.
 */
async function loadSource(config: KpxConfig, nodeName: string, log: Logger): Promise<ClusterSource> {
  if (config.manifests) return (await import('../source/manifests.js')).createManifestsSource(config.manifests, log);
  const { createKubeSource } = await import('../source/kube.js');
  return createKubeSource({ kubeconfig: config.kubeconfig, master: config.master, nodeName, log });
}

/**
 * After a mode switch (another mode's leftovers were removed), once the new mode's first sync is in: drop the
 * connections that were attempted in the gap and never translated, so no client trips over them later.
 */
function clearStalledConnectsAfterSwitch(families: ReadonlySet<IPFamily>, log: Logger): void {
  const onEnd = (msg: unknown) => {
    if (!(msg as { ok?: boolean }).ok) return;
    syncEndChannel.unsubscribe(onEnd);
    for (const family of families) {
      new Conntrack({ family }).clearStalledConnects().then(
        (n) => { if (n > 0) log.info('cleared connections attempted during the mode switch', { family, entries: n }); },
        (err: unknown) => log.warn('could not clear connections attempted during the mode switch', { family, error: errorMessage(err) }),
      );
    }
  };
  syncEndChannel.subscribe(onEnd);
}

/**
 * Where Events go: the API server the source watches (events.k8s.io/v1); with --manifests there is no API,
 * so events are only logged. A kubeconfig problem here was already reported by the source.
 */
async function eventSink(config: KpxConfig, log: Logger): Promise<EventSink | null> {
  if (config.manifests) return null;
  try {
    const { loadKubeConfig } = await import('../source/kube-config.js');
    const { createKubeEventSink } = await import('../events/kube-sink.js');
    return createKubeEventSink(loadKubeConfig({ kubeconfig: config.kubeconfig, master: config.master }));
  } catch (err) {
    log.warn('events will only be logged', { error: errorMessage(err) });
    return null;
  }
}

/**
 * Where the per-service health-check node ports listen: like kube-proxy, on the node-port addresses, so
 * all addresses unless --nodeport-addresses narrows them. Resolved once at start from the host's
 * interfaces ("primary" needs the Node object, which is not known yet: it falls back to all addresses).
 */
export function healthCheckAddresses(config: KpxConfig, nodeName: string, hostAddresses: readonly string[], families: readonly IPFamily[], log: Logger): string[] {
  if (config.nodePortAddresses.length === 0) return [];
  const ips: string[] = [];
  for (const family of families) {
    const node = nodeInfoFrom(undefined, nodeName, family, hostAddresses);
    const npa = resolveNodePortAddresses(config.nodePortAddresses, node, hostAddresses, false);
    if (npa.all) return [];
    for (const ip of npa.ips) if (!ips.includes(ip)) ips.push(ip);
  }
  if (ips.length === 0) log.warn('no host address matches --nodeport-addresses; health-check node ports listen on all addresses', { nodePortAddresses: config.nodePortAddresses.join(',') });
  return ips;
}

export async function runProxy(config: KpxConfig, env: RunEnvironment = processEnvironment): Promise<number> {
  try {
    if (config.cleanup) return await runCleanup(config, env);
    if (config.dryRun) return await runDryRun(config, env);
    return await runNormal(config, env);
  } catch (err) {
    // Anything that escapes is a bug or an environment problem: one line, exit 1; the stack at -v 2.
    env.stderr(`kpx: ${errorMessage(err).split('\n')[0]}\n`);
    if (err instanceof Error && err.stack) env.log.v(2).info('stack of the error above', { stack: err.stack });
    return 1;
  }
}

/** --cleanup: every mode's cleanup() for both families; one log line per step; exit 1 if any step failed. */
async function runCleanup(config: KpxConfig, env: RunEnvironment): Promise<number> {
  const log = env.log.child({ component: 'cleanup' });
  let failed = 0;
  for (const mode of MODE_NAMES) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      try {
        const backend = MODES[mode].createBackend(backendOptions(config, mode, family, new Registry(), log));
        await backend.cleanup();
        log.info('removed leftovers', { mode, family });
      } catch (err) {
        failed++;
        log.error('cleanup failed', { mode, family, error: errorMessage(err) });
      }
    }
  }
  if (failed > 0) {
    env.stderr(`kpx: --cleanup: ${failed} step(s) failed; see the log above\n`);
    return 1;
  }
  return 0;
}

function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => reject(new Error(what)), ms);
    p.then((v) => { clock.clearTimeout(t); resolve(v); }, (e) => { clock.clearTimeout(t); reject(e); });
  });
}

/** --dry-run: list, compute, print; no kernel, no ports. */
async function runDryRun(config: KpxConfig, env: RunEnvironment): Promise<number> {
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
    nodePortAddresses: config.nodePortAddresses,
    localhostNodePorts: config.iptables.localhostNodePorts,
    log,
  });
  const states = builder.build(cache, new Set());
  const mode = modeModule(config.mode);
  const out: string[] = [];
  out.push(`kpx dry run: mode ${config.mode}, source ${source.name}, node ${nodeName}, families ${families.join(', ')}\n`);
  out.push('Nothing is programmed: no kernel state is read or changed and no port is opened.\n\n');
  for (const family of families) {
    const state = states.get(family);
    if (!state) continue;
    out.push(describeProxyState(state));
    out.push('\n');
    out.push(describeMode(mode, config, state, log));
    out.push('\n');
  }
  env.stdout(out.join(''));
  return 0;
}

/** The mode's own account of what it would program; a mode that cannot describe yet says so. */
function describeMode(mode: ModeModule, config: KpxConfig, state: ProxyState, log: Logger): string {
  const header = `${config.mode} mode would program (${state.family}):\n`;
  try {
    const text = mode.describe(state, backendOptions(config, config.mode, state.family, new Registry(), log));
    return header + (text.endsWith('\n') ? text : text + '\n');
  } catch (err) {
    return header + `  (the ${config.mode} mode cannot describe its rules yet: ${errorMessage(err).split('\n')[0]})\n`;
  }
}

interface Closable { close(): Promise<void> }

async function closeQuietly(what: string, c: Closable | undefined, log: Logger): Promise<void> {
  if (!c) return;
  try {
    await c.close();
  } catch (err) {
    log.warn(`closing ${what} failed`, { error: errorMessage(err) });
  }
}

/** The proxy itself: servers, source, proxier, runner; until SIGTERM/SIGINT. */
async function runNormal(config: KpxConfig, env: RunEnvironment): Promise<number> {
  const log = env.log;
  const clock = env.clock;
  const nodeName = nodeNameFor(config, env.hostname);
  const hostAddresses = hostAddressesFrom(env.networkInterfaces());
  const families = ipFamiliesFor(hostAddresses);
  const { syncPeriodMs, minSyncPeriodMs } = syncPeriods(config);
  const metrics: ProxyMetrics = createProxyMetrics();
  const health = new ProxyHealth({ clock, healthTimeoutMs: 2 * syncPeriodMs });
  const opened: { what: string; c: Closable }[] = [];
  const closeAll = async () => {
    for (const { what, c } of opened.reverse()) await closeQuietly(what, c, log);
  };

  // Configuration the run depends on first (kubeconfig, mode): a bad one fails before any port is opened.
  let source: ClusterSource;
  let backends: Backend[];
  try {
    source = await loadSource(config, nodeName, log);
  } catch (err) {
    env.stderr(`kpx: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }
  try {
    const mode = modeModule(config.mode);
    backends = families.map((family) => mode.createBackend(backendOptions(config, config.mode, family, metrics.registry, log)));
  } catch (err) {
    env.stderr(`kpx: the ${config.mode} mode cannot start: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }

  // Then the servers: a port conflict gives one line and exit 1 before anything touches the kernel.
  try {
    if (config.metricsBindAddress !== '') {
      opened.push({ what: 'the metrics server', c: await startMetricsServer({ address: config.metricsBindAddress, registry: metrics.registry, mode: config.mode, log }) });
    }
  } catch (err) {
    env.stderr(`kpx: cannot serve metrics on --metrics-bind-address ${config.metricsBindAddress}: ${errorMessage(err).split('\n')[0]}\n`);
    await closeAll();
    return 1;
  }
  try {
    if (config.healthzBindAddress !== '') {
      opened.push({ what: 'the healthz server', c: await startHealthzServer({ address: config.healthzBindAddress, health, metrics, log }) });
    }
  } catch (err) {
    env.stderr(`kpx: cannot serve health checks on --healthz-bind-address ${config.healthzBindAddress}: ${errorMessage(err).split('\n')[0]}\n`);
    await closeAll();
    return 1;
  }

  const events = createEventRecorder({ sink: await eventSink(config, log), nodeName, clock, log: log.child({ component: 'events' }) });
  const serviceHealth = new ServiceHealthServer({
    addresses: healthCheckAddresses(config, nodeName, hostAddresses, families, log),
    health,
    log: log.child({ component: 'service-health' }),
    // kube-proxy's event, so operators see in `kubectl describe service` why the LB marks the node down.
    onBindError: (entry, err) => events.event(
      { kind: 'Service', namespace: entry.namespace, name: entry.name }, 'Warning', 'FailedToStartServiceHealthcheck',
      `node ${nodeName} failed to start healthcheck "${entry.namespace}/${entry.name}" on port ${entry.port}: ${errorMessage(err)}`),
  });
  opened.push({ what: 'the service health-check servers', c: serviceHealth });

  let othersCleaned = false;
  let conntrackApplied = false;
  const switchedFrom = new Set<IPFamily>();
  clearStalledConnectsAfterSwitch(switchedFrom, log);
  const prepare = async () => {
    if (!othersCleaned) {
      // Like kube-proxy: remove the other modes' leftovers right before our first sync, so a mode switch
      // leaves no stale rules and the gap in service is at most this one sync.
      for (const other of MODE_NAMES.filter((m) => m !== config.mode)) {
        for (const family of families) {
          try {
            const leftover = MODES[other].createBackend(backendOptions(config, other, family, new Registry(), log));
            if (leftover.hasLeftovers && !(await leftover.hasLeftovers())) continue;
            await leftover.cleanup();
            switchedFrom.add(family);
            log.info('removed leftovers of another mode', { mode: other, family });
          } catch (err) {
            log.warn('cleaning up another mode\'s leftovers failed', { mode: other, family, error: errorMessage(err) });
          }
        }
      }
      othersCleaned = true;
    }
    if (!conntrackApplied) {
      await applyConntrackSettings(config.conntrack, log.child({ component: 'conntrack' }));
      conntrackApplied = true;
    }
    for (const b of backends) await b.init();
  };

  const proxier = new Proxier({
    nodeName, backends, hostAddresses,
    nodePortAddresses: config.nodePortAddresses,
    localhostNodePorts: config.iptables.localhostNodePorts,
    minSyncPeriodMs, syncPeriodMs,
    clock, log: log.child({ component: 'proxier' }), metrics, health, serviceHealth, prepare,
  });
  log.info('kpx starting', { mode: config.mode, node: nodeName, families: families.join(','), source: source.name });
  proxier.start();
  const stopRequested = env.waitForStop();
  try {
    await source.start(proxier);
  } catch (err) {
    env.stderr(`kpx: the ${source.name} source cannot start: ${errorMessage(err).split('\n')[0]}\n`);
    await proxier.stop();
    await source.stop().catch(() => undefined);
    await closeAll();
    return 1;
  }

  const signal = await stopRequested;
  log.info('stopping: kernel rules stay in place until the next kpx starts', { signal });
  await proxier.stop();
  await closeQuietly('the source', { close: () => source.stop() }, log);
  for (const b of backends) await closeQuietly(`the ${b.family} backend`, b, log);
  await closeAll();
  return 0;
}
