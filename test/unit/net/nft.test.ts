/** nft: errors name the failing input line; `nft -j` listings are summarised per chain and set. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NftError, nftError, nftFailedLine, summarizeTable } from '../../../src/net/nft.js';

const STDERR = `/dev/stdin:3:22-28: Error: Could not process rule: No such file or directory
add rule ip t c jump nothere
                     ^^^^^^^
`;

test('the failing line is read from nft\'s error location', () => {
  assert.equal(nftFailedLine(STDERR), 3);
  assert.equal(nftFailedLine('Error: syntax error'), undefined);
});

test('a rejected transaction becomes an NftError that quotes the failing line and its neighbours', () => {
  const input = 'add table ip t\nadd chain ip t c\nadd rule ip t c jump nothere\n';
  const err = nftError(input, STDERR);
  assert.ok(err instanceof NftError);
  assert.equal(err.code, 'KPX_NFT');
  assert.equal(err.line, 3);
  assert.equal(err.notFound, true);
  assert.match(err.message, /^nft -f failed at line 3: Could not process rule: No such file or directory/);
  assert.match(err.context, />\s+3: add rule ip t c jump nothere/);
});

test('a listing is summarised as rules per chain and elements per set, other tables ignored', () => {
  const json = { nftables: [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'ip', name: 'kube-proxy', handle: 1 } },
    { map: { family: 'ip', table: 'kube-proxy', name: 'service-ips', map: 'verdict', elem: [[1, 2], [3, 4]] } },
    { set: { family: 'ip', table: 'kube-proxy', name: 'affinity-x', timeout: 10800 } },
    { chain: { family: 'ip', table: 'kube-proxy', name: 'services' } },
    { chain: { family: 'ip', table: 'kube-proxy', name: 'empty' } },
    { rule: { family: 'ip', table: 'kube-proxy', chain: 'services', expr: [] } },
    { rule: { family: 'ip', table: 'kube-proxy', chain: 'services', expr: [] } },
    { chain: { family: 'ip', table: 'other', name: 'services' } },
    { rule: { family: 'ip', table: 'other', chain: 'services', expr: [] } },
  ] };
  const s = summarizeTable(json, 'ip', 'kube-proxy');
  assert.deepEqual([...s.chains], [['services', 2], ['empty', 0]]);
  assert.deepEqual([...s.sets], [['service-ips', { kind: 'map', elements: 2 }], ['affinity-x', { kind: 'set', elements: 0, timeoutSeconds: 10800 }]]);
});
