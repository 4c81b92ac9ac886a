/** nft-transaction: each operation renders as one nft command line, in the order it was added. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftTransaction } from '../../../src/net/nft-transaction.js';

test('tables, base and regular chains, rules, sets, maps and elements render as nft commands, one a line', () => {
  const tx = new NftTransaction('ip', 'kube-proxy')
    .add({ kind: 'table', comment: 'rules for kube-proxy' })
    .add({ kind: 'chain', name: 'nat-prerouting', type: 'nat', hook: 'prerouting', priority: -100 })
    .flush({ kind: 'chain', name: 'nat-prerouting' })
    .add({ kind: 'chain', name: 'reject-chain', comment: 'helper' })
    .add({ kind: 'rule', chain: 'nat-prerouting', rule: 'jump services' })
    .add({ kind: 'rule', chain: 'services', rule: 'fib saddr type local jump x', comment: 'masquerade local traffic' })
    .add({ kind: 'set', name: 'affinity-X', type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeoutSeconds: 10800 })
    .add({ kind: 'map', name: 'service-ips', type: 'ipv4_addr . inet_proto . inet_service : verdict', comment: 'ClusterIP traffic' })
    .add({ kind: 'element', container: 'service-ips', key: ['172.30.0.41', 'tcp', '80'], value: ['goto service-X'] })
    .add({ kind: 'element', container: 'no-endpoint-services', key: ['172.30.0.42', 'tcp', '80'], value: ['goto reject-chain'], comment: 'ns/svc:p80' })
    .delete({ kind: 'element', container: 'service-ips', key: ['172.30.0.41', 'tcp', '80'], value: ['goto service-X'] })
    .delete({ kind: 'chain', name: 'old' })
    .delete({ kind: 'table' });
  assert.equal(tx.toString(), [
    'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
    'add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }',
    'flush chain ip kube-proxy nat-prerouting',
    'add chain ip kube-proxy reject-chain { comment "helper" ; }',
    'add rule ip kube-proxy nat-prerouting jump services',
    'add rule ip kube-proxy services fib saddr type local jump x comment "masquerade local traffic"',
    'add set ip kube-proxy affinity-X { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }',
    'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP traffic" ; }',
    'add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-X }',
    'add element ip kube-proxy no-endpoint-services { 172.30.0.42 . tcp . 80 comment "ns/svc:p80" : goto reject-chain }',
    'delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }',
    'delete chain ip kube-proxy old',
    'delete table ip kube-proxy',
    '',
  ].join('\n'));
  assert.equal(tx.length, 13);
});

test('an empty transaction renders as nothing', () => {
  assert.equal(new NftTransaction('ip6', 'kube-proxy').toString(), '');
});

test('comments are quoted so nft reads spaces and quotes inside them literally', () => {
  const tx = new NftTransaction('ip6', 't').add({ kind: 'rule', chain: 'c', rule: 'drop', comment: 'say "hi" there' });
  assert.equal(tx.toString(), 'add rule ip6 t c drop comment "say \\"hi\\" there"\n');
});
