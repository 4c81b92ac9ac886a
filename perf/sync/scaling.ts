/**
 * scaling.ts: how the pure parts scale, as ratios of two timings of the same machine and process: the
 * figures the unit tests used to assert (a timing inside a unit test fails on a busy machine without a
 * bug; here it is printed, and never fails):
 *  - state builder: one endpoint change among 30,000 services, against the full build (target < 1/5);
 *  - model build (buildProxyState): 30,000 services against 3,000 (linear: target < 40×, quadratic would
 *    take minutes);
 *  - iptables render of 5,000 services: cached against cold (target: the cache is not slower, < 2×).
 *
 *   node --import tsx perf/sync/scaling.ts      (perf:sync prints the same section)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderRules, RenderCache } from '../../modes/iptables/render.js';
import { buildProxyState } from '../../src/model/index.js';
import { ClusterCache } from '../../src/sync/cluster-cache.js';
import { systemClock } from '../../src/util/clock.js';
import { ProxyStateBuilder } from '../../src/sync/state-builder.js';
import { log } from '../../src/util/log.js';
import { serviceObjects, syntheticCluster, type SyntheticCluster } from './cluster.js';
import { buildState, LOCAL_TRAFFIC } from './pure.js';

const NODE = { name: 'node1', ip: '10.10.0.1' };

export interface ScalingFigure {
  readonly name: string;
  readonly baseMs: number;
  readonly measuredMs: number;
  /** measured / base. */
  readonly ratio: number;
  /** The ratio the check wants to stay under. */
  readonly target: number;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function bestOf(runs: number, fn: () => void): number {
  return Math.min(...Array.from({ length: runs }, () => timed(fn)));
}

function figure(name: string, baseMs: number, measuredMs: number, target: number): ScalingFigure {
  return { name, baseMs, measuredMs, ratio: measuredMs / Math.max(baseMs, 0.001), target };
}

/** Full build of 30,000 services, then the partial build after one endpoint change. */
function partialBuild(): ScalingFigure {
  const cluster = syntheticCluster(30_000, 2, NODE.name, NODE.ip);
  const cache = new ClusterCache({ nodeName: NODE.name, clock: systemClock, log });
  cache.upsert({ kind: 'Node', obj: cluster.node });
  for (const s of cluster.services) cache.upsert({ kind: 'Service', obj: s });
  for (const s of cluster.slices) cache.upsert({ kind: 'EndpointSlice', obj: s });
  cache.synced('Service');
  cache.synced('EndpointSlice');
  const builder = new ProxyStateBuilder({ families: ['IPv4'], nodeName: NODE.name, hostAddresses: [NODE.ip], nodePortAddresses: [], localhostNodePorts: true, log });
  const first = cache.take();
  const fullMs = timed(() => builder.build(cache, first.services));
  cache.upsert({ kind: 'EndpointSlice', obj: serviceObjects(12_345, 2, NODE.name, 1).slice });
  const changed = cache.take();
  const partialMs = timed(() => builder.build(cache, changed.services));
  return figure('state builder: one endpoint change vs full build, 30,000 services', fullMs, partialMs, 1 / 5);
}

function modelBuild(c: SyntheticCluster): void {
  buildProxyState({
    family: 'IPv4', nodeName: NODE.name, node: c.node, services: c.services, endpointSlices: c.slices,
    hostAddresses: [NODE.ip], nodePortAddresses: [], localhostNodePorts: true, warn: () => undefined,
  });
}

/** buildProxyState at 3,000 and at 30,000 services (best of 2 each, after a warm-up). */
function linearModel(): ScalingFigure {
  const small = syntheticCluster(3_000, 2, NODE.name, NODE.ip);
  const big = syntheticCluster(30_000, 2, NODE.name, NODE.ip);
  modelBuild(small);
  const smallMs = bestOf(2, () => modelBuild(small));
  const bigMs = bestOf(2, () => modelBuild(big));
  return figure('model build: 30,000 vs 3,000 services', smallMs, bigMs, 40);
}

/** The iptables render of 5,000 services cold, then again through the same cache. */
function cachedRender(): ScalingFigure {
  const state = buildState(syntheticCluster(5_000, 2, NODE.name, NODE.ip), NODE.name, NODE.ip);
  const opts = { family: 'IPv4' as const, masqueradeAll: false, masqueradeBit: 14, localTraffic: LOCAL_TRAFFIC, randomFully: true };
  const cache = new RenderCache();
  const coldMs = timed(() => renderRules(state, opts, {}, cache));
  const warmMs = timed(() => renderRules(state, opts, {}, cache));
  return figure('iptables render: cached vs cold, 5,000 services', coldMs, warmMs, 2);
}

export function measureScaling(): ScalingFigure[] {
  return [partialBuild(), linearModel(), cachedRender()];
}

export function scalingLines(figures: readonly ScalingFigure[]): string[] {
  return figures.map((f) => `  ${f.ratio < f.target ? 'MET ' : 'MISS'} ${f.name}: ${f.measuredMs.toFixed(1)} ms vs ${f.baseMs.toFixed(1)} ms = ${f.ratio.toFixed(2)}× (target < ${f.target}×)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log('scaling of the pure parts (ratios on this machine; never fails)');
  for (const l of scalingLines(measureScaling())) console.log(l);
}
