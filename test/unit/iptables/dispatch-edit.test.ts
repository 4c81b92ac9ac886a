import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EDIT_MIN_RULES, planDispatchEdit } from '../../../modes/iptables/dispatch-edit.js';

const rule = (i: number) => `-A KUBE-SERVICES -m comment --comment "ns/s${i}:p80 cluster IP" -m tcp -p tcp -d 172.30.${i >> 8}.${i & 255}/32 --dport 80 -j KUBE-SVC-${String(i).padStart(16, 'X')}`;
const NODEPORTS = '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS';
const chain = (n: number, extra: string[] = []) => [...Array.from({ length: n }, (_, i) => rule(i)), ...extra, NODEPORTS];

test('a large KUBE-SERVICES gets one -D per rule gone and one insertion on top per rule new', () => {
  const prev = chain(EDIT_MIN_RULES);
  const next = [...prev.slice(0, 5), ...prev.slice(6, -1), rule(EDIT_MIN_RULES), NODEPORTS];
  const edit = planDispatchEdit('KUBE-SERVICES', prev, next)!;
  assert.deepEqual(edit.deletes, [rule(5).replace('-A KUBE-SERVICES ', '-D KUBE-SERVICES ')]);
  assert.deepEqual(edit.inserts, [rule(EDIT_MIN_RULES).replace('-A KUBE-SERVICES ', '-I KUBE-SERVICES 1 ')]);
});

test('a new node-port rule is appended, so the node-port rules stay last', () => {
  const prev = chain(EDIT_MIN_RULES);
  const extra = '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2/32 -j KUBE-NODEPORTS';
  const edit = planDispatchEdit('KUBE-SERVICES', prev, [...prev.slice(0, -1), NODEPORTS, extra])!;
  assert.deepEqual(edit, { deletes: [], inserts: [extra] });
});

test('a rule rendered twice is deleted and inserted as many times as its count changes', () => {
  const prev = chain(EDIT_MIN_RULES, [rule(1)]);
  const next = chain(EDIT_MIN_RULES);
  assert.deepEqual(planDispatchEdit('KUBE-SERVICES', prev, next), { deletes: [rule(1).replace('-A', '-D')], inserts: [] });
  assert.deepEqual(planDispatchEdit('KUBE-SERVICES', next, prev), { deletes: [], inserts: [rule(1).replace('-A KUBE-SERVICES ', '-I KUBE-SERVICES 1 ')] });
});

test('small chains, other chains and large changes are rewritten whole (no edit)', () => {
  const small = chain(100);
  assert.equal(planDispatchEdit('KUBE-SERVICES', small, [...small.slice(0, -1), rule(100), NODEPORTS]), undefined, 'small: cheap to rewrite, keeps the rendered order');
  const big = chain(EDIT_MIN_RULES);
  const bigNodePorts = big.map((l) => l.replace('KUBE-SERVICES', 'KUBE-NODEPORTS'));
  assert.equal(planDispatchEdit('KUBE-NODEPORTS', bigNodePorts, bigNodePorts.slice(1)), undefined, 'only KUBE-SERVICES is edited');
  const renumbered = big.map((l) => l.replace('--dport 80', '--dport 81'));
  assert.equal(planDispatchEdit('KUBE-SERVICES', big, renumbered), undefined, 'every rule changed: one rewrite');
  assert.deepEqual(planDispatchEdit('KUBE-SERVICES', big, big), { deletes: [], inserts: [] });
});
