/**
 * Renderer options and edge cases: comment dropping above 1000 endpoints, IPv6, explicit node-port
 * addresses, masqueradeAll, no local-traffic detector, LB source ranges that include the node, partial
 * scope, and the speed needed at 5,000 services.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RenderCache, renderRestoreInput, renderRules } from '../../../modes/iptables/render.js';
import { toRestoreInput } from '../../../modes/iptables/restore-input.js';
import { checkIptablesRuleJumps } from '../../support/iptables-assert.js';
import { FAKE_PROXIER_OPTS, overallServices, proxyState, svcPort } from './render-fixtures.js';
import { clusterCIDRMatch, modeOptions } from '../../support/mode-options.js';

test('above 1000 endpoints the per-endpoint comments are dropped, as kube-proxy does', () => {
  const ports = Array.from({ length: 501 }, (_, i) => svcPort({ ns: 'ns', name: `s${i}`, clusterIP: `172.30.${i >> 8}.${i & 255}`,
    endpoints: [{ ip: `10.1.${i >> 8}.${i & 255}` }, { ip: `10.2.${i >> 8}.${i & 255}` }] }));
  const r = renderRules(proxyState(ports), FAKE_PROXIER_OPTS);
  assert.equal(r.largeClusterMode, true);
  const sepRules = r.serviceRules.filter((l) => l.startsWith('-A KUBE-SEP-'));
  assert.ok(sepRules.length === 2004 && sepRules.every((l) => !l.includes('--comment')));
  assert.ok(r.serviceRules.filter((l) => / -j KUBE-SEP-/.test(l)).every((l) => !l.includes('--comment')));
  // Dispatch rules keep theirs.
  assert.match(r.natDispatch.get('KUBE-SERVICES')![0], /--comment "ns\/s0:p80 cluster IP"/);
  const small = renderRules(proxyState(ports.slice(0, 500)), FAKE_PROXIER_OPTS);
  assert.equal(small.largeClusterMode, false);
});

test('IPv6: no localhost NodePorts, ::1 excluded from the NodePort catch-all, no KUBE-FIREWALL', () => {
  const sp = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: 'fd00:172:30::41', nodePort: 3001, family: 'IPv6',
    endpoints: [{ ip: 'fd00:10::1' }] });
  const input = renderRestoreInput(proxyState([sp], { family: 'IPv6', nodeIPs: ['2001:db8::1'] }),
    { ...FAKE_PROXIER_OPTS, family: 'IPv6', localTraffic: clusterCIDRMatch('fd00:10::/64') });
  assert.match(input, /-m addrtype --dst-type LOCAL ! -d ::1\/128 -j KUBE-NODEPORTS/);
  assert.match(input, /--to-destination \[fd00:10::1\]:80/);
  assert.match(input, /-s fd00:10::1 -j KUBE-MARK-MASQ/);
  assert.doesNotMatch(input, /KUBE-FIREWALL/);
  assert.deepEqual(checkIptablesRuleJumps(input), []);
});

test('IPv4 without localhost NodePorts excludes 127.0.0.0/8 and drops KUBE-FIREWALL', () => {
  const input = renderRestoreInput(proxyState(overallServices(), { localhost: false }), FAKE_PROXIER_OPTS);
  assert.match(input, /-m addrtype --dst-type LOCAL ! -d 127.0.0.0\/8 -j KUBE-NODEPORTS/);
  assert.doesNotMatch(input, /KUBE-FIREWALL/);
});

test('explicit nodePortAddresses give one KUBE-NODEPORTS jump per address', () => {
  const st = proxyState(overallServices(), { all: false, npIPs: ['192.168.0.2', '127.0.0.1'], localhost: false });
  const input = renderRestoreInput(st, FAKE_PROXIER_OPTS);
  assert.match(input, /NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS/);
  assert.doesNotMatch(input, /-d 127.0.0.1 -j KUBE-NODEPORTS/, 'localhost is skipped when localhost NodePorts are off');
  const withLocal = renderRestoreInput(proxyState(overallServices(), { all: false, npIPs: ['127.0.0.1'], localhost: true }), FAKE_PROXIER_OPTS);
  assert.match(withLocal, /-d 127.0.0.1 -j KUBE-NODEPORTS/);
});

test('masqueradeAll masquerades every ClusterIP packet; without a local detector nothing is', () => {
  const sp = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', endpoints: [{ ip: '10.180.0.1' }] });
  const all = renderRestoreInput(proxyState([sp]), { ...FAKE_PROXIER_OPTS, masqueradeAll: true });
  assert.match(all, /-d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ/);
  const none = renderRestoreInput(proxyState([sp]), { ...FAKE_PROXIER_OPTS, localTraffic: clusterCIDRMatch('') });
  assert.doesNotMatch(none, /-A KUBE-SVC-\S+ .*cluster IP.*KUBE-MARK-MASQ/);
  // eTP=Local without a detector: no pod short-circuit rule.
  const local = svcPort({ ns: 'ns2', name: 'svc2', clusterIP: '172.30.0.42', nodePort: 3001, eTPLocal: true, endpoints: [{ ip: '10.180.0.2', local: true }] });
  const noDetector = renderRestoreInput(proxyState([local]), { ...FAKE_PROXIER_OPTS, localTraffic: clusterCIDRMatch('') });
  assert.doesNotMatch(noDetector, /pod traffic for/);
  assert.match(noDetector, /-A KUBE-EXT-\S+ -j KUBE-SVL-/);
});

test('a source range containing the node IP also allows the LB IP as source', () => {
  const sp = svcPort({ ns: 'ns5', name: 'svc5', clusterIP: '172.30.0.45', lbIPs: ['5.6.7.8'], sourceRanges: ['192.168.0.0/24', '203.0.113.0/25'],
    endpoints: [{ ip: '10.180.0.3' }] });
  const input = renderRestoreInput(proxyState([sp]), FAKE_PROXIER_OPTS);
  assert.match(input, /loadbalancer IP" -s 192.168.0.0\/24 -j KUBE-EXT-/);
  assert.match(input, /loadbalancer IP" -s 5.6.7.8 -j KUBE-EXT-/);
});

test('internalTrafficPolicy=Local without a local endpoint drops ClusterIP traffic in filter', () => {
  const sp = svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', iTPLocal: true, endpoints: [{ ip: '10.180.0.1' }] });
  const r = renderRules(proxyState([sp]), FAKE_PROXIER_OPTS);
  assert.ok(r.filterRules.includes('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP'));
  assert.deepEqual(r.serviceChains, []);
  assert.equal(r.noLocalEndpoints.internal, 1);
});

test('a partial scope writes only the named services\' chains but counts every rule', () => {
  const st = proxyState(overallServices());
  const full = renderRules(st, FAKE_PROXIER_OPTS);
  const part = renderRules(st, FAKE_PROXIER_OPTS, { services: new Set(['ns4/svc4']) });
  assert.equal(part.totalRules.nat, full.totalRules.nat);
  assert.deepEqual(part.activeNatChains, full.activeNatChains);
  assert.ok(part.serviceChains.length > 0 && part.serviceChains.every((c) => full.serviceChains.includes(c)));
  assert.ok(part.serviceRules.every((l) => l.includes('ns4/svc4') || /KUBE-(SVC|EXT|SEP)-/.test(l)));
  assert.equal(toRestoreInput(part, { filter: false, natDispatch: [] }).includes('ns1/svc1'), false);
});

test('5,000 services × 2 endpoints render every rule, and a cached render gives the same rules', () => {
  const ports = Array.from({ length: 5000 }, (_, i) => svcPort({ ns: `ns${i % 50}`, name: `svc${i}`, portName: 'http',
    clusterIP: `172.30.${i >> 8}.${i & 255}`, endpoints: [{ ip: `10.1.${i >> 8}.${i & 255}` }, { ip: `10.2.${i >> 8}.${i & 255}` }] }));
  const st = proxyState(ports);
  const cache = new RenderCache();
  const r = renderRules(st, FAKE_PROXIER_OPTS, {}, cache);
  const again = renderRules(st, FAKE_PROXIER_OPTS, {}, cache);
  // Per service: 1 in KUBE-SERVICES, 3 in KUBE-SVC (masquerade + 2 endpoints), 2 per KUBE-SEP; plus 5 fixed.
  assert.equal(r.totalRules.nat, 5000 * (1 + 3 + 2 * 2) + 5);
  assert.deepEqual(toRestoreInput(again, { filter: true, natDispatch: [] }), toRestoreInput(r, { filter: true, natDispatch: [] }));
  // Render times, cold and cached, are measured by perf/sync/scaling.ts.
});

test('the mode\'s describe() is the full restore input kpx would write', async () => {
  const { mode } = await import('../../../modes/iptables/index.js');
  const { log } = await import('../../../src/util/log.js');
  const text = mode.describe(proxyState(overallServices()), modeOptions('iptables', { log, clusterCIDR: '10.0.0.0/8' }));
  assert.match(text, /^\*filter\n/);
  assert.match(text, /-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1\/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ/);
  assert.deepEqual(checkIptablesRuleJumps(text), []);
});
