/**
 * run.ts: wires kpx together for one of its three runs: `--cleanup` (run-cleanup.ts), `--dry-run`
 * (run-dry-run.ts), or the proxy itself.
 *
 * The proxy: metrics and healthz servers, the source, the proxier with one backend per IP family
 * (host-facts.ts) and its bounded-frequency runner. Before the first sync (once Services and EndpointSlices
 * are listed) the other modes' leftovers are cleaned up and the chosen mode's init() runs, as kube-proxy
 * does, so a mode switch costs at most one sync of disruption. SIGTERM/SIGINT stop syncing and leave kernel
 * rules in place so traffic flows until the next kpx starts (userspace closes its listeners: it carries the
 * traffic itself).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { KpxConfig } from '../config/types.js';
import type { Backend } from '../backend.js';
import type { IPFamily } from '../model/types.js';
import { MODE_NAMES } from '../modes.js';
import { createProxyMetrics, type ProxyMetrics } from '../server/metrics.js';
import { startMetricsServer } from '../server/metrics-server.js';
import { startHealthzServer } from '../server/healthz-server.js';
import { ProxyHealth } from '../server/proxy-health.js';
import { ServiceHealthServer } from '../server/service-health.js';
import type { ClusterSource } from '../source/types.js';
import { Proxier, syncEndChannel } from '../sync/proxier.js';
import { Conntrack } from '../net/conntrack.js';
import { applyConntrackSettings } from './conntrack-settings.js';
import { createEventRecorder, type EventSink } from '../events/recorder.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { healthCheckAddresses, hostAddressesFrom, hostFacts, ipFamiliesFor, nodeNameFor } from './host-facts.js';
import { createModeBackend, loadSource } from './mode-wiring.js';
import { effectiveNodePortAddresses } from './mode-options.js';
import { runCleanup } from './run-cleanup.js';
import { runDryRun } from './run-dry-run.js';
import { processEnvironment, type RunEnvironment } from './run-environment.js';
import { watchConfigFile } from '../config/config-watch.js';
import { parse as parseYaml } from 'yaml';
import { renderConfigFile } from '../config/write-config.js';

/** The sync periods of the chosen mode (iptables' for userspace, as kube-proxy's userspace mode did). */
function syncPeriods(config: KpxConfig): { syncPeriodMs: number; minSyncPeriodMs: number } {
  const p = config.mode === 'ipvs' ? config.ipvs : config.iptables;
  return { syncPeriodMs: p.syncPeriodMs, minSyncPeriodMs: p.minSyncPeriodMs };
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

interface Closable { close(): Promise<void> }

async function closeQuietly(what: string, c: Closable | undefined, log: Logger): Promise<void> {
  if (!c) return;
  try {
    await c.close();
  } catch (err) {
    log.warn(`closing ${what} failed`, { error: errorMessage(err) });
  }
}

/**
 * Removes what the other modes left (a mode switch leaves no stale rules behind); resolves with the families
 * in which there was something to remove. A failure is logged and the run goes on.
 */
async function removeOtherModesLeftovers(config: KpxConfig, families: readonly IPFamily[], env: RunEnvironment, log: Logger): Promise<IPFamily[]> {
  const switched: IPFamily[] = [];
  for (const other of MODE_NAMES.filter((m) => m !== config.mode)) {
    for (const family of families) {
      try {
        const leftover = createModeBackend(config, other, { family, registry: new Registry(), log, host: hostFacts(env.networkInterfaces) });
        if (leftover.hasLeftovers && !(await leftover.hasLeftovers())) continue;
        await leftover.cleanup();
        if (!switched.includes(family)) switched.push(family);
        log.info('removed leftovers of another mode', { mode: other, family });
      } catch (err) {
        log.warn('cleaning up another mode\'s leftovers failed', { mode: other, family, error: errorMessage(err) });
      }
    }
  }
  return switched;
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
  // kube-proxy's registry carries the process collector (process_resident_memory_bytes, process_cpu_seconds_total,
  // process_open_fds, ...): prom-client's default metrics have the same names, plus nodejs_* for the heap and GC.
  collectDefaultMetrics({ register: metrics.registry });
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
    const host = hostFacts(env.networkInterfaces);
    backends = families.map((family) => createModeBackend(config, config.mode, { family, registry: metrics.registry, log, host }));
  } catch (err) {
    env.stderr(`kpx: the ${config.mode} mode cannot start: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }

  // Then the servers: a port conflict gives one line and exit 1 before anything touches the kernel.
  try {
    if (config.metricsBindAddress !== '') {
      opened.push({ what: 'the metrics server', c: await startMetricsServer({ address: config.metricsBindAddress, registry: metrics.registry, mode: config.mode, log, configz: parseYaml(renderConfigFile(config).text) as unknown }) });
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
      // Like kube-proxy: right before our first sync, so the gap in service of a mode switch is this one sync.
      for (const family of await removeOtherModesLeftovers(config, families, env, log)) switchedFrom.add(family);
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
    nodePortAddresses: effectiveNodePortAddresses(config),
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

  // As kube-proxy: a changed --config file ends the run with an error, so the DaemonSet restarts kpx with it.
  let configChanged = false;
  const changed = new Promise<string>((resolve) => {
    if (config.configFile === '') return;
    const w = watchConfigFile(config.configFile, () => {
      configChanged = true;
      log.error('Error running ProxyServer', { err: "content of the proxy server's configuration file was updated", file: config.configFile });
      resolve('config file changed');
    });
    opened.push({ what: 'the config file watch', c: { close: async () => w.close() } });
  });
  const signal = await Promise.race([stopRequested, changed]);
  log.info('stopping: kernel rules stay in place until the next kpx starts', { signal });
  await proxier.stop();
  await closeQuietly('the source', { close: () => source.stop() }, log);
  for (const b of backends) await closeQuietly(`the ${b.family} backend`, b, log);
  await closeAll();
  return configChanged ? 1 : 0;
}
