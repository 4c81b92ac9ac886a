/**
 * nftables mode on a real kernel, against changes made behind kpx's back: its table deleted, or a rule
 * added to one of its chains, is repaired by kpx's next syncs while a foreign table is left alone; and a
 * switch from the iptables mode leaves none of that mode's chains behind.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startKpx } from '../../../src/sandbox/kpx-runner.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request, requestMany } from '../../../src/sandbox/traffic.js';
import { pollUntil } from '../../support/poll-until.js';
import { notReadyReason, useCluster } from '../../support/sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.50.1', ports: [{ port: 80, targetPort: 8080 }] };

describe('nftables mode: its table changed behind its back is repaired', { skip: notReadyReason('nftables') }, () => {
  const c = useCluster({
    nodes: 1,
    mode: 'nftables',
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }, { name: 'src', node: 1, tcpPorts: [], udpPorts: [] }],
    manifests(dir, sb) {
      dir.writeService(web, [endpointFor(sb.pod('pod1'))]);
    },
  });
  const nft = (args: string[], input?: string) => c.sb.exec(c.sb.node('node1').ns, 'nft', args, input === undefined ? {} : { input });
  const answers = async () => (await requestMany(c.sb.ns('src'), web.clusterIP, 80, 'tcp', 20)).pods;

  test('a deleted table is rebuilt by the next sync, and the service answers again', async () => {
    const { sb } = c;
    assert.deepEqual(await answers(), ['pod1']);
    await nft(['delete', 'table', 'ip', 'kube-proxy']);
    const r = await request(sb.ns('src'), web.clusterIP, 80, 'tcp');
    assert.ok(!isAnswer(r), 'without kpx\'s table the ClusterIP is not served');
    await c.change((dir) => dir.writeEndpoints(web, [endpointFor(sb.pod('pod1')), endpointFor(sb.pod('pod2'))]));
    await pollUntil(async () => (await answers()).length === 2, { timeoutMs: 60_000, intervalMs: 500, message: 'the table was not rebuilt' });
  });

  test('a rule someone added to kpx\'s services chain is gone after kpx\'s next syncs; a foreign table stays', async () => {
    const { sb } = c;
    await nft(['-f', '-'], 'add table inet foreign\nadd chain inet foreign input { type filter hook input priority 0 ; }\nadd rule inet foreign input tcp dport 2222 accept\n');
    const foreign = (await nft(['list', 'table', 'inet', 'foreign'])).stdout;
    await nft(['add', 'rule', 'ip', 'kube-proxy', 'services', 'ip', 'daddr', web.clusterIP, 'drop']);
    // Each round is a real change (one endpoint more or less), so kpx syncs; its check of the table runs
    // every few seconds.
    let both = true;
    await pollUntil(async () => {
      both = !both;
      const eps = both ? ['pod1', 'pod2'] : ['pod1'];
      await c.change((dir) => dir.writeEndpoints(web, eps.map((n) => endpointFor(sb.pod(n)))));
      return !/drop/.test((await nft(['list', 'chain', 'ip', 'kube-proxy', 'services'])).stdout);
    }, { timeoutMs: 60_000, intervalMs: 1_000, message: 'the foreign rule stayed in kpx\'s chain' });
    assert.deepEqual(await answers(), both ? ['pod1', 'pod2'] : ['pod1']);
    assert.equal((await nft(['list', 'table', 'inet', 'foreign'])).stdout, foreign);
  });
});

describe('a switch from the iptables mode to the nftables mode', { skip: notReadyReason('nftables') ?? notReadyReason('iptables') }, () => {
  const c = useCluster({
    nodes: 1,
    mode: 'iptables',
    pods: [{ name: 'pod1', node: 1 }, { name: 'src', node: 1, tcpPorts: [], udpPorts: [] }],
    manifests(dir, sb) {
      dir.writeService(web, [endpointFor(sb.pod('pod1'))]);
    },
  });

  test('leaves no iptables service chains behind, and the service keeps answering', async () => {
    const { sb } = c;
    const ns = sb.node('node1').ns;
    assert.match((await sb.exec(ns, 'iptables-save', ['-t', 'nat'])).stdout, /^:KUBE-SERVICES/m);
    await c.kpx('node1').stop();
    const kpx = await startKpx(sb, 'node1', { manifestsDir: c.dir.dir, mode: 'nftables' });
    try {
      assert.doesNotMatch((await sb.exec(ns, 'iptables-save', ['-t', 'nat'])).stdout, /^:KUBE-(SERVICES|SVC-|SEP-)/m);
      const r = await request(sb.ns('src'), web.clusterIP, 80, 'tcp');
      assert.ok(isAnswer(r) && r.pod === 'pod1', JSON.stringify(r));
    } finally {
      await kpx.stop();
    }
  });
});
