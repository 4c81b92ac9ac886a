/**
 * Sync planning without any fake: what a partial and a full sync write, which tables they commit, which
 * chains they delete and how many rules they count as written, from a render and what was applied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appliedRules } from '../../../modes/iptables/applied-rules.js';
import { KUBE_PROXY_CANARY } from '../../../modes/iptables/chain-names.js';
import { EDIT_MIN_RULES } from '../../../modes/iptables/dispatch-edit.js';
import { JUMP_RULES } from '../../../modes/iptables/jumps.js';
import { canReplaceTables, planFullSync } from '../../../modes/iptables/plan-full.js';
import { planPartialSync } from '../../../modes/iptables/plan-partial.js';
import { RenderCache, renderRules } from '../../../modes/iptables/render.js';
import { parseSave } from '../../../modes/iptables/table-merge.js';
import type { ServicePort } from '../../../src/model/types.js';
import { FAKE_PROXIER_OPTS, proxyState, svcPort } from './render-fixtures.js';

const svc = (n: number, eps: string[] = [`10.0.${n >> 8}.${n & 255}`]) =>
  svcPort({ ns: `ns${n}`, name: `svc${n}`, clusterIP: `172.30.${n >> 8}.${n & 255}`, endpoints: eps.map((ip) => ({ ip })) });

/** The render a sync of `ports` makes, full or scoped to `changed`. */
function render(ports: ServicePort[], changed?: string[], cache = new RenderCache()) {
  return renderRules(proxyState(ports, { localhost: false }), FAKE_PROXIER_OPTS, changed ? { services: new Set(changed) } : {}, cache);
}

const base = [svc(1), svc(2)];

const partialCases: {
  name: string; next: ServicePort[]; changed: string[];
  tables: string[]; deleted: number; filterWritten: boolean; input: RegExp[]; notInput?: RegExp[];
}[] = [
  { name: 'nothing changed: nothing to write', next: base, changed: [], tables: [], deleted: 0, filterWritten: false, input: [/^$/] },
  {
    name: 'a service added: its chains and KUBE-SERVICES, in nat only', next: [...base, svc(3)], changed: ['ns3/svc3'],
    tables: ['nat'], deleted: 0, filterWritten: false, input: [/^:KUBE-SERVICES /m, /^:KUBE-SVC-/m], notInput: [/^\*filter/m],
  },
  {
    name: 'an endpoint replaced: the service chains, the old endpoint chain deleted, KUBE-SERVICES untouched',
    next: [svc(1), svc(2, ['10.0.0.99'])], changed: ['ns2/svc2'], tables: ['nat'], deleted: 1, filterWritten: false,
    input: [/^-X KUBE-SEP-/m, /10\.0\.0\.99/], notInput: [/^:KUBE-SERVICES /m],
  },
  {
    name: 'a service left without endpoints: a REJECT in filter, its nat chains deleted',
    next: [svc(1), svc(2, [])], changed: ['ns2/svc2'], tables: ['filter', 'nat'], deleted: 2, filterWritten: true,
    input: [/has no endpoints" .* -j REJECT/, /^-X KUBE-SVC-/m],
  },
];

for (const c of partialCases) {
  test(`partial plan: ${c.name}`, () => {
    const cache = new RenderCache();
    const prev = appliedRules(render(base, undefined, cache));
    const r = render(c.next, c.changed, cache);
    const plan = planPartialSync(prev, r);
    assert.equal(plan.kind, 'partial');
    if (plan.kind !== 'partial') return;
    assert.deepEqual(plan.tables, c.tables);
    assert.equal(plan.deletedChains.length, c.deleted);
    for (const re of c.input) assert.match(plan.input, re);
    for (const re of c.notInput ?? []) assert.doesNotMatch(plan.input, re);
    assert.equal(plan.input.split('\n').filter((l) => l === 'COMMIT').length, plan.tables.length, 'one COMMIT a planned table');
    assert.equal(plan.written.filter, c.filterWritten ? r.totalRules.filter : 0);
    const natLines = plan.input.split('*nat\n')[1]?.split('\n').filter((l) => /^-[AIDX] /.test(l)).length ?? 0;
    assert.equal(plan.written.nat, natLines, 'written nat rules: every rule, -D and -X line of the nat input');
    assert.deepEqual([...plan.applied.activeNatChains], [...r.activeNatChains]);
  });
}

test('partial plan: crossing the 1000-endpoint comment threshold asks for a full sync', () => {
  const many = Array.from({ length: 1001 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  const prev = appliedRules(render(base));
  assert.deepEqual(planPartialSync(prev, render([svc(1, many), svc(2)], ['ns1/svc1'])), { kind: 'full', reason: 'comment-mode-changed' });
});

test('partial plan: a large KUBE-SERVICES is edited rule by rule, not declared again', () => {
  const ports = Array.from({ length: EDIT_MIN_RULES + 10 }, (_, i) => svc(i + 1));
  const cache = new RenderCache();
  const prev = appliedRules(render(ports, undefined, cache));
  const plan = planPartialSync(prev, render([...ports, svc(ports.length + 1)], [`ns${ports.length + 1}/svc${ports.length + 1}`], cache));
  assert.equal(plan.kind, 'partial');
  if (plan.kind !== 'partial') return;
  assert.doesNotMatch(plan.input, /^:KUBE-SERVICES /m);
  assert.match(plan.input, /^-I KUBE-SERVICES 1 .*-j KUBE-SVC-/m);
  assert.deepEqual(plan.tables, ['nat']);
});

const SAVED_WITH_JUMPS = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SEP-STALE - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
`;

const fullCases: {
  name: string; plan: () => ReturnType<typeof planFullSync>; noFlush: boolean; deleted: string[]; addedJumps: number; input: RegExp[]; notInput?: RegExp[];
}[] = [
  {
    name: 'replace-tables over empty tables adds every jump and the canary',
    plan: () => planFullSync(render(base), { kind: 'replace-tables', saved: parseSave(''), jumps: JUMP_RULES }),
    noFlush: false, deleted: [], addedJumps: JUMP_RULES.length, input: [new RegExp(`^:${KUBE_PROXY_CANARY} `, 'm'), /^-A PREROUTING .* -j KUBE-SERVICES$/m],
  },
  {
    name: 'replace-tables keeps jumps already there and drops kpx\'s stale chains by not writing them',
    plan: () => planFullSync(render(base), { kind: 'replace-tables', saved: parseSave(SAVED_WITH_JUMPS), jumps: JUMP_RULES.filter((j) => j.table === 'nat') }),
    noFlush: false, deleted: [], addedJumps: 0, input: [/^\*filter$/m], notInput: [/KUBE-SEP-STALE/],
  },
  {
    name: 'noflush writes every chain and deletes the stale per-service ones, not foreign chains',
    plan: () => planFullSync(render(base), { kind: 'noflush', natChains: ['KUBE-SEP-STALE', 'OTHER-PROGRAM', 'KUBE-SERVICES'] }),
    noFlush: true, deleted: ['KUBE-SEP-STALE'], addedJumps: 0, input: [/^-X KUBE-SEP-STALE$/m],
  },
];

for (const c of fullCases) {
  test(`full plan: ${c.name}`, () => {
    const r = render(base);
    const plan = c.plan();
    assert.equal(plan.noFlush, c.noFlush);
    assert.deepEqual(plan.tables, ['filter', 'nat']);
    assert.deepEqual(plan.deletedChains, c.deleted);
    assert.equal(plan.addedJumps.length, c.addedJumps);
    for (const re of c.input) assert.match(plan.input, re);
    for (const re of c.notInput ?? []) assert.doesNotMatch(plan.input, re);
    assert.deepEqual(plan.written, r.totalRules, 'a full sync writes every rule');
    assert.equal(plan.input.split('\n').filter((l) => l === 'COMMIT').length, 2);
  });
}

test('the saved tables are written back whole only when iptables-save printed nat and filter faithfully', () => {
  const incompatible = (t: string) => parseSave(`# Table \`${t}' is incompatible, use 'nft' tool.\n`);
  assert.equal(canReplaceTables(parseSave(SAVED_WITH_JUMPS)), true);
  assert.equal(canReplaceTables(incompatible('nat')), false);
  assert.equal(canReplaceTables(incompatible('filter')), false);
  assert.equal(canReplaceTables(incompatible('mangle')), true);
});
