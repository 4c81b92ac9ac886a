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
import { EDIT_MIN_RULES } from '../../modes/iptables/dispatch-edit.js';
import { renderRestoreInput } from '../../modes/iptables/render.js';
import type { ChangeSet } from '../../src/model/types.js';
import { exec } from '../../src/net/exec.js';
import { Iptables } from '../../src/net/iptables.js';
import { IptablesRestoreError } from '../../src/util/errors.js';
import { parseIptablesDump } from '../../src/net/iptables-dump.js';
import { addNamespace, deleteNamespace } from '../../src/sandbox/netns.js';
import { log } from '../../src/util/log.js';
import { checkIptablesRuleJumps } from '../support/iptables-assert.js';
import { FAKE_PROXIER_OPTS, overallServices, proxyState, svcPort } from '../unit/iptables/render-fixtures.js';
import { modeOptions } from '../support/mode-options.js';

/** kpx's base chains, jumped to from the built-in chains even while empty. */
const BASE_CHAINS = new Set(['KUBE-NODEPORTS', 'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-PROXY-FIREWALL', 'KUBE-FORWARD']);
const FULL: ChangeSet = { full: true, services: new Set() };
const partial = (...svcs: string[]): ChangeSet => ({ full: false, services: new Set(svcs) });

async function namespace(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const ns = `kpx-${randomBytes(3).toString('hex')}-ipt`;
  await addNamespace(ns);
  t.after(() => deleteNamespace(ns));
  return ns;
}

function backend(ns: string, registry = new Registry()): IptablesBackend {
  return new IptablesBackend(modeOptions('iptables', { log, registry, clusterCIDR: '10.0.0.0/8' }),
    { netns: ns, driftCheckIntervalMs: 0 });
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
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump), { allowEmpty: BASE_CHAINS }), []);
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
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump), { allowEmpty: BASE_CHAINS }), []);
  assert.deepEqual(foreignView(dump), before, 'foreign rules survive a partial sync');

  // A second full sync (the sync period) is stable, and needs no iptables-save: only kpx committed since.
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  assert.equal(b.lastSync.reusedSave, true);
  assert.deepEqual(foreignView(await save(ns)), before);
  // Another program adds a rule: the next full sync notices (nf_tables generation), reads and keeps it.
  await exec('iptables', ['-t', 'nat', '-A', 'FOREIGN-NAT', '-d', '10.5.5.5/32', '-j', 'RETURN'], { netns: ns });
  const withNew = foreignView(await save(ns));
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  assert.equal(b.lastSync.reusedSave, false);
  assert.deepEqual(foreignView(await save(ns)), withNew);
  await exec('iptables', ['-t', 'nat', '-D', 'FOREIGN-NAT', '-d', '10.5.5.5/32', '-j', 'RETURN'], { netns: ns });

  await b.cleanup();
  const after = await save(ns);
  assert.deepEqual(foreignView(after), before, 'cleanup leaves foreign rules byte-identical');
  assert.doesNotMatch(after.replace(/^:KUBE-FIREWALL.*$|^-A (INPUT|OUTPUT) -j KUBE-FIREWALL$|^-A KUBE-FIREWALL .*$/gm, ''), /KUBE-/,
    'only kubelet\'s KUBE-FIREWALL remains');
  await b.cleanup();
  const noComments = (x: string) => x.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  assert.equal(noComments(await save(ns)), noComments(after), 'cleanup is idempotent');
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
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump), { allowEmpty: BASE_CHAINS }), []);
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
  assert.match(text, /kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total\{ip_family="IPv4"\} 1/);
  assert.match(text, /kubeproxy_sync_proxy_rules_iptables_restore_failures_total\{ip_family="IPv4"\} 1/);
  await exec('iptables', [stray[0], stray[1], '-D', ...stray.slice(2)], { netns: ns });
  assert.deepEqual(await b.sync(proxyState(services), partial('ns4/svc4')), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(await save(ns)), { allowEmpty: BASE_CHAINS }), []);
});

test('a UDP flow to a removed endpoint is cleared from conntrack, so the client reaches the new one', async (t) => {
  const ns = await namespace(t);
  // Endpoints are addresses on the namespace's loopback; the ClusterIP range is routed there too.
  for (const args of [['link', 'set', 'lo', 'up'], ['addr', 'add', '10.180.0.1/32', 'dev', 'lo'],
    ['addr', 'add', '10.180.0.2/32', 'dev', 'lo'], ['route', 'add', '172.30.0.0/16', 'dev', 'lo']]) {
    await exec('ip', ['-n', ns, ...args]);
  }
  const dns = (ip: string) => svcPort({ ns: 'kube-system', name: 'dns', portName: 'dns', protocol: 'UDP', clusterIP: '172.30.0.10',
    port: 53, endpoints: [{ ip, port: 5353 }] });
  const b = backend(ns);
  assert.deepEqual(await b.sync(proxyState([dns('10.180.0.1')]), FULL), { ok: true });
  // One datagram from a fixed source port: one conntrack entry, DNATed to the first endpoint.
  const send = () => exec(process.execPath, ['-e',
    "const s=require('dgram').createSocket('udp4');s.bind(40000,()=>s.send('x',53,'172.30.0.10',()=>s.close()))"], { netns: ns });
  await send();
  const flows = async () => (await exec('conntrack', ['-L', '-p', 'udp'], { netns: ns, okCodes: [0, 1] })).stdout;
  assert.match(await flows(), /dst=172\.30\.0\.10 .*dport=53 .*src=10\.180\.0\.1 /);

  assert.deepEqual(await b.sync(proxyState([dns('10.180.0.2')]), partial('kube-system/dns')), { ok: true });
  assert.doesNotMatch(await flows(), /src=10\.180\.0\.1 /, 'the stale entry is gone');
  await send();
  assert.match(await flows(), /dst=172\.30\.0\.10 .*dport=53 .*src=10\.180\.0\.2 /, 'the same client flow now goes to the new endpoint');
});

test('the wrapper uses the backend the node already uses: nft by default, legacy when legacy holds KUBE- chains', async (t) => {
  const ns = await namespace(t);
  assert.equal(await new Iptables({ family: 'IPv4', netns: ns }).backend(), 'nft');
  await exec('iptables-legacy', ['-t', 'nat', '-N', 'KUBE-SERVICES'], { netns: ns });
  const legacy = new Iptables({ family: 'IPv4', netns: ns });
  assert.equal(await legacy.backend(), 'legacy');
  assert.equal(await legacy.binary('-restore'), 'iptables-legacy-restore');
  assert.equal(await legacy.generation(), undefined, 'no nf_tables generation for legacy');
});

test('the wrapper\'s helpers are idempotent, and a bad restore names its line', async (t) => {
  const ns = await namespace(t);
  const ipt = new Iptables({ family: 'IPv4', netns: ns });
  assert.equal(await ipt.hasRandomFully(), true);
  assert.equal(await ipt.ensureChain('filter', 'KPX-TEST'), false);
  assert.equal(await ipt.ensureChain('filter', 'KPX-TEST'), true);
  assert.equal(await ipt.chainExists('filter', 'KPX-TEST'), true);
  const rule = ['-p', 'tcp', '--dport', '81', '-m', 'comment', '--comment', 'kpx test', '-j', 'KPX-TEST'];
  assert.equal(await ipt.ensureRule('prepend', 'filter', 'INPUT', rule), false);
  assert.equal(await ipt.ensureRule('prepend', 'filter', 'INPUT', rule), true);
  assert.equal((await ipt.save('filter')).split('\n').filter((l) => l.includes('kpx test')).length, 1);
  assert.equal(await ipt.deleteRule('filter', 'INPUT', rule), true);
  assert.equal(await ipt.deleteRule('filter', 'INPUT', rule), false);
  await ipt.flushChain('filter', 'KPX-TEST');
  await ipt.deleteChain('filter', 'KPX-TEST');
  await ipt.deleteChain('filter', 'KPX-TEST');
  assert.equal(await ipt.chainExists('filter', 'KPX-TEST'), false);
  const gen = await ipt.generation();
  assert.ok(typeof gen === 'number' && gen > 0);
  await assert.rejects(ipt.restore('*filter\n:KPX-A - [0:0]\n-A KPX-A -j ACCEPT\n-A KPX-A -j NO-SUCH-CHAIN\n-A KPX-A -j DROP\nCOMMIT\n', { noFlush: true }),
    // nft reports the error at the table's COMMIT (line 6); the ±3 neighbours show the culprit on line 4.
    (e: unknown) => e instanceof IptablesRestoreError && e.line === 6 && /4: -A KPX-A -j NO-SUCH-CHAIN/.test(e.context) && /> +6: COMMIT/.test(e.context));
});

test('IPv6 rules load with ip6tables-restore', async (t) => {
  const ns = await namespace(t);
  const sp = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: 'fd00:172:30::41', nodePort: 3001, family: 'IPv6', lbIPs: ['2001:db8:99::1'],
    sourceRanges: ['2001:db8:1::/64'], affinity: 60, endpoints: [{ ip: 'fd00:10::1' }, { ip: 'fd00:10::2', local: true }] });
  const st = proxyState([sp], { family: 'IPv6', nodeIPs: ['2001:db8::1'] });
  const b = new IptablesBackend(modeOptions('iptables', { family: 'IPv6', log, clusterCIDR: 'fd00:10::/64' }), { netns: ns });
  assert.deepEqual(await b.sync(st, FULL), { ok: true });
  const dump = (await exec('ip6tables-save', [], { netns: ns })).stdout;
  assert.match(dump, /--to-destination \[fd00:10::2\]:80/);
  assert.match(dump, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/);
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump), { allowEmpty: BASE_CHAINS }), []);
  await b.cleanup();
  assert.doesNotMatch((await exec('ip6tables-save', [], { netns: ns })).stdout, /KUBE-/);
});

test('the iptables mode reports leftovers only once it has run, and none after cleanup (mode-switch cleanup is gated on it)', async (t) => {
  const ns = await namespace(t);
  const b = backend(ns);
  assert.equal(await b.hasLeftovers(), false, 'a fresh namespace');
  await b.init();
  const r = await b.sync(proxyState(overallServices()), { full: true, services: new Set() });
  assert.ok(r.ok);
  assert.equal(await b.hasLeftovers(), true, 'after a sync');
  await b.cleanup();
  assert.equal(await b.hasLeftovers(), false, 'after cleanup');
});

test('with thousands of services, adding and removing one edits KUBE-SERVICES rule by rule, and the kernel holds the rendered rules', async (t) => {
  const ns = await namespace(t);
  const b = backend(ns);
  const ip = (i: number) => `172.20.${i >> 8}.${i & 255}`;
  const service = (i: number) => svcPort({ ns: 'bulk', name: `s${i}`, clusterIP: ip(i), nodePort: i % 500 === 0 ? 30000 + i / 500 : 0,
    endpoints: [{ ip: `10.1.${i >> 8}.${i & 255}` }] });
  const services = Array.from({ length: EDIT_MIN_RULES + 100 }, (_, i) => service(i));
  assert.deepEqual(await b.sync(proxyState(services), FULL), { ok: true });
  const kernelServices = async () => (await save(ns)).split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES '));
  const rendered = (ports: typeof services) => renderRestoreInput(proxyState(ports), b.renderOptions(proxyState(ports).node))
    .split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES '));
  // iptables-save prints matches in its own order and form; compare what each rule matches and where it jumps.
  const ruleKey = (l: string) => ['--comment', '-d', '--dport', '--dst-type', '-j'].map((opt) => new RegExp(`${opt} ("[^"]*"|\\S+)`).exec(l)?.[1].replace(/\/32$/, '') ?? '').join(' ');
  const sorted = (xs: string[]) => xs.map(ruleKey).sort();

  const added = service(EDIT_MIN_RULES + 100);
  services.push(added);
  assert.deepEqual(await b.sync(proxyState(services), partial(`bulk/s${EDIT_MIN_RULES + 100}`)), { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  assert.doesNotMatch(b.lastSync.input, /^:KUBE-SERVICES /m, 'KUBE-SERVICES is not declared (flushed) again');
  assert.match(b.lastSync.input, /^-I KUBE-SERVICES 1 .*-j KUBE-SVC-/m);
  let kernel = await kernelServices();
  assert.deepEqual(sorted(kernel), sorted(rendered(services)), 'the kernel holds exactly the rendered rules');
  assert.match(kernel.at(-1)!, /-j KUBE-NODEPORTS$/, 'the node-port rule stays last');
  assert.ok(kernel[0].includes(`-d ${ip(EDIT_MIN_RULES + 100)}/32`), 'the new service rule went on top');

  const gone = services.splice(7, 1)[0];
  assert.deepEqual(await b.sync(proxyState(services), partial('bulk/s7')), { ok: true });
  assert.match(b.lastSync.input, new RegExp(`^-D KUBE-SERVICES .*-d ${ip(7)} `, 'm'));
  assert.equal(b.lastSync.deletedChains.length, 2, "the removed service's SVC and SEP chains are deleted");
  kernel = await kernelServices();
  assert.deepEqual(sorted(kernel), sorted(rendered(services)));
  const dump = await save(ns);
  for (const c of b.lastSync.deletedChains) assert.doesNotMatch(dump, new RegExp(`:${c} `));
  assert.deepEqual(checkIptablesRuleJumps(parseIptablesDump(dump), { allowEmpty: BASE_CHAINS }), []);
});
