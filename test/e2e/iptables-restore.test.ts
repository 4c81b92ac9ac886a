/**
 * The iptables mode against the real kernel, in a fresh network namespace: the rendered input loads
 * (`iptables-restore --test`, then for real), full and partial syncs converge, rules other programs wrote
 * survive byte-for-byte, cleanup removes exactly kpx's chains, and a flushed canary forces a full sync.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { IptablesBackend } from '../../modes/iptables/backend.js';
import { renderRestoreInput } from '../../modes/iptables/render.js';
import { defaultConfig } from '../../src/config/types.js';
import type { ChangeSet } from '../../src/model/types.js';
import { exec } from '../../src/net/exec.js';
import { parseIptablesDump } from '../../src/net/iptables-dump.js';
import { addNamespace, deleteNamespace } from '../../src/sandbox/netns.js';
import { log } from '../../src/util/log.js';
import { checkIptablesRuleJumps } from '../support/iptables-assert.js';
import { FAKE_PROXIER_OPTS, overallServices, proxyState, svcPort } from '../unit/iptables/render-fixtures.js';

const FULL: ChangeSet = { full: true, services: new Set() };
const partial = (...svcs: string[]): ChangeSet => ({ full: false, services: new Set(svcs) });

async function namespace(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const ns = `kpx-${randomBytes(3).toString('hex')}-ipt`;
  await addNamespace(ns);
  t.after(() => deleteNamespace(ns));
  return ns;
}

function backend(ns: string, registry = new Registry()): IptablesBackend {
  return new IptablesBackend({ family: 'IPv4', config: defaultConfig(), log, registry, clusterCIDR: '10.0.0.0/8' }, { netns: ns });
}

const save = async (ns: string) => (await exec('iptables-save', [], { netns: ns })).stdout;

/** Rules and user chains other programs wrote, per table, as iptables-save prints them. */
function foreignView(text: string, tables: readonly string[] = ['*nat', '*filter']): string[] {
  const out: string[] = [];
  let table = '';
  for (const l of text.split('\n')) {
    if (l.startsWith('*')) table = l;
    else if (!tables.includes(table)) continue;
    else if ((l.startsWith('-A') || l.startsWith(':')) && !/KUBE-/.test(l)) {
      // Built-in chain lines carry counters; keep only name and policy.
      out.push(`${table} ${l.startsWith(':') ? l.replace(/ \[\d+:\d+\]$/, '') : l}`);
    }
  }
  return out.sort();
}

const FOREIGN = `*nat
:FOREIGN-NAT - [0:0]
-A PREROUTING -s 10.9.9.9/32 -m comment --comment "someone else's rule" -j RETURN
-A POSTROUTING -s 10.8.0.0/16 ! -d 10.8.0.0/16 -j MASQUERADE
-A FOREIGN-NAT -d 10.7.7.7/32 -p tcp -m tcp --dport 99 -j DNAT --to-destination 10.6.6.6:99
-A OUTPUT -j FOREIGN-NAT
COMMIT
*filter
:FOREIGN-FILTER - [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -j FOREIGN-FILTER
-A FOREIGN-FILTER -s 192.0.2.0/24 -j DROP
COMMIT
`;

test('the rendered restore input of kube-proxy\'s six services passes iptables-restore --test', async (t) => {
  const ns = await namespace(t);
  const input = renderRestoreInput(proxyState(overallServices()), { ...FAKE_PROXIER_OPTS, randomFully: true });
  await exec('iptables-restore', ['--test', '--noflush'], { netns: ns, input });
});

test('full and partial syncs load into a namespace, keep foreign rules, and cleanup leaves them byte-identical', async (t) => {
  const ns = await namespace(t);
  await exec('iptables-restore', ['--noflush'], { netns: ns, input: FOREIGN });
  const before = foreignView(await save(ns));
  const b = backend(ns);

  const services = overallServices();
  const r1 = await b.sync(proxyState(services), FULL);
  assert.deepEqual(r1, { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  let dump = await save(ns);
  assert.deepEqual(foreignView(dump), before, 'foreign rules survive a full sync');
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump)), []);
  assert.match(dump, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/);
  assert.match(dump, /-A KUBE-SVC-4SW47YFZTEDKD3PK .*-j KUBE-SEP-UKSFD7AGPMPPLUHC/);
  assert.match(dump, /:KUBE-PROXY-CANARY/);

  // One endpoint of svc4 replaced: a partial sync rewrites only svc4's chains and deletes the old SEP.
  services[3] = svcPort({ ns: 'ns4', name: 'svc4', clusterIP: '172.30.0.44', externalIPs: ['192.168.99.33'],
    endpoints: [{ ip: '10.180.0.4' }, { ip: '10.180.0.6', local: true }] });
  const r2 = await b.sync(proxyState(services), partial('ns4/svc4'));
  assert.deepEqual(r2, { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  assert.deepEqual(b.lastSync.deletedChains, ['KUBE-SEP-C6EBXVWJJZMIWKLZ']);
  assert.doesNotMatch(b.lastSync.input, /KUBE-SERVICES|ns1\/svc1/, 'unchanged dispatch chains and services are not rewritten');
  dump = await save(ns);
  assert.doesNotMatch(dump, /KUBE-SEP-C6EBXVWJJZMIWKLZ/);
  assert.match(dump, /--to-destination 10.180.0.6:80/);
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump)), []);
  assert.deepEqual(foreignView(dump), before, 'foreign rules survive a partial sync');

  // A second full sync (the sync period) is stable.
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  assert.deepEqual(foreignView(await save(ns)), before);

  await b.cleanup();
  const after = await save(ns);
  assert.deepEqual(foreignView(after), before, 'cleanup leaves foreign rules byte-identical');
  assert.doesNotMatch(after.replace(/^:KUBE-FIREWALL.*$|^-A (INPUT|OUTPUT) -j KUBE-FIREWALL$|^-A KUBE-FIREWALL .*$/gm, ''), /KUBE-/,
    'only kubelet\'s KUBE-FIREWALL remains');
  await b.cleanup();
  assert.equal(await save(ns), after, 'cleanup is idempotent');
});

test('a flushed canary chain makes the next sync a full one', async (t) => {
  const ns = await namespace(t);
  const b = backend(ns);
  const services = overallServices();
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  assert.deepEqual(await b.sync(proxyState(services), partial('ns1/svc1')), { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  // Someone flushes everything (iptables -F; -X, in every table), as `iptables-restore` of a foreign file would.
  for (const table of ['nat', 'filter', 'mangle']) {
    await exec('iptables', ['-t', table, '-F'], { netns: ns });
    await exec('iptables', ['-t', table, '-X'], { netns: ns });
  }
  assert.deepEqual(await b.sync(proxyState(services), partial('ns1/svc1')), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  const dump = await save(ns);
  assert.match(dump, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/);
  assert.match(dump, /\*mangle[\s\S]*:KUBE-PROXY-CANARY/);
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump)), []);
});

test('a failed partial restore is counted and the next sync is full', async (t) => {
  const ns = await namespace(t);
  const registry = new Registry();
  const b = backend(ns, registry);
  const services = overallServices();
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  // Another program jumps to one of kpx's endpoint chains: the partial restore that deletes that chain
  // (svc4 loses the endpoint) fails as a whole, as kube-proxy's does on a dangling reference.
  services[3] = svcPort({ ns: 'ns4', name: 'svc4', clusterIP: '172.30.0.44', endpoints: [{ ip: '10.180.0.4' }] });
  const stray = ['-t', 'nat', 'OUTPUT', '-d', '10.99.99.99/32', '-j', 'KUBE-SEP-C6EBXVWJJZMIWKLZ'];
  await exec('iptables', [stray[0], stray[1], '-A', ...stray.slice(2)], { netns: ns });
  const res = await b.sync(proxyState(services), partial('ns4/svc4'));
  assert.equal(res.ok, false);
  if (!res.ok) assert.match(res.error.message, /line \d+/);
  const text = await registry.metrics();
  assert.match(text, /kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total 1/);
  assert.match(text, /kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1/);
  await exec('iptables', [stray[0], stray[1], '-D', ...stray.slice(2)], { netns: ns });
  assert.deepEqual(await b.sync(proxyState(services), partial('ns4/svc4')), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(await save(ns))), []);
});
