// Runs INSIDE the IPVS VM: `kpx --cleanup` after the ipvs mode ran leaves the node's IPVS table, ipsets and
// iptables exactly as they were before kpx started, other programs' virtual server, set and chain included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSandbox } from '../../../src/sandbox/builder.js';
import { kpxCommand, defaultEntry, startKpx } from '../../../src/sandbox/kpx-runner.js';
import { endpointFor, ManifestDir } from '../../../src/sandbox/manifests.js';

test('--cleanup after the ipvs mode restores IPVS, ipsets and iptables byte for byte, foreign state kept', async () => {
  const sb = await buildSandbox({ nodes: 1, pods: [{ name: 'pod1', node: 1 }] });
  try {
    const ns = sb.ns('node1');
    const run = async (cmd: string, args: string[]) => (await sb.exec(ns, cmd, args)).stdout;
    // Another program's state, present before kpx.
    await run('ipvsadm', ['-A', '-t', '10.99.0.1:80', '-s', 'wlc']);
    await run('ipset', ['create', 'FOREIGN-SET', 'hash:ip']);
    await run('ipset', ['add', 'FOREIGN-SET', '192.0.2.1']);
    await run('iptables', ['-t', 'nat', '-N', 'FOREIGN']);
    await run('iptables', ['-t', 'nat', '-A', 'FOREIGN', '-d', '192.0.2.1', '-j', 'RETURN']);
    await run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-j', 'FOREIGN']);
    const snapshot = async () => ({
      ipvs: await run('ipvsadm', ['-Ln']),
      ipset: await run('ipset', ['save']),
      // iptables-nft cannot delete a table, so one kpx created stays behind empty: built-in chains with ACCEPT
      // policies and no rule, which filters nothing. Such a table is left out of the comparison (named exception).
      iptables: (await run('iptables-save', [])).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]')
        .replace(/^\*\w+\n(?::[A-Z]+ ACCEPT \[0:0\]\n)*COMMIT\n/gm, ''),
      links: (await run('ip', ['-o', 'link', 'show'])).replace(/^\d+: /gm, ''),
    });
    const before = await snapshot();

    const dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    dir.writeService({ name: 'web', type: 'NodePort', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }, [endpointFor(sb.pod('pod1'))]);
    const kpx = await startKpx(sb, 'node1', { manifestsDir: dir.dir, mode: 'ipvs' });
    await kpx.stop();
    assert.match(await run('ipvsadm', ['-Ln']), /10\.96\.0\.10:80/, 'the ipvs mode ran');

    const { cmd, args } = kpxCommand(defaultEntry(), ['--cleanup']);
    await sb.exec(ns, cmd, args, { timeoutMs: 300_000 });
    const after = await snapshot();
    assert.equal(after.ipvs, before.ipvs, 'IPVS table: only the foreign virtual server is left');
    assert.equal(after.ipset, before.ipset, 'ipsets: only FOREIGN-SET is left');
    assert.equal(after.iptables, before.iptables, 'iptables: only the foreign chain and its jump are left');
    assert.equal(after.links, before.links, 'kube-ipvs0 is gone');
    await sb.exec(ns, cmd, args, { timeoutMs: 300_000 });
    assert.deepEqual(await snapshot(), after, 'a second --cleanup changes nothing');
  } finally {
    await sb.destroy();
  }
});
