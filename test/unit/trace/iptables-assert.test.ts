import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertIptablesChainEqual, assertIptablesRulesEqual, checkIptablesRuleJumps, sortIptablesRules } from '../../support/iptables-assert.js';
import { STATIC_RULES } from './fixtures.js';

const lines = (s: string): string => s.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('\n') + '\n';

test('checkIptablesRuleJumps: a consistent ruleset passes', () => {
  assert.deepEqual(checkIptablesRuleJumps(lines(`
    *filter
    COMMIT
    *nat
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-NODEPORTS - [0:0]
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
    -A KUBE-SERVICES -d 172.30.0.41 -p tcp --dport 80 -j KUBE-SVC-A
    -A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    -A KUBE-SVC-A ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
    COMMIT
  `)), []);
});

test('checkIptablesRuleJumps: a jump to a chain that was not created fails', () => {
  assert.deepEqual(checkIptablesRuleJumps(lines(`
    *nat
    :KUBE-SERVICES - [0:0]
    -A KUBE-SERVICES -d 172.30.0.41 -j KUBE-SVC-A
    COMMIT
  `)), ['some chains in nat are used but were not created: [KUBE-SVC-A]']);
});

test('checkIptablesRuleJumps: rules added to a chain that was not created fail', () => {
  assert.deepEqual(checkIptablesRuleJumps(lines(`
    *nat
    :KUBE-SERVICES - [0:0]
    -A KUBE-SVC-A -j KUBE-MARK-MASQ
    COMMIT
  `)), ['some chains in nat are used but were not created: [KUBE-MARK-MASQ KUBE-SVC-A]']);
});

test('checkIptablesRuleJumps: a jump to an empty chain fails, except KUBE-NODEPORTS', () => {
  assert.deepEqual(checkIptablesRuleJumps(lines(`
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-NODEPORTS - [0:0]
    -A KUBE-SERVICES -d 172.30.0.41 -j KUBE-SVC-A
    -A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    COMMIT
  `)), ['some chains in nat are jumped to but have no rules: [KUBE-SVC-A]']);
});

test('checkIptablesRuleJumps: a created chain nothing jumps to fails; deleted and base chains are fine', () => {
  assert.deepEqual(checkIptablesRuleJumps(lines(`
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-SEP-GONE - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-PROXY-CANARY - [0:0]
    -A KUBE-SVC-A -j ACCEPT
    -X KUBE-SEP-GONE
    COMMIT
  `)), ['some chains in nat are created but not used: [KUBE-SVC-A]']);
});

test('checkIptablesRuleJumps: the static kube-proxy-style ruleset is consistent', () => {
  assert.deepEqual(checkIptablesRuleJumps(STATIC_RULES), []);
});

test('sortIptablesRules: service order does not matter, the last-rule NodePorts jump stays last', () => {
  const a = lines(`
    *nat
    :KUBE-SVC-B - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SVC-A - [0:0]
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -d 172.30.0.42 -j KUBE-SVC-B
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -d 172.30.0.41 -j KUBE-SVC-A
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -p tcp --dport 3002 -j KUBE-SVC-B
    -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -p tcp --dport 3001 -j KUBE-SVC-A
    -A KUBE-SVC-B -m comment --comment "ns2/svc2:p80 second" -j ACCEPT
    -A KUBE-SVC-B -m comment --comment "ns2/svc2:p80 first" -j DROP
    -A KUBE-SVC-A -j ACCEPT
    COMMIT
    *filter
    COMMIT
  `);
  assert.equal(sortIptablesRules(a), lines(`
    *filter
    COMMIT
    *nat
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-SVC-B - [0:0]
    -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -p tcp --dport 3001 -j KUBE-SVC-A
    -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -p tcp --dport 3002 -j KUBE-SVC-B
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -d 172.30.0.41 -j KUBE-SVC-A
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -d 172.30.0.42 -j KUBE-SVC-B
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    -A KUBE-SVC-A -j ACCEPT
    -A KUBE-SVC-B -m comment --comment "ns2/svc2:p80 second" -j ACCEPT
    -A KUBE-SVC-B -m comment --comment "ns2/svc2:p80 first" -j DROP
    COMMIT
  `));
});

test('assertIptablesRulesEqual passes on reordered services and names missing and extra lines', () => {
  const expected = lines(`
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-SVC-B - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -d 172.30.0.41 -j KUBE-SVC-A
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -d 172.30.0.42 -j KUBE-SVC-B
    -A KUBE-SVC-A -j ACCEPT
    -A KUBE-SVC-B -j ACCEPT
    COMMIT
  `);
  const reordered = lines(`
    *nat
    :KUBE-SVC-B - [0:0]
    :KUBE-SVC-A - [0:0]
    :KUBE-SERVICES - [0:0]
    -A KUBE-SVC-B -j ACCEPT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -d 172.30.0.42 -j KUBE-SVC-B
    -A KUBE-SVC-A -j ACCEPT
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -d 172.30.0.41 -j KUBE-SVC-A
    COMMIT
  `);
  assertIptablesRulesEqual(expected, reordered);
  const wrong = reordered.replace('-A KUBE-SVC-B -j ACCEPT', '-A KUBE-SVC-B -j DROP');
  assert.throws(() => assertIptablesRulesEqual(expected, wrong), (err: Error) =>
    /- -A KUBE-SVC-B -j ACCEPT/.test(err.message) && /\+ -A KUBE-SVC-B -j DROP/.test(err.message));
  const inconsistent = expected.replace('-A KUBE-SVC-B -j ACCEPT\n', '');
  assert.throws(() => assertIptablesRulesEqual(inconsistent, inconsistent), /jumped to but have no rules: \[KUBE-SVC-B\]/);
  assertIptablesRulesEqual(inconsistent, inconsistent, { checkConsistency: false });
});

test('assertIptablesChainEqual checks one chain in order', () => {
  assertIptablesChainEqual('nat', 'KUBE-POSTROUTING', `
    -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
  `, STATIC_RULES);
  assert.throws(() => assertIptablesChainEqual('nat', 'KUBE-POSTROUTING', '-A KUBE-POSTROUTING -j MASQUERADE', STATIC_RULES));
});
