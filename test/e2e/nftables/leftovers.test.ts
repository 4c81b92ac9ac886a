/**
 * nftables tables that are not kpx's own, on a real kernel: a foreign table hooked into the same hooks keeps
 * its rules byte for byte through nftables-mode syncs and `kpx --cleanup`; kube-proxy-style leftovers
 * (`ip kube-proxy` / `ip6 kube-proxy` with rules) are removed by `--cleanup` and by the start of the
 * iptables mode (the migration path from kube-proxy's nftables mode).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildSandbox, type Sandbox } from '../../../src/sandbox/builder.js';
import { startKpx } from '../../../src/sandbox/kpx-runner.js';
import { endpointFor, ManifestDir, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request } from '../../../src/sandbox/traffic.js';
import { runKpxOnce } from '../operations/node-state.js';
import { notReadyReason } from '../../support/sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.40.1', ports: [{ port: 80, targetPort: 8080 }] };

const FOREIGN = `table inet foreign {
  chain f_pre { type nat hook prerouting priority -100; ip daddr 10.99.0.1 tcp dport 80 dnat ip to 10.99.0.2; }
  chain f_out { type nat hook output priority -100; ip daddr 10.99.0.3 tcp dport 80 dnat ip to 10.99.0.4; }
  chain f_in { type filter hook input priority -110; tcp dport 2222 accept; }
  chain f_fwd { type filter hook forward priority -110; ip saddr 10.99.0.0/24 accept; }
}
`;

/** What kube-proxy's nftables mode leaves: its table with chains, rules, sets and maps. */
const KUBE_PROXY_LEFTOVER = (family: 'ip' | 'ip6', addr: string, type: string) => `add table ${family} kube-proxy { comment "rules for kube-proxy" ; }
add chain ${family} kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ${family} kube-proxy services
add map ${family} kube-proxy service-ips { type ${type} . inet_proto . inet_service : verdict ; }
add chain ${family} kube-proxy endpoint-AAAAAAAA-ns/old/tcp/__${addr.replaceAll(':', '.')}/80
add rule ${family} kube-proxy endpoint-AAAAAAAA-ns/old/tcp/__${addr.replaceAll(':', '.')}/80 meta l4proto tcp dnat to ${family === 'ip6' ? `[${addr}]` : addr}:80
add element ${family} kube-proxy service-ips { ${family === 'ip6' ? 'fd00::99' : '10.96.99.99'} . tcp . 80 : goto endpoint-AAAAAAAA-ns/old/tcp/__${addr.replaceAll(':', '.')}/80 }
add rule ${family} kube-proxy services ${family} daddr . meta l4proto . th dport vmap @service-ips
add rule ${family} kube-proxy nat-prerouting jump services
`;

describe('nftables tables that are not kpx\'s: foreign ones stay, kube-proxy\'s leftovers go', { skip: notReadyReason('nftables'), timeout: 300_000 }, () => {
  let sb: Sandbox;
  let dir: ManifestDir;
  let ns: string;
  let foreign: string;
  const nft = async (...args: string[]) => (await sb.exec(ns, 'nft', args)).stdout;
  // iptables-nft's own tables (ip nat, ip filter, ...) come and go with the iptables modes: not asserted on.
  const tables = async () => (await nft('list', 'tables')).trim().split('\n').filter((l) => /kube-proxy|foreign/.test(l)).sort();
  const plantLeftovers = async () => {
    await sb.exec(ns, 'nft', ['-f', '-'], { input: KUBE_PROXY_LEFTOVER('ip', '10.180.9.9', 'ipv4_addr') + KUBE_PROXY_LEFTOVER('ip6', 'fd00::9', 'ipv6_addr') });
    assert.deepEqual(await tables(), ['table inet foreign', 'table ip kube-proxy', 'table ip6 kube-proxy']);
  };

  before(async () => {
    sb = await buildSandbox({
      nodes: 1,
      pods: [{ name: 'web-1', node: 1 }, { name: 'src', node: 1, noServer: true }],
      onLine: process.env.KPX_SANDBOX_DEBUG ? (s, l) => process.stderr.write(`[${s}] ${l}\n`) : undefined,
    });
    ns = sb.node('node1').ns;
    dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    dir.writeService(web, [endpointFor(sb.pod('web-1'))]);
    await sb.exec(ns, 'nft', ['-f', '-'], { input: FOREIGN });
    foreign = await nft('list', 'table', 'inet', 'foreign');
  }, { timeout: 120_000 });
  after(async () => { await sb?.destroy(); }, { timeout: 60_000 });

  it('--cleanup removes kube-proxy-style tables with rules in both families, and nothing else', async () => {
    await plantLeftovers();
    const r = await runKpxOnce(ns, ['--cleanup']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tables(), ['table inet foreign']);
    assert.equal(await nft('list', 'table', 'inet', 'foreign'), foreign);
  });

  it('the nftables mode takes over kube-proxy\'s table, serves traffic, and the foreign table keeps its rules through syncs and --cleanup', async () => {
    await plantLeftovers();
    const kpx = await startKpx(sb, 'node1', { manifestsDir: dir.dir, mode: 'nftables' });
    try {
      const r = await request(sb.ns('src'), web.clusterIP, 80, 'tcp');
      assert.ok(isAnswer(r), JSON.stringify(r));
      assert.doesNotMatch(await nft('list', 'table', 'ip', 'kube-proxy'), /10\.96\.99\.99|dnat to 10\.180\.9\.9/, 'kube-proxy\'s stale chain is flushed and its element gone');
      assert.equal(await nft('list', 'table', 'inet', 'foreign'), foreign);
    } finally {
      await kpx.stop();
    }
    const r = await runKpxOnce(ns, ['--cleanup']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tables(), ['table inet foreign']);
    assert.equal(await nft('list', 'table', 'inet', 'foreign'), foreign);
  });

  it('starting the iptables mode removes kube-proxy\'s nftables tables before its first sync', async () => {
    await plantLeftovers();
    const kpx = await startKpx(sb, 'node1', { manifestsDir: dir.dir, mode: 'iptables' });
    try {
      assert.deepEqual((await tables()).filter((t) => t.includes('kube-proxy')), []);
      const r = await request(sb.ns('src'), web.clusterIP, 80, 'tcp');
      assert.ok(isAnswer(r), JSON.stringify(r));
      assert.equal(await nft('list', 'table', 'inet', 'foreign'), foreign);
    } finally {
      await kpx.stop();
    }
    assert.equal((await runKpxOnce(ns, ['--cleanup'])).code, 0);
  });
});
