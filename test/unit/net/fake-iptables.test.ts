/**
 * The iptables fake behaves like iptables-restore / iptables-save where the iptables mode relies on it:
 * whole-table replace vs. --noflush, chain declarations, -A/-I/-D/-X, one generation per committed
 * table, and rejection of what the kernel would reject.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IptablesRestoreError } from '../../../src/util/errors.js';
import { FakeIptables } from '../../support/fake-iptables.js';

const FOREIGN = `*nat
:PREROUTING ACCEPT [0:0]
:OTHER - [0:0]
-A PREROUTING -j OTHER
-A OTHER -d 10.9.9.9 -j DNAT --to-destination 10.1.1.1
COMMIT
`;

test('a restore without --noflush replaces each table it names, and leaves the others', async () => {
  const ipt = new FakeIptables();
  ipt.external(FOREIGN, {});
  ipt.external('*filter\n:KEEP - [0:0]\n-A INPUT -j KEEP\nCOMMIT\n', {});
  await ipt.restore('*nat\n:MINE - [0:0]\n-A OUTPUT -j MINE\n-A MINE -j RETURN\nCOMMIT\n');
  assert.equal(await ipt.chainExists('nat', 'OTHER'), false, 'the foreign nat chain went with the table');
  assert.deepEqual(ipt.rules('nat', 'PREROUTING'), [], 'built-in chains stay, empty');
  assert.deepEqual(ipt.rules('nat', 'OUTPUT'), ['-A OUTPUT -j MINE']);
  assert.deepEqual(ipt.rules('filter', 'INPUT'), ['-A INPUT -j KEEP'], 'filter was not in the input');
  assert.equal(ipt.last.noFlush, false);
});

test('with --noflush a declared chain is flushed, -A appends, -I inserts, -D deletes and -X removes', async () => {
  const ipt = new FakeIptables();
  ipt.external(FOREIGN, {});
  await ipt.restore([
    '*nat',
    ':A - [0:0]',
    ':B - [0:0]',
    '-A A -s 10.0.0.1 -j RETURN',
    '-A A -s 10.0.0.2 -j RETURN',
    '-I A 1 -s 10.0.0.0 -j RETURN',
    '-D A -s 10.0.0.1 -j RETURN',
    '-X B',
    'COMMIT',
  ].join('\n') + '\n', { noFlush: true });
  assert.deepEqual(ipt.rules('nat', 'A'), ['-A A -s 10.0.0.0 -j RETURN', '-A A -s 10.0.0.2 -j RETURN']);
  assert.equal(await ipt.chainExists('nat', 'B'), false);
  assert.deepEqual(ipt.rules('nat', 'OTHER'), ['-A OTHER -d 10.9.9.9 -j DNAT --to-destination 10.1.1.1'], 'chains not named are kept');
  await ipt.restore('*nat\n:A - [0:0]\nCOMMIT\n', { noFlush: true });
  assert.deepEqual(ipt.rules('nat', 'A'), [], 'declaring an existing chain flushes it');
});

test('save prints what restore reads back, built-in chains first with their policies', async () => {
  const ipt = new FakeIptables();
  ipt.external(FOREIGN.replace(':PREROUTING ACCEPT', ':PREROUTING DROP'), {});
  const saved = await ipt.save();
  assert.match(saved, /^:PREROUTING DROP \[0:0\]\n:INPUT ACCEPT \[0:0\]\n:OUTPUT ACCEPT \[0:0\]\n:POSTROUTING ACCEPT \[0:0\]\n:OTHER - \[0:0\]$/m);
  const copy = new FakeIptables();
  copy.external(saved, {});
  assert.equal(await copy.save(), saved);
  assert.equal(ipt.saves, 1);
  assert.equal(await ipt.save('filter'), '', 'a table never created is not printed');
});

test('each committed table is one generation, and so is each chain or rule command', async () => {
  const ipt = new FakeIptables({ generation: 10 });
  await ipt.restore('*filter\n:X - [0:0]\nCOMMIT\n*nat\n:Y - [0:0]\nCOMMIT\n', { noFlush: true });
  assert.equal(await ipt.generation(), 12);
  assert.equal(await ipt.ensureChain('mangle', 'Z'), false);
  assert.equal(await ipt.ensureChain('mangle', 'Z'), true, 'already there: no commit');
  assert.equal(await ipt.ensureRule('prepend', 'mangle', 'OUTPUT', ['-j', 'Z']), false);
  assert.equal(await ipt.ensureRule('prepend', 'mangle', 'OUTPUT', ['-j', 'Z']), true);
  assert.equal(await ipt.generation(), 14);
  assert.equal(await new FakeIptables().generation(), undefined, 'no generation: the legacy backend');
});

test('what the kernel rejects is an IptablesRestoreError naming the line, and that table is not committed', async () => {
  const ipt = new FakeIptables({ generation: 0 });
  ipt.external(FOREIGN, {});
  const cases: [string, RegExp][] = [
    ['*nat\n-A MISSING -j RETURN\nCOMMIT\n', /line 2: chain MISSING does not exist/],
    ['*nat\n:A - [0:0]\n-A A -j NOWHERE\nCOMMIT\n', /line 4: couldn't load target `NOWHERE'/],
    ['*nat\n-D OTHER -d 10.8.8.8 -j RETURN\nCOMMIT\n', /line 2: bad rule/],
    ['*nat\n-X OTHER\nCOMMIT\n', /line 2: chain OTHER is not empty/],
    ['*nat\n:OTHER - [0:0]\n-X OTHER\nCOMMIT\n', /line 3: chain OTHER is still referenced/],
    ['*nat\n:A - [0:0]\n', /has no COMMIT/],
  ];
  for (const [input, message] of cases) {
    await assert.rejects(ipt.restore(input, { noFlush: true }), (err: unknown) => err instanceof IptablesRestoreError && message.test(err.message), input);
  }
  assert.deepEqual(ipt.rules('nat', 'OTHER'), ['-A OTHER -d 10.9.9.9 -j DNAT --to-destination 10.1.1.1']);
  assert.equal(await ipt.chainExists('nat', 'A'), false);
  assert.equal(await ipt.generation(), 1, 'only the set-up committed');
  assert.equal(ipt.restores.length, 0, 'rejected restores are not recorded');
});

test('an earlier table of the input stays committed when a later one fails', async () => {
  const ipt = new FakeIptables({ generation: 0 });
  await assert.rejects(ipt.restore('*filter\n:F - [0:0]\nCOMMIT\n*nat\n-A NOPE -j RETURN\nCOMMIT\n', { noFlush: true }), IptablesRestoreError);
  assert.equal(await ipt.chainExists('filter', 'F'), true);
  assert.equal(await ipt.generation(), 1);
});

test('an injected failure rejects the next restore only', async () => {
  const ipt = new FakeIptables();
  ipt.failNextRestore();
  await assert.rejects(ipt.restore('*nat\nCOMMIT\n'), IptablesRestoreError);
  await ipt.restore('*nat\nCOMMIT\n');
  assert.equal(ipt.restores.length, 1);
});

test('the dump is a parsed copy the tracer can read', async () => {
  const ipt = new FakeIptables();
  ipt.external(FOREIGN, {});
  const dump = ipt.dump();
  const other = dump.tables.find((t) => t.name === 'nat')!.chains.find((c) => c.name === 'OTHER')!;
  assert.equal(other.rules[0].dnatDestination, '10.1.1.1');
  other.rules.length = 0;
  assert.equal(ipt.rules('nat', 'OTHER')!.length, 1, 'changing the copy does not change the fake');
});
