/**
 * Full syncs and cleanup against the fake iptables (no root): other programs' rules survive both full-sync
 * strategies, stale chains go, and cleanup leaves exactly what kpx did not write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IptablesBackend, type FullSyncStrategy } from '../../../modes/iptables/backend.js';
import { endpointChainName } from '../../../modes/iptables/chain-names.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { ChangeSet } from '../../../src/model/types.js';
import { RecordingConntrack } from '../../support/fake-conntrack.js';
import { FakeIptables } from '../../support/fake-iptables.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { memoryLogger } from '../../support/logger.js';
import { proxyState, svcPort } from './render-fixtures.js';
import { modeOptions } from '../../support/mode-options.js';

const FULL: ChangeSet = { full: true, services: new Set() };
const FOREIGN = `*nat
:OTHER-NAT - [0:0]
-A PREROUTING -d 10.99.0.1 -j OTHER-NAT
-A OTHER-NAT -j RETURN
COMMIT
*filter
:OTHER-FILTER - [0:0]
-A INPUT -p tcp --dport 22 -j OTHER-FILTER
-A OTHER-FILTER -j ACCEPT
COMMIT
`;

function setup(strategy: FullSyncStrategy) {
  const ipt = new FakeIptables({ generation: 1 });
  ipt.external(FOREIGN, {});
  const config = defaultConfig();
  config.iptables.localhostNodePorts = false;
  const b = new IptablesBackend(modeOptions('iptables', { config, log: memoryLogger(), clusterCIDR: '10.0.0.0/8' }),
    { iptables: ipt, conntrack: new RecordingConntrack(), sysctl: new FakeSysctl(), fullSyncStrategy: strategy });
  return { ipt, b };
}

const svc = (ep: string) => svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: ep }] });
const sep = (ep: string) => endpointChainName('ns1/svc1:p80', 'TCP', `${ep}:80`);

for (const strategy of ['replace-tables', 'noflush'] as const) {
  test(`full syncs (${strategy}) keep other programs' rules and drop kpx's stale chains`, async () => {
    const { ipt, b } = setup(strategy);
    assert.deepEqual(await b.sync(proxyState([svc('10.180.0.1')], { localhost: false }), FULL), { ok: true });
    assert.equal(await ipt.chainExists('nat', sep('10.180.0.1')), true);
    assert.deepEqual(await b.sync(proxyState([svc('10.180.0.2')], { localhost: false }), FULL), { ok: true });
    assert.equal(ipt.last.noFlush, strategy === 'noflush');
    assert.equal(await ipt.chainExists('nat', sep('10.180.0.1')), false, 'the old endpoint chain is gone');
    assert.equal(await ipt.chainExists('nat', sep('10.180.0.2')), true);
    assert.deepEqual(b.lastSync.deletedChains, strategy === 'noflush' ? [sep('10.180.0.1')] : []);
    assert.deepEqual(ipt.rules('nat', 'OTHER-NAT'), ['-A OTHER-NAT -j RETURN']);
    assert.deepEqual(ipt.rules('filter', 'OTHER-FILTER'), ['-A OTHER-FILTER -j ACCEPT']);
    assert.ok(ipt.rules('nat', 'PREROUTING')!.includes('-A PREROUTING -d 10.99.0.1 -j OTHER-NAT'));
    const jumps = ipt.rules('nat', 'PREROUTING')!.filter((l) => l.endsWith('-j KUBE-SERVICES'));
    assert.equal(jumps.length, 1, 'one jump to KUBE-SERVICES, however many syncs');
  });
}

test('cleanup removes every chain and jump of kpx and nothing else; the leftovers check follows', async () => {
  const { ipt, b } = setup('replace-tables');
  const before = ipt.dumpText();
  await b.sync(proxyState([svc('10.180.0.1')], { localhost: false }), FULL);
  assert.equal(await b.hasLeftovers(), true);
  await b.cleanup();
  assert.equal(await b.hasLeftovers(), false);
  // Only the mangle table (created for the canary, now empty) is new.
  assert.equal(ipt.dumpText('nat') + ipt.dumpText('filter'), before);
  assert.deepEqual(ipt.dump().tables.find((t) => t.name === 'mangle')!.chains.filter((c) => c.policy === '-'), []);
  // And after cleanup a sync starts over with init.
  assert.deepEqual(await b.sync(proxyState([svc('10.180.0.1')], { localhost: false }), FULL), { ok: true });
  assert.equal(await ipt.chainExists('nat', sep('10.180.0.1')), true);
});
