/**
 * The nftables backend against changes it did not make: its table deleted or edited behind its back is
 * rebuilt by the next sync; a failed write is followed by a rebuild; a table left by kube-proxy (other
 * priorities, stale chains and sets) is taken over; cleanup and hasLeftovers see only kube-proxy's tables,
 * and a foreign table keeps its rules through all of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeNft } from '../../support/fake-nft.js';
import { overallServices, proxyState, svcPort } from '../iptables/render-fixtures.js';
import { FULL, assertNoDanglingReferences, changed, harness } from './harness.js';

const FOREIGN = [
  'add table ip firewall',
  'add chain ip firewall input { type filter hook input priority 0 ; }',
  'add rule ip firewall input tcp dport 22 accept',
  'add chain ip firewall nat-prerouting { type nat hook prerouting priority -100 ; }',
  'add rule ip firewall nat-prerouting ip daddr 10.99.0.1 dnat to 10.99.0.2',
].join('\n') + '\n';

const foreignPart = (dump: string) => dump.split(/(?=^table )/m).filter((t) => t.startsWith('table ip firewall')).join('');

async function synced() {
  const nft = new FakeNft();
  await nft.run(FOREIGN);
  const h = harness({ nft });
  const state = proxyState(overallServices());
  await h.sync(state, FULL);
  return { h, nft, state, foreign: foreignPart(nft.dump()) };
}

test('a table deleted behind kpx\'s back is rebuilt by the next sync after the check interval', async () => {
  const { h, nft, state, foreign } = await synced();
  const written = nft.dump();
  await nft.run('delete table ip kube-proxy\n');
  h.advance(10_000);
  await h.sync(state, changed());
  assert.equal(h.backend.lastSync.kind, 'recreate');
  assert.equal(nft.dump(), written);
  assert.equal(foreignPart(nft.dump()), foreign);
});

test('while only kpx commits, the periodic check lists no table; another program\'s commit makes it list once', async () => {
  const { h, nft, state } = await synced();
  await h.sync(state, changed()); // the first check after a full write lists the table once
  const listings = nft.listings;
  for (let i = 0; i < 3; i++) {
    h.advance(30_000);
    assert.equal(await h.sync(state, changed()), '');
  }
  assert.equal(nft.listings, listings, 'no listing while the generation shows only kpx committed');
  await nft.run('add table ip someone-else\n');
  h.advance(30_000);
  assert.equal(await h.sync(state, changed()), '');
  assert.equal(nft.listings, listings + 1);
});

test('a rule added or an element deleted behind kpx\'s back is repaired by the next sync', async () => {
  const { h, nft, state } = await synced();
  const written = nft.dump();
  await nft.run('add rule ip kube-proxy services drop\n');
  h.advance(10_000);
  await h.sync(state, changed());
  assert.equal(nft.dump(), written);
  await nft.run('delete element ip kube-proxy cluster-ips { 172.30.0.41 }\n');
  h.advance(10_000);
  await h.sync(state, changed());
  assert.equal(nft.dump(), written);
  // Left alone, nothing is rewritten.
  h.advance(10_000);
  assert.equal(await h.sync(state, changed()), '');
});

test('after a failed write the next sync rebuilds the table from nothing', async () => {
  const { h, nft, state } = await synced();
  nft.failNext = 'Could not process rule: No buffer space available';
  const moved = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: '10.180.0.9' }] });
  const r = await h.backend.sync(proxyState([...state.services.values()].map((p) => (p.serviceKey === 'ns1/svc1' ? moved : p))), changed('ns1/svc1'));
  assert.equal(r.ok, false);
  await h.sync(state, changed());
  assert.equal(h.backend.lastSync.kind, 'recreate');
  assert.match(nft.transactions.at(-1)!, /^add table ip kube-proxy\ndelete table ip kube-proxy\n/);
  assertNoDanglingReferences(nft);
});

test('a table kube-proxy left (other priorities, stale chains and affinity sets) is taken over without a failed write', async () => {
  const nft = new FakeNft();
  await nft.run([
    'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
    'add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority 0 ; }',
    'add chain ip kube-proxy endpoint-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80',
    'add set ip kube-proxy affinity-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }',
    'add rule ip kube-proxy endpoint-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80 update @affinity-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80 { ip saddr }',
    'add rule ip kube-proxy nat-prerouting jump endpoint-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80',
  ].join('\n') + '\n');
  const h = harness({ nft });
  const state = proxyState(overallServices());
  await h.sync(state, FULL);
  assert.match(nft.dump(), /chain nat-prerouting \{ type nat hook prerouting priority -100 ; \}/);
  assert.deepEqual(nft.sets('ip', 'kube-proxy').filter((s) => s.includes('gone')), []);
  assert.deepEqual(nft.rules('ip', 'kube-proxy', 'endpoint-OLDOLDOL-gone/svc/tcp/p80__10.9.9.9/80'), []);
  h.advance(2_000);
  await h.sync(state, changed());
  assert.deepEqual(nft.chains('ip', 'kube-proxy').filter((c) => c.includes('gone')), []);
  assertNoDanglingReferences(nft);
});

test('cleanup deletes both families\' kube-proxy tables and nothing else; hasLeftovers says whether there are any', async () => {
  const { h, nft, foreign } = await synced();
  await nft.run('add table ip6 kube-proxy\nadd chain ip6 kube-proxy services\n');
  assert.equal(await h.backend.hasLeftovers(), true);
  await h.backend.cleanup();
  assert.equal(nft.hasTable('ip', 'kube-proxy'), false);
  assert.equal(nft.hasTable('ip6', 'kube-proxy'), false);
  assert.equal(foreignPart(nft.dump()), foreign);
  assert.equal(await h.backend.hasLeftovers(), false);
  await h.backend.cleanup();
  // After cleanup the next sync writes everything again.
  await h.sync(proxyState([svcPort({ ns: 'a', name: 'b', clusterIP: '172.30.1.1', endpoints: [{ ip: '10.1.1.1' }] })]), changed('a/b'));
  assert.equal(h.backend.lastSync.kind, 'full');
});
