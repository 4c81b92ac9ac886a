/**
 * The iptables wrapper's pure parts: finding the failing line in iptables-restore's complaint and
 * quoting it with its neighbours.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractLines, failedLineOf } from '../../../src/net/iptables.js';

test('the failing line number is read from both nft and legacy iptables-restore messages', () => {
  assert.equal(failedLineOf('iptables-nft-restore v1.8.9 (nf_tables): \nline 21: CHAIN_DEL failed (Device or resource busy)'), 21);
  assert.equal(failedLineOf('iptables-restore: line 7 failed'), 7);
  assert.equal(failedLineOf('Error occurred at line: 12\nTry `iptables-restore -h\' for more information.'), 12);
  assert.equal(failedLineOf('Another app is currently holding the xtables lock'), undefined);
});

test('the failing line is shown with three neighbours each side and marked', () => {
  const data = Array.from({ length: 10 }, (_, i) => `line${i + 1}`).join('\n');
  const ctx = extractLines(data, 5);
  const lines = ctx.split('\n');
  assert.equal(lines.length, 7);
  assert.match(lines[0], /^ +2: line2$/);
  assert.match(lines[3], /^> +5: line5$/);
  assert.match(lines[6], /^ +8: line8$/);
  assert.equal(extractLines(data, 1).split('\n').length, 4, 'clipped at the start');
});
