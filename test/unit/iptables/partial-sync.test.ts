/**
 * Partial syncs, golden (kube-proxy's TestSyncProxyRulesRepeated analogue): one change per step, the exact
 * restore input asserted, `-X` lines included. The kernel edge is a fake that keeps the parsed tables
 * (test/support/fake-iptables.ts); the real kernel is in test/e2e/iptables-restore.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { IptablesBackend } from '../../../modes/iptables/backend.js';
import { endpointChainName, portProtoHash } from '../../../modes/iptables/chain-names.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { ChangeSet, ServicePort } from '../../../src/model/types.js';
import { log } from '../../../src/util/log.js';
import { RecordingConntrack } from '../../support/fake-conntrack.js';
import { FakeIptables } from '../../support/fake-iptables.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { assertIptablesRulesEqual } from '../../support/iptables-assert.js';
import { proxyState, svcPort } from './render-fixtures.js';
import { modeOptions } from '../../support/mode-options.js';

function setup() {
  const ipt = new FakeIptables();
  const ct = new RecordingConntrack();
  const registry = new Registry();
  const config = defaultConfig();
  config.iptables.localhostNodePorts = false;
  const b = new IptablesBackend(modeOptions('iptables', { config, log, registry, clusterCIDR: '10.0.0.0/8' }),
    { iptables: ipt, conntrack: ct, sysctl: new FakeSysctl(), driftCheckIntervalMs: 0 });
  return { ipt, ct, registry, b };
}

const FULL: ChangeSet = { full: true, services: new Set() };
const changed = (...s: string[]): ChangeSet => ({ full: false, services: new Set(s) });
const SVC = (key: string, proto = 'TCP') => 'KUBE-SVC-' + portProtoHash(key, proto);
const SEP = (key: string, ep: string, proto = 'TCP') => endpointChainName(key, proto, ep);

const svc1 = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: '10.0.1.1' }] });
const svc2 = svcPort({ ns: 'ns2', name: 'svc2', clusterIP: '172.30.0.42', endpoints: [{ ip: '10.0.2.1' }] });
const svc3 = svcPort({ ns: 'ns3', name: 'svc3', clusterIP: '172.30.0.43', endpoints: [{ ip: '10.0.3.1' }] });
const KS_LAST = '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS';
const ksRule = (sp: ServicePort) => `-A KUBE-SERVICES -m comment --comment "${sp.key} cluster IP" -m tcp -p tcp -d ${sp.clusterIP} --dport 80 -j ${SVC(sp.key)}`;
function chains(sp: ServicePort): string {
  const ep = sp.endpoints[0];
  const sep = SEP(sp.key, ep.key);
  return [
    `-A ${SVC(sp.key)} -m comment --comment "${sp.key} cluster IP" -m tcp -p tcp -d ${sp.clusterIP} --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`,
    `-A ${SVC(sp.key)} -m comment --comment "${sp.key} -> ${ep.key}" -j ${sep}`,
    `-A ${sep} -m comment --comment ${sp.key} -s ${ep.ip} -j KUBE-MARK-MASQ`,
    `-A ${sep} -m comment --comment ${sp.key} -m tcp -p tcp -j DNAT --to-destination ${ep.key}`,
  ].join('\n');
}

test('partial syncs write only what changed, one change per step, with -X for removed chains', async () => {
  const { ipt, b, registry } = setup();
  let ports = [svc1, svc2];

  // Step 0: the first sync is full, a whole-table restore (no --noflush) with the jumps added.
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), FULL), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.equal(ipt.last.noFlush, false);
  assert.match(ipt.last.data, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n/);
  assert.match(ipt.last.data, /:KUBE-PROXY-CANARY - \[0:0\]/);

  // Step 1: add svc3 — its chains plus KUBE-SERVICES (which gained a rule); nothing of svc1/svc2.
  ports = [svc1, svc2, svc3];
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), changed('ns3/svc3')), { ok: true });
  assert.equal(ipt.last.noFlush, true);
  assertIptablesRulesEqual(`
*nat
:KUBE-SERVICES - [0:0]
:${SVC('ns3/svc3:p80')} - [0:0]
:${SEP('ns3/svc3:p80', '10.0.3.1:80')} - [0:0]
${ksRule(svc1)}
${ksRule(svc2)}
${ksRule(svc3)}
${KS_LAST}
${chains(svc3)}
COMMIT
`, ipt.last.data, { checkConsistency: false });

  // Step 2: svc3's endpoint is replaced — only svc3's chains, the old endpoint chain deleted;
  // KUBE-SERVICES is unchanged and not rewritten.
  const svc3b = svcPort({ ns: 'ns3', name: 'svc3', clusterIP: '172.30.0.43', endpoints: [{ ip: '10.0.3.2' }] });
  ports = [svc1, svc2, svc3b];
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), changed('ns3/svc3')), { ok: true });
  assertIptablesRulesEqual(`
*nat
:${SVC('ns3/svc3:p80')} - [0:0]
:${SEP('ns3/svc3:p80', '10.0.3.2:80')} - [0:0]
:${SEP('ns3/svc3:p80', '10.0.3.1:80')} - [0:0]
${chains(svc3b)}
-X ${SEP('ns3/svc3:p80', '10.0.3.1:80')}
COMMIT
`, ipt.last.data, { checkConsistency: false });

  // Step 3: delete svc2 — KUBE-SERVICES loses its rule, both of its chains are flushed and deleted.
  ports = [svc1, svc3b];
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), changed('ns2/svc2')), { ok: true });
  assertIptablesRulesEqual(`
*nat
:KUBE-SERVICES - [0:0]
:${SVC('ns2/svc2:p80')} - [0:0]
:${SEP('ns2/svc2:p80', '10.0.2.1:80')} - [0:0]
${ksRule(svc1)}
${ksRule(svc3b)}
${KS_LAST}
-X ${SVC('ns2/svc2:p80')}
-X ${SEP('ns2/svc2:p80', '10.0.2.1:80')}
COMMIT
`, ipt.last.data, { checkConsistency: false });

  // Step 4: svc1 loses its endpoints — a REJECT in filter, its nat chains deleted.
  const svc1empty = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41' });
  ports = [svc1empty, svc3b];
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), changed('ns1/svc1')), { ok: true });
  assertIptablesRulesEqual(`
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:${SVC('ns1/svc1:p80')} - [0:0]
:${SEP('ns1/svc1:p80', '10.0.1.1:80')} - [0:0]
${ksRule(svc3b)}
${KS_LAST}
-X ${SVC('ns1/svc1:p80')}
-X ${SEP('ns1/svc1:p80', '10.0.1.1:80')}
COMMIT
`, ipt.last.data, { checkConsistency: false });

  // Step 5: nothing changed — no restore at all.
  const n = ipt.restores.length;
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), changed()), { ok: true });
  assert.equal(ipt.restores.length, n);

  // Rule metrics count every nat rule, written or not.
  const metrics = await registry.metrics();
  assert.match(metrics, /kubeproxy_sync_proxy_rules_iptables_total\{ip_family="IPv4",table="nat"\} 10\n/);
  assert.match(metrics, /kubeproxy_sync_proxy_rules_iptables_total\{ip_family="IPv4",table="filter"\} 4\n/);
});

test('a failed partial restore counts as a partial failure and the next sync is full', async () => {
  const { ipt, b, registry } = setup();
  await b.sync(proxyState([svc1]), FULL);
  ipt.failNextRestore();
  const res = await b.sync(proxyState([svc1, svc2]), changed('ns2/svc2'));
  assert.equal(res.ok, false);
  if (!res.ok) { assert.equal(res.error.code, 'KPX_IPTABLES_RESTORE'); }
  const m = await registry.metrics();
  assert.match(m, /kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total\{ip_family="IPv4"\} 1/);
  assert.match(m, /kubeproxy_sync_proxy_rules_iptables_restore_failures_total\{ip_family="IPv4"\} 1/);
  assert.deepEqual(await b.sync(proxyState([svc1, svc2]), changed('ns2/svc2')), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
});

test('a missing canary turns a partial sync into a full one', async () => {
  const { ipt, b } = setup();
  await b.sync(proxyState([svc1]), FULL);
  ipt.external('*mangle\n-X KUBE-PROXY-CANARY\nCOMMIT\n'); // someone flushed mangle
  assert.deepEqual(await b.sync(proxyState([svc1, svc2]), changed('ns2/svc2')), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
});

test('a full ChangeSet (the sync period) always rewrites everything', async () => {
  const { ipt, b } = setup();
  await b.sync(proxyState([svc1]), FULL);
  await b.sync(proxyState([svc1]), FULL);
  assert.equal(b.lastSync.kind, 'full');
  assert.equal(ipt.last.noFlush, false);
  assert.match(ipt.last.data, new RegExp(`:${SVC('ns1/svc1:p80')} `));
});

test('UDP conntrack entries are cleared for a removed endpoint and for a service going from 0 to some endpoints', async () => {
  const { ct, b } = setup();
  const dns = (eps: string[]) => svcPort({ ns: 'kube-system', name: 'dns', portName: 'dns', protocol: 'UDP', clusterIP: '172.30.0.10', port: 53,
    nodePort: 30053, endpoints: eps.map((ip) => ({ ip, port: 53 })) });
  await b.sync(proxyState([dns([])]), FULL);
  // At start the only deletion is of TCP connects attempted before any rule existed (never UDP state).
  assert.deepEqual(ct.deleted, [{ protocol: 'TCP', state: 'SYN_SENT' }], 'at start: stalled connects only');
  ct.deleted = [];
  await b.sync(proxyState([dns(['10.0.9.1'])]), changed('kube-system/dns'));
  assert.deepEqual(ct.deleted, [
    { protocol: 'UDP', origDst: '172.30.0.10' },
    { protocol: 'UDP', origPortDst: 30053 },
  ]);
  ct.deleted = [];
  await b.sync(proxyState([dns(['10.0.9.2'])]), changed('kube-system/dns'));
  assert.deepEqual(ct.deleted, [
    { protocol: 'UDP', origDst: '172.30.0.10', dstNat: '10.0.9.1' },
    { protocol: 'UDP', origPortDst: 30053, dstNat: '10.0.9.1' },
  ]);
});

test('a full sync skips iptables-save when nothing but kpx committed since the last one', async () => {
  const { ipt, b } = setup();
  ipt.gen = 100;
  await b.sync(proxyState([svc1]), FULL);
  assert.equal(ipt.saves, 1);
  await b.sync(proxyState([svc1, svc2]), changed('ns2/svc2'));
  await b.sync(proxyState([svc1, svc2]), FULL);
  assert.equal(ipt.saves, 1, 'generation unchanged by others: the saved foreign rules are reused');
  assert.equal(b.lastSync.reusedSave, true);
  ipt.external('*filter\n:OTHER - [0:0]\n-A INPUT -j OTHER\nCOMMIT\n'); // another program commits a rule
  await b.sync(proxyState([svc1, svc2]), FULL);
  assert.equal(ipt.saves, 2, 'someone else committed: read the tables again');
  assert.equal(b.lastSync.reusedSave, false);
  ipt.gen = undefined; // legacy backend or unreadable: always read
  await b.sync(proxyState([svc1, svc2]), FULL);
  await b.sync(proxyState([svc1, svc2]), FULL);
  assert.equal(ipt.saves, 4);
});

test('a full sync of a large cluster keeps the length of its restore input, not the megabytes themselves', async () => {
  const { ipt, b } = setup();
  const ports = Array.from({ length: 1500 }, (_, i) => svcPort({
    ns: 'big', name: `svc${i}`, clusterIP: `172.30.${i >> 8}.${i & 255}`, endpoints: [{ ip: `10.1.${i >> 8}.${i & 255}` }],
  }));
  assert.deepEqual(await b.sync(proxyState(ports, { localhost: false }), FULL), { ok: true });
  assert.ok(ipt.last.data.length > 256 * 1024, `the input is large (${ipt.last.data.length} chars)`);
  assert.equal(b.lastSync.inputLength, ipt.last.data.length);
  assert.equal(b.lastSync.input, '');
  // A partial sync's input is small, and kept whole for logs and tests.
  const moved = ports.map((p, i) => (i === 7 ? svcPort({ ns: 'big', name: 'svc7', clusterIP: p.clusterIP, endpoints: [{ ip: '10.9.9.9' }] }) : p));
  assert.deepEqual(await b.sync(proxyState(moved, { localhost: false }), changed(moved[7].serviceKey)), { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  assert.equal(b.lastSync.input, ipt.last.data);
  assert.match(b.lastSync.input, /10\.9\.9\.9/);
});
