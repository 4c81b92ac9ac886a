/**
 * The nftables backend, driven into the fake nft: a golden first transaction for kube-proxy's overall
 * services (names and hashes as upstream's TestOverallNFTablesRules), then one small transaction per change,
 * like upstream's TestSyncProxyRulesRepeated; after every step no rule or element points at a missing chain.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mode } from '../../../modes/nftables/index.js';
import type { ServicePort } from '../../../src/model/types.js';
import { modeOptions } from '../../support/mode-options.js';
import { overallServices, proxyState, svcPort } from '../iptables/render-fixtures.js';
import { FULL, assertNoDanglingReferences, changed, harness } from './harness.js';

const GOLDEN = readFileSync(new URL('./golden/overall-full.nft', import.meta.url), 'utf8');

const lines = (tx: string) => tx.split('\n').filter((l) => l !== '');

test('the first sync writes kube-proxy\'s whole table in one transaction (golden)', async () => {
  const h = harness();
  assert.equal(await h.sync(proxyState(overallServices()), FULL), GOLDEN);
  assert.equal(h.backend.lastSync.kind, 'full');
  assertNoDanglingReferences(h.nft);
});

test('each later change sends only its own chains and elements, in an order nft accepts', async () => {
  const h = harness();
  const base = overallServices();
  const withPorts = (...ports: ServicePort[]) => {
    const m = new Map(base.map((p) => [p.key, p]));
    for (const p of ports) m.set(p.key, p);
    return proxyState([...m.values()]);
  };
  await h.sync(proxyState(base), FULL);

  // Nothing changed: nothing is sent.
  assert.equal(await h.sync(proxyState(base), changed()), '');

  // svc1 gains an endpoint: its new endpoint chain, its service chain rewritten; no element changes.
  const svc1two = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: '10.180.0.1' }, { ip: '10.180.0.9' }] });
  assert.deepEqual(lines(await h.sync(withPorts(svc1two), changed('ns1/svc1'))), [
    'add chain ip kube-proxy endpoint-R7UVCGCT-ns1/svc1/tcp/p80__10.180.0.9/80',
    'flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80',
    'add rule ip kube-proxy endpoint-R7UVCGCT-ns1/svc1/tcp/p80__10.180.0.9/80 ip saddr 10.180.0.9 jump mark-for-masquerade',
    'add rule ip kube-proxy endpoint-R7UVCGCT-ns1/svc1/tcp/p80__10.180.0.9/80 meta l4proto tcp dnat to 10.180.0.9:80',
    'add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
    'add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 , 1 : goto endpoint-R7UVCGCT-ns1/svc1/tcp/p80__10.180.0.9/80 }',
  ]);
  assertNoDanglingReferences(h.nft);

  // svc6 gets its first endpoint: the reject element goes, the dispatch element comes.
  const svc6 = svcPort({ ns: 'ns6', name: 'svc6', clusterIP: '172.30.0.46', endpoints: [{ ip: '10.180.0.6' }] });
  const step = lines(await h.sync(withPorts(svc1two, svc6), changed('ns6/svc6')));
  assert.ok(step.includes('delete element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 }'), step.join('\n'));
  assert.ok(step.at(-1)!.startsWith('add element ip kube-proxy service-ips { 172.30.0.46 . tcp . 80 : goto service-'), step.join('\n'));
  assert.ok(!step.some((l) => l.includes('cluster-ips')), 'the ClusterIP stays in cluster-ips untouched');
  assertNoDanglingReferences(h.nft);

  // svc1 is deleted: its elements go and its chains are flushed, in one transaction...
  const without1 = proxyState([...withPorts(svc1two, svc6).services.values()].filter((p) => p.serviceKey !== 'ns1/svc1'));
  const removal = lines(await h.sync(without1, changed('ns1/svc1')));
  assert.deepEqual(removal.filter((l) => !l.startsWith('flush chain')), [
    'delete element ip kube-proxy cluster-ips { 172.30.0.41 }',
    'delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }',
  ]);
  assert.equal(removal.filter((l) => l.startsWith('flush chain')).length, 3);
  assert.equal(h.nft.chains('ip', 'kube-proxy').filter((c) => c.includes('ns1/svc1')).length, 3, 'flushed, not yet deleted');
  assertNoDanglingReferences(h.nft);

  // ...and deleted by a later sync once they have aged, in a transaction of their own.
  h.advance(2_000);
  const later = lines(await h.sync(without1, changed()));
  assert.deepEqual(later, [
    'delete chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80',
    'delete chain ip kube-proxy endpoint-R7UVCGCT-ns1/svc1/tcp/p80__10.180.0.9/80',
    'delete chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80',
  ]);
  assert.deepEqual(h.nft.chains('ip', 'kube-proxy').filter((c) => c.includes('ns1/svc1')), []);

  // svc5 loses affinity: its affinity set is deleted after the rules naming it are gone.
  const svc5 = svcPort({ ns: 'ns5', name: 'svc5', clusterIP: '172.30.0.45', nodePort: 3002, lbIPs: ['5.6.7.8'], hcNodePort: 30000,
    sourceRanges: ['203.0.113.0/25'], endpoints: [{ ip: '10.180.0.3' }] });
  const noAffinity = lines(await h.sync(proxyState([...without1.services.values()].map((p) => (p.serviceKey === 'ns5/svc5' ? svc5 : p))), changed('ns5/svc5')));
  assert.ok(noAffinity.indexOf('delete set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80') > noAffinity.findLastIndex((l) => l.startsWith('flush chain')));
  assert.deepEqual(h.nft.sets('ip', 'kube-proxy').filter((s) => s.startsWith('affinity-')), []);
  assertNoDanglingReferences(h.nft);

  // A full resync of the same state converges to the same table.
  const before = h.nft.dump();
  await h.sync(proxyState([...without1.services.values()].map((p) => (p.serviceKey === 'ns5/svc5' ? svc5 : p))), FULL);
  assert.equal(h.nft.dump(), before);
});

test('a one-endpoint change sends the same few lines at 100 and at 2,000 services', async () => {
  const sizes: number[] = [];
  for (const n of [100, 2000]) {
    const h = harness();
    const ports = Array.from({ length: n }, (_, i) => svcPort({
      ns: 'ns', name: `svc${i}`, clusterIP: `172.30.${i >> 8}.${i & 255}`, nodePort: 30000 + i,
      endpoints: [{ ip: `10.1.${i >> 8}.${i & 255}` }, { ip: `10.2.${i >> 8}.${i & 255}` }],
    }));
    await h.sync(proxyState(ports), FULL);
    const moved = svcPort({ ns: 'ns', name: 'svc7', clusterIP: '172.30.0.7', nodePort: 30007, endpoints: [{ ip: '10.1.0.7' }, { ip: '10.3.0.7' }] });
    const tx = await h.sync(proxyState(ports.map((p) => (p.serviceKey === 'ns/svc7' ? moved : p))), changed('ns/svc7'));
    sizes.push(lines(tx).length);
    assertNoDanglingReferences(h.nft);
  }
  assert.equal(sizes[0], sizes[1]);
  assert.ok(sizes[0]! <= 10, `${sizes[0]} lines`);
});

test('--dry-run prints the transaction a first sync would send', () => {
  const opts = modeOptions('nftables', { clusterCIDR: '10.0.0.0/8' });
  assert.equal(mode.describe(proxyState(overallServices()), opts), GOLDEN);
});
