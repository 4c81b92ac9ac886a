/**
 * fake-nft: the fake applies transactions all or nothing and refuses what nft refuses, so the nftables
 * mode's unit tests catch an order or a reference the kernel would reject.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftError, summarizeTable } from '../../../src/net/nft.js';
import { NftTransaction } from '../../../src/net/nft-transaction.js';
import { FakeNft } from '../../support/fake-nft.js';

const BASE = [
  'add table ip t { comment "mine" ; }',
  'add chain ip t input { type filter hook input priority -110 ; }',
  'add chain ip t a',
  'add chain ip t b',
  'add map ip t m { type ipv4_addr . inet_proto . inet_service : verdict ; }',
  'add set ip t s { type ipv4_addr ; }',
  'add rule ip t input ip daddr @s jump a',
  'add rule ip t a numgen random mod 1 vmap { 0 : goto b }',
  'add element ip t m { 1.2.3.4 . tcp . 80 : goto b }',
  'add element ip t s { 10.0.0.1 }',
].join('\n') + '\n';

async function fresh(): Promise<FakeNft> {
  const nft = new FakeNft();
  await nft.run(BASE);
  return nft;
}

async function rejects(nft: FakeNft, input: string, line: number, message: RegExp): Promise<void> {
  const before = nft.dump();
  await assert.rejects(nft.run(input), (err: unknown) => err instanceof NftError && err.line === line && message.test(err.message));
  assert.equal(nft.dump(), before, 'a rejected transaction changes nothing');
}

test('a transaction builds tables, chains, rules, sets and elements', async () => {
  const nft = await fresh();
  assert.deepEqual(nft.chains('ip', 't'), ['a', 'b', 'input']);
  assert.deepEqual(nft.rules('ip', 't', 'input'), ['ip daddr @s jump a']);
  assert.deepEqual(nft.elements('ip', 't', 'm'), ['1.2.3.4 . tcp . 80 : goto b']);
  assert.deepEqual(nft.elements('ip', 't', 's'), ['10.0.0.1']);
  assert.match(nft.dump(), /chain input \{ type filter hook input priority -110 ; \}/);
});

test('jumps, gotos and vmaps to a missing chain, and references to a missing set, are refused', async () => {
  const nft = await fresh();
  await rejects(nft, 'add chain ip t c\nadd rule ip t c jump nowhere\n', 2, /No such file or directory/);
  await rejects(nft, 'add rule ip t a numgen random mod 2 vmap { 0 : goto b , 1 : goto gone }\n', 1, /No such file/);
  await rejects(nft, 'add element ip t m { 1.2.3.5 . tcp . 80 : goto gone }\n', 1, /No such file/);
  await rejects(nft, 'add rule ip t a ip saddr @nosuchset drop\n', 1, /No such file/);
  await rejects(nft, 'add rule ip t missing drop\n', 1, /No such file/);
  await rejects(nft, 'add chain ip nosuchtable c\n', 1, /No such file/);
});

test('a referenced chain or set cannot be deleted; once unreferenced it can, in the same transaction', async () => {
  const nft = await fresh();
  await rejects(nft, 'delete chain ip t b\n', 1, /Device or resource busy/);
  await rejects(nft, 'flush chain ip t a\ndelete chain ip t b\n', 2, /busy/);
  await rejects(nft, 'delete set ip t s\n', 1, /busy/);
  await nft.run('flush chain ip t a\ndelete element ip t m { 1.2.3.4 . tcp . 80 }\ndelete chain ip t b\nflush chain ip t input\ndelete set ip t s\n');
  assert.deepEqual(nft.chains('ip', 't'), ['a', 'input']);
  assert.deepEqual(nft.sets('ip', 't'), ['m']);
});

test('all or nothing: a failure on the last line leaves the earlier lines unapplied', async () => {
  const nft = await fresh();
  await rejects(nft, 'add chain ip t c\nadd rule ip t c drop\ndelete element ip t m { 9.9.9.9 . tcp . 1 }\n', 3, /No such file/);
  assert.deepEqual(nft.chains('ip', 't'), ['a', 'b', 'input']);
});

test('an element added again with another value is refused; with the same value it is a no-op', async () => {
  const nft = await fresh();
  await nft.run('add element ip t m { 1.2.3.4 . tcp . 80 : goto b }\n');
  await rejects(nft, 'add element ip t m { 1.2.3.4 . tcp . 80 : goto a }\n', 1, /File exists/);
  await nft.run('delete element ip t m { 1.2.3.4 . tcp . 80 }\nadd element ip t m { 1.2.3.4 . tcp . 80 : goto a }\n');
  assert.deepEqual(nft.elements('ip', 't', 'm'), ['1.2.3.4 . tcp . 80 : goto a']);
});

test('a base chain cannot be re-added with another priority; a set re-added with another timeout keeps its own', async () => {
  const nft = await fresh();
  await rejects(nft, 'add chain ip t input { type filter hook input priority 0 ; }\n', 1, /Operation not supported/);
  await nft.run('add chain ip t input\ndelete chain ip t input\nadd chain ip t input { type filter hook input priority 0 ; }\n');
  await nft.run('add set ip t aff { type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; }\n');
  await nft.run('add set ip t aff { type ipv4_addr ; flags dynamic,timeout ; timeout 20s ; }\n');
  assert.match(nft.dump(), /set aff \{ type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; \}/);
  await rejects(nft, 'add set ip t aff { type ipv6_addr ; flags dynamic,timeout ; timeout 10s ; }\n', 1, /File exists/);
});

test('deleting a table removes everything in it and leaves other tables alone', async () => {
  const nft = await fresh();
  await nft.run(new NftTransaction('ip', 'other').add({ kind: 'table' }).add({ kind: 'chain', name: 'x' }));
  await nft.run(new NftTransaction('ip', 't').delete({ kind: 'table' }));
  assert.equal(nft.hasTable('ip', 't'), false);
  assert.deepEqual(nft.chains('ip', 'other'), ['x']);
  await rejects(nft, 'delete table ip t\n', 1, /No such file/);
});

test('the listing is nft -j shaped, so the real summariser reads it', async () => {
  const nft = await fresh();
  const json = await nft.listTable('ip', 't');
  assert.ok(json);
  const s = summarizeTable(json, 'ip', 't');
  assert.equal(s.chains.get('input'), 1);
  assert.equal(s.sets.get('m')?.elements, 1);
  assert.equal(await nft.listTable('ip', 'absent'), undefined);
});
