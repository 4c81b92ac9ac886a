/**
 * The saved-ruleset cache: iptables-save is skipped exactly when nf_tables' generation shows that nothing
 * but kpx's own counted commits happened since the last read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KUBE_PROXY_CANARY } from '../../../modes/iptables/chain-names.js';
import { SavedRulesetCache } from '../../../modes/iptables/saved-ruleset-cache.js';
import { FakeIptables } from '../../support/fake-iptables.js';

const CANARIES = ['mangle', 'nat', 'filter'].map((t) => `*${t}\n:${KUBE_PROXY_CANARY} - [0:0]\nCOMMIT\n`).join('');

async function kpxCommits(ipt: FakeIptables, cache: SavedRulesetCache, tables: number): Promise<void> {
  for (let i = 0; i < tables; i++) await ipt.restore('*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n', { noFlush: true });
  cache.committed(tables);
}

const steps: { name: string; between: (ipt: FakeIptables, cache: SavedRulesetCache) => Promise<void> | void; reused: boolean }[] = [
  { name: 'nothing happened', between: () => {}, reused: true },
  { name: 'kpx committed two tables and counted them', between: (ipt, cache) => kpxCommits(ipt, cache, 2), reused: true },
  { name: 'another program committed', between: (ipt) => ipt.external('*filter\n:OTHER - [0:0]\nCOMMIT\n'), reused: false },
  { name: 'kpx committed without counting', between: (ipt) => ipt.restore('*nat\nCOMMIT\n', { noFlush: true }), reused: false },
  { name: 'the cache was told to forget (a failed restore)', between: (_ipt, cache) => cache.forget(), reused: false },
];

for (const s of steps) {
  test(`a second read reuses the first when ${s.name}: ${s.reused}`, async () => {
    const ipt = new FakeIptables({ generation: 7 });
    ipt.external(CANARIES, {});
    const cache = new SavedRulesetCache();
    assert.equal((await cache.read(ipt)).reused, false);
    await s.between(ipt, cache);
    const second = await cache.read(ipt);
    assert.equal(second.reused, s.reused);
    assert.equal(ipt.saves, s.reused ? 1 : 2);
    assert.ok(second.saved.tables.get('mangle')?.chains.has(KUBE_PROXY_CANARY));
  });
}

test('without a generation (legacy) every read saves', async () => {
  const ipt = new FakeIptables();
  const cache = new SavedRulesetCache();
  await cache.read(ipt);
  await cache.read(ipt);
  assert.equal(ipt.saves, 2);
});

test('a missing mangle canary is created, and being an uncounted commit, the next read saves again', async () => {
  const ipt = new FakeIptables({ generation: 0 });
  const cache = new SavedRulesetCache();
  await cache.read(ipt);
  assert.equal(await ipt.chainExists('mangle', KUBE_PROXY_CANARY), true);
  assert.equal((await cache.read(ipt)).reused, false);
  assert.equal((await cache.read(ipt)).reused, true, 'then the canary is there and nothing changed');
});
