/**
 * The periodic consistency check (kernel-drift.ts) that replaces a full rewrite every sync period: a sync
 * with nothing changed writes nothing and reads nothing while only kpx committed; another program's commit
 * that leaves kpx's chains alone costs one save and no write; one that changes them is repaired at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IptablesBackend } from '../../../modes/iptables/backend.js';
import { kernelDrift } from '../../../modes/iptables/kernel-drift.js';
import { JUMP_RULES } from '../../../modes/iptables/jumps.js';
import { renderRules } from '../../../modes/iptables/render.js';
import { parseSave } from '../../../modes/iptables/table-merge.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { ChangeSet, ProxyState } from '../../../src/model/types.js';
import { RecordingConntrack } from '../../support/fake-conntrack.js';
import { FakeIptables } from '../../support/fake-iptables.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { modeOptions } from '../../support/mode-options.js';
import { memoryLogger } from '../../support/logger.js';
import { FAKE_PROXIER_OPTS, overallServices, proxyState } from './render-fixtures.js';

const FULL: ChangeSet = { full: true, services: new Set() };
const PERIODIC: ChangeSet = { full: false, services: new Set() };

async function synced(state: ProxyState, deepDriftCheckIntervalMs = 0) {
  const ipt = new FakeIptables({ generation: 1 });
  const config = defaultConfig();
  config.iptables.localhostNodePorts = false;
  const logs: string[] = [];
  const b = new IptablesBackend(modeOptions('iptables', { config, log: memoryLogger(logs), clusterCIDR: '10.0.0.0/8' }),
    { iptables: ipt, conntrack: new RecordingConntrack(), sysctl: new FakeSysctl(), driftCheckIntervalMs: 0, deepDriftCheckIntervalMs });
  assert.deepEqual(await b.sync(state, FULL), { ok: true });
  return { ipt, b, logs };
}

test('a periodic sync with nothing changed by anyone writes nothing and reads no table', async () => {
  const state = proxyState(overallServices(), { localhost: false });
  const { ipt, b } = await synced(state);
  const restores = ipt.restores.length;
  const saves = ipt.saves;
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  assert.equal(ipt.restores.length, restores, 'no restore');
  assert.equal(ipt.saves, saves, 'no iptables-save');
});

test('another program committing elsewhere costs one save and no rewrite', async () => {
  const state = proxyState(overallServices(), { localhost: false });
  const { ipt, b } = await synced(state);
  ipt.external('*filter\n:SOMEONE-ELSE - [0:0]\n-A SOMEONE-ELSE -j ACCEPT\nCOMMIT\n');
  const restores = ipt.restores.length;
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(b.lastSync.kind, 'partial');
  assert.equal(ipt.restores.length, restores, 'no restore');
  const saves = ipt.saves;
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(ipt.saves, saves, 'the next check is free again');
});

test('a flushed nat table is repaired by the next periodic sync, with a full sync', async () => {
  const state = proxyState(overallServices(), { localhost: false });
  const { ipt, b, logs } = await synced(state);
  const nat = ipt.dumpText('nat');
  ipt.external('*nat\n-F\nCOMMIT\n');
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.equal(ipt.dumpText('nat'), nat);
  assert.ok(logs.some((l) => l.includes('differ from what kpx wrote')));
});

test('a flushed nat table is repaired by the next periodic sync without the deep check, from its lost jumps', async () => {
  const state = proxyState(overallServices(), { localhost: false });
  const { ipt, b } = await synced(state, 10 * 60_000);
  const nat = ipt.dumpText('nat');
  ipt.external('*nat\n-F\nCOMMIT\n');
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.equal(ipt.dumpText('nat'), nat);
});

test('one rule deleted from a service chain behind kpx\'s back is repaired by the next periodic sync', async () => {
  const state = proxyState(overallServices(), { localhost: false });
  const { ipt, b } = await synced(state);
  const nat = ipt.dumpText('nat');
  const sep = ipt.dumpText('nat').split('\n').find((l) => l.startsWith('-A KUBE-SEP-'))!;
  ipt.external(`*nat\n${sep.replace(/^-A /, '-D ')}\nCOMMIT\n`);
  assert.notEqual(ipt.dumpText('nat'), nat);
  assert.deepEqual(await b.sync(state, PERIODIC), { ok: true });
  assert.equal(b.lastSync.kind, 'full');
  assert.equal(ipt.dumpText('nat'), nat);
});

test('kernelDrift names the first difference: a missing canary, a chain, a rule count, a jump', () => {
  const state = proxyState(overallServices(), { localhost: false });
  const r = renderRules(state, FAKE_PROXIER_OPTS);
  const svc = r.serviceChains[0]!;
  const tables = (natExtra: string, natChains: string, jumps = '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING\n') => parseSave([
    '*mangle', ':KUBE-PROXY-CANARY - [0:0]', 'COMMIT',
    '*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':KUBE-PROXY-CANARY - [0:0]', natChains,
    ...[...r.natDispatch.values()].flat(), ...r.serviceRules, natExtra, jumps, 'COMMIT',
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':KUBE-PROXY-CANARY - [0:0]',
    ...r.filterChains.map((c) => `:${c} - [0:0]`), ...r.filterRules,
    ...JUMP_RULES.filter((j) => j.table === 'filter').map((j) => `-A ${j.from} -m comment --comment "${j.comment}" -j ${j.to}`), 'COMMIT',
  ].join('\n'));
  const natChains = [...r.natDispatch.keys(), ...r.serviceChains].map((c) => `:${c} - [0:0]`).join('\n');
  assert.equal(kernelDrift(tables('', natChains), r, JUMP_RULES), undefined);
  assert.match(kernelDrift(tables(`-A ${svc} -j RETURN`, natChains), r, JUMP_RULES)!, new RegExp(`nat chain ${svc} has \\d+ rules, kpx wrote`));
  assert.match(kernelDrift(tables('', natChains, ''), r, JUMP_RULES)!, /the jump nat\/\w+ -> KUBE-\S+ is missing/);
  assert.match(kernelDrift(parseSave('*mangle\nCOMMIT\n'), r, JUMP_RULES)!, /mangle has no KUBE-PROXY-CANARY/);
});
