/**
 * The real NftClient against the kernel, in a sandbox node's namespace: a transaction is all or nothing,
 * a rejected one names its failing line, and the JSON listing reads back what was written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Nft, NftError, summarizeTable } from '../../../src/net/nft.js';
import { NftTransaction } from '../../../src/net/nft-transaction.js';
import { buildSandbox, type Sandbox } from '../../../src/sandbox/builder.js';
import { notReadyReason } from '../../support/sandbox-cluster.js';

describe('the nft client on a real kernel', { skip: notReadyReason('nftables'), timeout: 120_000 }, () => {
  let sb: Sandbox;
  let nft: Nft;
  before(async () => {
    sb = await buildSandbox({ nodes: 1, pods: [] });
    nft = new Nft({ netns: sb.node('node1').ns });
  }, { timeout: 60_000 });
  after(async () => { await sb?.destroy(); }, { timeout: 60_000 });

  it('writes a transaction and lists it back as JSON', async () => {
    await nft.run(new NftTransaction('ip', 't')
      .add({ kind: 'table', comment: 'test' })
      .add({ kind: 'chain', name: 'c' })
      .add({ kind: 'map', name: 'm', type: 'ipv4_addr . inet_proto . inet_service : verdict' })
      .add({ kind: 'rule', chain: 'c', rule: 'ip daddr . meta l4proto . th dport vmap @m', comment: 'dispatch' })
      .add({ kind: 'element', container: 'm', key: ['10.0.0.1', 'tcp', '80'], value: ['goto c'], comment: 'ns/svc:p' }));
    const s = summarizeTable((await nft.listTable('ip', 't'))!, 'ip', 't');
    assert.equal(s.chains.get('c'), 1);
    assert.equal(s.sets.get('m')?.elements, 1);
    assert.equal(await nft.listTable('ip', 'absent'), undefined);
  });

  it('a rejected transaction changes nothing and its error names the failing line', async () => {
    const tx = new NftTransaction('ip', 't').add({ kind: 'chain', name: 'd' }).add({ kind: 'rule', chain: 'd', rule: 'jump nowhere' });
    await assert.rejects(nft.run(tx), (err: unknown) => err instanceof NftError && err.line === 2 && err.notFound && /jump nowhere/.test(err.context));
    const s = summarizeTable((await nft.listTable('ip', 't'))!, 'ip', 't');
    assert.equal(s.chains.has('d'), false);
  });
});
