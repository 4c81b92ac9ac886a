/**
 * Security defaults: metrics listen on loopback unless told otherwise; the healthz port answers health
 * paths only; the RBAC in deploy/rbac.yaml grants exactly what the kube source and the event sink use,
 * derived from their code (list/watch on what kpx reads, create on events), nothing more.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig, type LoadResult } from '../../../src/config/load.js';
import { packageRoot } from '../../../src/sandbox/scripts.js';
import { startHealthzServer } from '../../../src/server/healthz-server.js';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { startMetricsServer } from '../../../src/server/metrics-server.js';
import { ProxyHealth } from '../../../src/server/proxy-health.js';
import { systemClock } from '../../../src/util/clock.js';
import { log } from '../../../src/util/log.js';
import fc from 'fast-check';
import { planListeners } from '../../../modes/userspace/listener-plan.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../../modes/userspace/tcp-proxy.js';
import { cluster } from '../../support/model-generators.js';
import { build } from '../../support/model-state.js';

const root = packageRoot();

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function hostOf(address: string): string {
  const m = /^\[?([^\]]*)\]?:\d+$/.exec(address);
  return m ? m[1]! : address;
}

describe('security defaults', () => {
  it('metrics listen on loopback by default, from flags and from a config file without the field', async () => {
    const fromFlags = loadConfig([]);
    assert.equal(fromFlags.action, 'run');
    const cfg = (fromFlags as Extract<LoadResult, { action: 'run' }>).config;
    assert.equal(cfg.metricsBindAddress, '127.0.0.1:10249');
    const fromFile = loadConfig(['--config', 'kpx.yaml'], { readFile: () => 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n' });
    assert.equal(fromFile.action, 'run');
    assert.equal((fromFile as Extract<LoadResult, { action: 'run' }>).config.metricsBindAddress, '127.0.0.1:10249');
    // And the server really binds only that address (port 0: any free one).
    const metrics = createProxyMetrics();
    const srv = await startMetricsServer({ address: `${hostOf(cfg.metricsBindAddress)}:0`, registry: metrics.registry, mode: 'iptables', log });
    try {
      const r = await get(srv.port, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.body, /kubeproxy_sync_proxy_rules_duration_seconds/);
    } finally {
      await srv.close();
    }
  });

  it('the healthz port answers /healthz and /livez only; everything else is 404 and leaks nothing', async () => {
    const metrics = createProxyMetrics();
    const health = new ProxyHealth({ clock: systemClock, healthTimeoutMs: 60_000 });
    const srv = await startHealthzServer({ address: '127.0.0.1:0', health, metrics, log });
    try {
      for (const p of ['/healthz', '/livez', '/healthz?verbose=1']) {
        const r = await get(srv.port, p);
        assert.ok(r.status === 200 || r.status === 503, `${p}: ${r.status}`);
        assert.match(r.body, /currentTime/);
      }
      for (const p of ['/', '/metrics', '/configz', '/debug/pprof/', '/healthz/../metrics', '/HEALTHZ', '/healthz/x',
        '//metrics', '/%2e%2e/metrics', '/livez/../../etc/passwd', '/proxyMode', '/readyz']) {
        const r = await get(srv.port, p);
        assert.equal(r.status, 404, `${p} must be 404, got ${r.status}`);
        assert.doesNotMatch(r.body, /kubeproxy_|# HELP|root:/, `${p} leaks nothing`);
      }
    } finally {
      await srv.close();
    }
  });

  it('deploy/rbac.yaml grants exactly list/watch on what the kube source reads and create on events', () => {
    const kube = readFileSync(join(root, 'src/source/kube.ts'), 'utf8');
    const sink = readFileSync(join(root, 'src/events/kube-sink.ts'), 'utf8');
    // What the code calls, mapped to (apiGroup, resource, verbs). A new call without a mapping fails here.
    const calls: Record<string, [string, string, string[]]> = {
      listServiceForAllNamespaces: ['', 'services', ['list', 'watch']],
      listEndpointSliceForAllNamespaces: ['discovery.k8s.io', 'endpointslices', ['list', 'watch']],
      listNode: ['', 'nodes', ['list', 'watch']],
    };
    const used = new Set<string>();
    for (const m of kube.matchAll(/\.(list\w+|read\w+|watch\w*|create\w+|patch\w+|replace\w+|delete\w+)\(/g)) {
      const name = m[1]!;
      assert.ok(calls[name], `src/source/kube.ts calls ${name}, which this test does not know: add its RBAC mapping`);
      const [g, r, verbs] = calls[name]!;
      for (const v of verbs) used.add(`${g}|${r}|${v}`);
    }
    if (/EventsV1Api/.test(sink) && /createNamespacedEvent/.test(sink)) used.add('events.k8s.io|events|create');
    else if (/CoreV1Api/.test(sink) && /createNamespacedEvent/.test(sink)) used.add('|events|create');
    assert.equal(used.size, 7, `derived permissions: ${[...used].join(' ')}`);

    const docs = parseAllDocuments(readFileSync(join(root, 'deploy/rbac.yaml'), 'utf8')).map((d) => d.toJS());
    const roles = docs.filter((d) => d?.kind === 'ClusterRole' || d?.kind === 'Role');
    assert.equal(roles.length, 1, 'one role');
    const granted = new Set<string>();
    for (const rule of roles[0].rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }[]) {
      assert.equal(rule.nonResourceURLs, undefined, 'no non-resource URLs');
      for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) {
        assert.notEqual(g, '*'); assert.notEqual(r, '*'); assert.notEqual(v, '*');
        granted.add(`${g}|${r}|${v}`);
      }
    }
    assert.deepEqual([...granted].sort(), [...used].sort(), 'RBAC grants exactly what the code uses');
    const bindings = docs.filter((d) => d?.kind === 'ClusterRoleBinding' || d?.kind === 'RoleBinding');
    for (const b of bindings) {
      assert.equal(b.roleRef.name, roles[0].metadata.name, 'bound to that role only');
      for (const s of b.subjects) assert.equal(s.kind, 'ServiceAccount', 'bound to a service account, not a group or user');
    }
  });

  it('the userspace mode plans listeners only for service ports, and caps connections per service', () => {
    assert.ok(Number.isInteger(DEFAULT_MAX_CONNECTIONS) && DEFAULT_MAX_CONNECTIONS > 0 && DEFAULT_MAX_CONNECTIONS <= 65_536,
      `a finite per-service connection cap (${DEFAULT_MAX_CONNECTIONS})`);
    fc.assert(fc.property(cluster, (cl) => {
      const state = build(cl.services.map((s) => s.svc), cl.slices, cl.node, 'IPv4');
      const plan = planListeners(state);
      for (const l of plan.listeners) {
        const sp = state.services.get(l.servicePortKey as never);
        assert.ok(sp, `listener ${l.id} belongs to a service port`);
        assert.ok(l.fixedPort === 0 || l.fixedPort === sp!.nodePort, `listener ${l.id} binds only the service's node port (${l.fixedPort})`);
        assert.equal(l.protocol, sp!.protocol);
      }
      assert.ok(plan.listeners.length <= 3 * state.services.size);
    }), { numRuns: 300, seed: 3 });
  });
});
