/**
 * iptables-5k.ts: times kpx's iptables mode against the real kernel in throwaway network namespaces, at
 * N services × E endpoints (default 5,000 × 2):
 * - render: the pure renderer, full state;
 * - full sync: IptablesBackend.sync with a full ChangeSet, first into an empty namespace and then again
 *   (the steady-state sync-period resync);
 * - one-endpoint sync: one endpoint IP of one service changed, partial ChangeSet;
 * - one-service add: a new service, partial ChangeSet;
 * - bare restore (the limit): `iptables-restore` (whole tables, no --noflush) of the same rules into an
 *   empty namespace, in the same run; optionally the --noflush figure (kube-proxy's way) beside it.
 * Prints a table and one JSON line. Never fails on a slow figure.
 *
 * Usage: node --import tsx perf/sync/iptables-5k.ts [--services 5000] [--endpoints 2] [--runs 3] [--with-noflush]
 */
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { IptablesBackend } from '../../modes/iptables/backend.js';
import { portProtoHash } from '../../modes/iptables/chain-names.js';
import { renderRestoreInput, renderRules } from '../../modes/iptables/render.js';
import { defaultConfig } from '../../src/config/types.js';
import type { Endpoint, ProxyState, ServicePort } from '../../src/model/types.js';
import { exec } from '../../src/net/exec.js';
import { addNamespace, deleteNamespace } from '../../src/sandbox/netns.js';
import { log, setVerbosity } from '../../src/util/log.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const SERVICES = arg('services', 5000);
const ENDPOINTS = arg('endpoints', 2);
const RUNS = arg('runs', 3);
const WITH_NOFLUSH = process.argv.includes('--with-noflush');

function ip(base: number, n: number): string {
  return `${base}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function servicePort(i: number, epBase: number): ServicePort {
  const key = `ns${i % 50}/svc${i}:http`;
  const endpoints: Endpoint[] = [];
  for (let e = 0; e < ENDPOINTS; e++) {
    const a = ip(10, epBase + i * ENDPOINTS + e + 1);
    endpoints.push({ key: `${a}:8080`, ip: a, port: 8080, ready: true, serving: true, terminating: false, isLocal: e === 0 });
  }
  return {
    key, serviceKey: `ns${i % 50}/svc${i}`, namespace: `ns${i % 50}`, name: `svc${i}`, portName: 'http', protocol: 'TCP',
    hash: portProtoHash(key, 'TCP'), family: 'IPv4', clusterIP: ip(172, (30 << 16) + i + 1), port: 80, nodePort: 0,
    externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [], affinityTimeoutSeconds: 0,
    externalPolicyLocal: false, internalPolicyLocal: false, healthCheckNodePort: 0, externallyAccessible: false,
    usesClusterEndpoints: true, usesLocalEndpoints: false, endpoints, clusterEndpoints: endpoints, localEndpoints: [],
    allReachableEndpoints: endpoints, hasAnyEndpoints: true, readyLocalEndpointCount: 1,
  };
}

function state(ports: ServicePort[]): ProxyState {
  return {
    family: 'IPv4',
    node: { name: 'perf-node', labels: {}, zone: '', ips: ['192.168.0.2'], podCIDRs: [], eligible: true },
    nodePortAddresses: { all: true, ips: [], localhost: true },
    services: new Map(ports.map((p) => [p.key, p])),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main(): Promise<void> {
  setVerbosity(0);
  const made: string[] = [];
  const newNs = async (tag: string) => {
    const ns = `kpx-${randomBytes(3).toString('hex')}-${tag}`;
    await addNamespace(ns);
    made.push(ns);
    return ns;
  };
  const cleanup = async () => { for (const ns of made.splice(0)) await deleteNamespace(ns).catch(() => undefined); };
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  try {
    const ports = Array.from({ length: SERVICES }, (_, i) => servicePort(i, 0));
    const st = state(ports);
    const opts = { family: 'IPv4' as const, masqueradeAll: false, masqueradeBit: 14, clusterCIDR: '10.0.0.0/8', randomFully: true };
    renderRules(st, opts); // warm-up (JIT)
    const renderTimes: number[] = [];
    for (let i = 0; i < 5; i++) renderTimes.push(await timeIt(async () => renderRules(st, opts)));
    const input = renderRestoreInput(st, opts);
    const lines = input.split('\n').length;

    const detail: string[] = [];
    const rows: Record<string, number[]> = { bare: [], bareNoflush: [], fullFirst: [], fullAgain: [], oneEndpoint: [], oneService: [], save: [] };
    for (let run = 0; run < RUNS; run++) {
      // The limit: a whole-table restore of the same rules into an empty namespace.
      const bareNs = await newNs('bare');
      rows.bare.push(await timeIt(() => exec('iptables-restore', [], { netns: bareNs, input, timeoutMs: 600_000 })));
      rows.save.push(await timeIt(() => exec('iptables-save', [], { netns: bareNs, timeoutMs: 600_000 })));
      if (WITH_NOFLUSH) {
        const nfNs = await newNs('noflush');
        rows.bareNoflush.push(await timeIt(() => exec('iptables-restore', ['--noflush'], { netns: nfNs, input, timeoutMs: 600_000 })));
      }

      const ns = await newNs('perf');
      const backend = new IptablesBackend({ family: 'IPv4', config: defaultConfig(), log, registry: new Registry(), clusterCIDR: '10.0.0.0/8' }, { netns: ns });
      await backend.init();
      let cur = ports.slice();
      const check = (r: { ok: boolean }) => { if (!r.ok) throw new Error('sync failed'); };
      rows.fullFirst.push(await timeIt(async () => check(await backend.sync(state(cur), { full: true, services: new Set() }))));
      rows.fullAgain.push(await timeIt(async () => check(await backend.sync(state(cur), { full: true, services: new Set() }))));
      detail.push(`full: render ${ms(backend.lastSync.renderMs)}, restore ${ms(backend.lastSync.restoreMs)}, total ${ms(backend.lastSync.totalMs)}`);

      // One endpoint of one service changes IP (a pod replaced).
      const victim = 1234 % SERVICES;
      cur = cur.slice();
      cur[victim] = servicePort(victim, 3_000_000 + run * 100_000);
      rows.oneEndpoint.push(await timeIt(async () =>
        check(await backend.sync(state(cur), { full: false, services: new Set([cur[victim].serviceKey]) }))));
      if (backend.lastSync.kind !== 'partial') throw new Error('expected a partial sync');
      detail.push(`one endpoint: render ${ms(backend.lastSync.renderMs)}, restore ${ms(backend.lastSync.restoreMs)} (${backend.lastSync.input.split('\n').length} lines), total ${ms(backend.lastSync.totalMs)}`);

      // One service added.
      const added = servicePort(SERVICES + run, 6_000_000);
      cur = [...cur, added];
      rows.oneService.push(await timeIt(async () =>
        check(await backend.sync(state(cur), { full: false, services: new Set([added.serviceKey]) }))));
      await cleanup();
    }

    const result = {
      services: SERVICES, endpoints: ENDPOINTS, runs: RUNS, inputLines: lines,
      renderMs: median(renderTimes), bareRestoreMs: median(rows.bare), saveMs: median(rows.save),
      bareNoflushMs: rows.bareNoflush.length ? median(rows.bareNoflush) : undefined,
      fullSyncFirstMs: median(rows.fullFirst), fullSyncMs: median(rows.fullAgain),
      oneEndpointMs: median(rows.oneEndpoint), oneServiceMs: median(rows.oneService),
    };
    console.log(`kpx iptables mode, ${SERVICES} services × ${ENDPOINTS} endpoints (${lines} restore lines), median of ${RUNS}`);
    console.log(`  render (pure)                      ${ms(result.renderMs)}`);
    console.log(`  bare whole-table restore (limit)   ${ms(result.bareRestoreMs)}   [all runs: ${rows.bare.map(ms).join(', ')}]`);
    if (result.bareNoflushMs !== undefined) console.log(`  bare --noflush restore             ${ms(result.bareNoflushMs)}`);
    console.log(`  iptables-save of that ruleset      ${ms(result.saveMs)}`);
    console.log(`  full sync, empty namespace         ${ms(result.fullSyncFirstMs)}   (${(result.fullSyncFirstMs / result.bareRestoreMs).toFixed(2)} × bare)`);
    console.log(`  full sync, steady state            ${ms(result.fullSyncMs)}   (${(result.fullSyncMs / result.bareRestoreMs).toFixed(2)} × bare) [all: ${rows.fullAgain.map(ms).join(', ')}]`);
    console.log(`  one-endpoint change (partial)      ${ms(result.oneEndpointMs)}   (${(100 * result.oneEndpointMs / result.fullSyncMs).toFixed(1)}% of full) [all: ${rows.oneEndpoint.map(ms).join(', ')}]`);
    console.log(`  one-service add (partial)          ${ms(result.oneServiceMs)}`);
    for (const d of detail) console.log(`  (${d})`);
    console.log(JSON.stringify(result));
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
