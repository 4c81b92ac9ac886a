/**
 * Chaos: another process holds the xtables lock for several seconds while kpx has a change to program,
 * under continuous load.
 *
 * What actually blocks iptables-restore here (measured, and asserted below):
 *  - Debian's default iptables is the nf_tables backend (iptables-nft 1.8.9). It takes NO xtables lock:
 *    `iptables-nft-restore -w 1` succeeds at once while another process holds the lock file. Concurrent
 *    nft writers are serialised by the kernel (one netlink transaction at a time, generation checks and
 *    retries inside iptables-nft), so on an nft node "holding the lock" cannot block kpx at all.
 *  - The legacy backend (iptables-legacy, still used by nodes whose other components write legacy rules)
 *    does take it: `flock` on the lock file makes `iptables-legacy-restore -w N` wait N seconds and exit 4
 *    ("Another app is currently holding the xtables lock").
 * So the scenario runs kpx on the legacy backend (kpx picks the backend that already has rules: one legacy
 * rule is put in the node namespace first) and holds the lock with `flock FILE sleep N` inside the node
 * namespace. The lock file is the host's /run/xtables.lock by default, shared by every namespace (it is a
 * file, not a network object): holding it would stall the host's own legacy iptables users. Both sides
 * therefore use a private lock file through XTABLES_LOCKFILE, which iptables-legacy honours.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exec } from '../../src/net/exec.js';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import { assertKeptTraffic, ChaosCluster, LOAD_RATE, printFaultTable, rowFrom, sleep, type FaultRow } from '../support/chaos-cluster.js';
import { notReadyReason } from '../support/sandbox-cluster.js';

const skip = notReadyReason('iptables');
const HOLD_SECONDS = 8;

describe('chaos: the xtables lock is held by another process (iptables mode)', { skip, timeout: 300_000 }, () => {
  let c: ChaosCluster;
  let lockFile = '';
  const rows: FaultRow[] = [];

  before(async () => {
    c = await ChaosCluster.create({
      beforeKpx: async (cl) => {
        lockFile = join(cl.sb.tmpDir, 'xtables.lock');
        writeFileSync(lockFile, '');
        cl.kpxEnv = { ...process.env, XTABLES_LOCKFILE: lockFile };
        cl.iptablesSave = 'iptables-legacy-save';
        // One legacy rule, and none in nft: kpx detects the node as a legacy node.
        await cl.sb.exec(cl.nodeNs, 'iptables-legacy', ['-w', '5', '-t', 'filter', '-A', 'INPUT', '-s', '192.0.2.1/32', '-j', 'ACCEPT'],
          {});
      },
    });
  }, { timeout: 120_000 });
  after(async () => {
    printFaultTable(`chaos: xtables lock (iptables mode on the legacy backend, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP)`, rows);
    await c?.destroy();
  }, { timeout: 60_000 });

  /** Starts `flock FILE sleep N` in the node namespace and waits until it holds the lock. */
  async function holdLock(seconds: number) {
    const holder = c.sb.startProcess(c.nodeNs, 'xtables lock holder', 'flock', [lockFile, 'sleep', String(seconds)]);
    for (let i = 0; i < 100; i++) {
      const probe = await exec('flock', ['-n', lockFile, 'true'], { okCodes: [0, 1] });
      if (probe.code === 1) return holder;
      await sleep(20);
    }
    await holder.stop();
    throw new Error('the lock holder never took the lock');
  }

  it('the nft backend ignores the xtables lock; the legacy backend waits for it (what blocks iptables-restore here)', async () => {
    const holder = await holdLock(3);
    try {
      const input = '*filter\nCOMMIT\n';
      const env = { ...process.env, XTABLES_LOCKFILE: lockFile };
      const t0 = Date.now();
      await exec('iptables-nft-restore', ['-w', '1', '--noflush'], { netns: c.nodeNs, input, env });
      const nftMs = Date.now() - t0;
      const t1 = Date.now();
      const legacy = await exec('iptables-legacy-restore', ['-w', '1', '--noflush'], { netns: c.nodeNs, input, env, okCodes: [0, 4] });
      const legacyMs = Date.now() - t1;
      assert.ok(nftMs < 900, `iptables-nft-restore did not wait for the lock (${nftMs} ms)`);
      assert.equal(legacy.code, 4, 'iptables-legacy-restore gave up waiting for the lock (exit 4)');
      assert.match(legacy.stderr, /xtables lock/);
      assert.ok(legacyMs >= 900, `iptables-legacy-restore waited -w 1 (${legacyMs} ms)`);
    } finally {
      await holder.stop();
    }
  });

  it(`waits while the lock is held for ${HOLD_SECONDS} s, keeps traffic flowing, never crashes, and applies the change after`, async () => {
    assert.match(await c.kubeRules(), /KUBE-SVC-/, 'kpx programs the legacy tables');
    const svc = c.services.find((s) => s.spec.name === 'svc-c')!;
    const rulesBefore = await c.kubeRules();
    await c.load.reset();
    const t0 = Date.now();
    const holder = await holdLock(HOLD_SECONDS);
    const since = nowSeconds();
    await c.writeEndpoints(svc.spec, c.endpointsOf(svc.pods.filter((p) => p !== 'web-4')));
    await sleep(2000);
    assert.equal(await c.kubeRules(), rulesBefore, 'nothing was written while the lock was held');
    await holder.exited;
    const released = Date.now();
    await c.waitForSync(since, 40_000);
    const appliedMs = Date.now() - released;
    assert.notEqual(await c.kubeRules(), rulesBefore, 'the change was applied once the lock was free');
    assert.ok(!c.kpx.proc.hasExited(), 'kpx is still running');
    const lockLines = c.kpxLines(/xtables lock|sync.*failed/i, t0);
    await c.writeEndpoints(svc.spec, c.endpointsOf(svc.pods));
    await sleep(1000);
    const snap = await c.load.window();
    const row = rowFrom(`xtables lock held ${HOLD_SECONDS} s (legacy backend)`, snap,
      `change applied ${appliedMs} ms after release; kpx log lines about it: ${lockLines.length}`);
    rows.push(row);
    assertKeptTraffic(row, JSON.stringify(snap.failures));
  });
});
