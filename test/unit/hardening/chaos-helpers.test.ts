/**
 * The chaos suite's pure helpers: how it compares rulesets (kpx's part only, counters stripped) and how
 * it turns load counts into a fault-table row (the control target never counts as a service failure).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertKeptTraffic, CONTROL_TARGET, kubeRulesOf, rowFrom } from '../../support/chaos-cluster.js';
import type { LoadSnapshot } from '../../support/chaos-load.js';

describe('chaos helpers', () => {
  it('kubeRulesOf keeps only kpx chains and the jumps to them, without counters, sorted', () => {
    const save = [
      '*nat',
      ':PREROUTING ACCEPT [12:720]',
      ':KUBE-SERVICES - [0:0]',
      ':DOCKER - [3:4]',
      '[5:300] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A PREROUTING -j DOCKER',
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -c 7 420 -j KUBE-SVC-X',
      'COMMIT',
    ].join('\n');
    assert.deepEqual(kubeRulesOf(save), [
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -j KUBE-SVC-X',
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      ':KUBE-SERVICES',
    ]);
    // The same rules with other counters and order compare equal.
    const again = save.replace('[12:720]', '[0:0]').replace('[5:300] ', '').replace('-c 7 420 ', '-c 0 0 ');
    assert.deepEqual(kubeRulesOf(again), kubeRulesOf(save));
  });

  it('rowFrom sums the services and reports the control target apart', () => {
    const snap: LoadSnapshot = {
      perTarget: {
        'svc-a': { sent: 10, ok: 9, failed: 1, stalled: 0, errors: { 'connect-timeout': 1 } },
        'svc-b': { sent: 10, ok: 10, failed: 0, stalled: 0, errors: {} },
        [CONTROL_TARGET]: { sent: 7, ok: 5, failed: 2, stalled: 0, errors: { 'response-timeout': 2 } },
      },
      inFlight: 0, failures: [], worstStall: 0, at: 0,
    };
    const row = rowFrom('fault', snap, 'note');
    assert.equal(row.sent, 20);
    assert.equal(row.failed, 1);
    assert.equal(row.pathFailed, 1);
    assert.equal(row.machineOverloaded, true);
    assert.match(row.note, /^note; errors connect-timeout:1; control \(pod IP, no kpx rule\) failed 2\/7 \(response-timeout:2\)$/);
  });

  it('a SYN never answered always fails the scenario; a slow answer only when the machine was not overloaded', () => {
    const snap = (svc: Record<string, number>, control: Record<string, number>, stalled = 0): LoadSnapshot => ({
      perTarget: {
        'svc-a': { sent: 100, ok: 100 - Object.values(svc).reduce((a, b) => a + b, 0), failed: Object.values(svc).reduce((a, b) => a + b, 0), stalled, errors: svc },
        [CONTROL_TARGET]: { sent: 30, ok: 30 - Object.values(control).reduce((a, b) => a + b, 0), failed: Object.values(control).reduce((a, b) => a + b, 0), stalled: 0, errors: control },
      },
      inFlight: 0, failures: [], worstStall: stalled ? 900 : 0, at: 0,
    });
    assert.doesNotThrow(() => assertKeptTraffic(rowFrom('ok', snap({}, {})), ''));
    assert.throws(() => assertKeptTraffic(rowFrom('dnat gone', snap({ 'connect-timeout': 1 }, { 'response-timeout': 3 })), ''));
    assert.throws(() => assertKeptTraffic(rowFrom('refused', snap({ refused: 2 }, {})), ''));
    assert.throws(() => assertKeptTraffic(rowFrom('slow, machine fine', snap({ 'response-timeout': 1 }, {})), ''));
    assert.doesNotThrow(() => assertKeptTraffic(rowFrom('slow, control slow too', snap({ 'response-timeout': 1 }, { 'response-timeout': 1 })), ''));
    assert.doesNotThrow(() => assertKeptTraffic(rowFrom('slow, client stalled', snap({ 'response-timeout': 1 }, {}, 2)), ''));
  });
});
