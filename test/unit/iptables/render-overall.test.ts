/**
 * Golden test of the full restore input for kube-proxy's TestOverallIPTablesRules services: the same
 * six services must give exactly kube-proxy's rules, chain names (hashes) and comments.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointChainName, portProtoHash } from '../../../modes/iptables/chain-names.js';
import { renderRestoreInput, renderRules } from '../../../modes/iptables/render.js';
import { computeProbability } from '../../../modes/iptables/service-rules.js';
import { assertIptablesRulesEqual } from '../../support/iptables-assert.js';
import { EXPECTED_OVERALL, FAKE_PROXIER_OPTS, overallServices, proxyState } from './render-fixtures.js';


test('the six kube-proxy services render exactly kube-proxy\'s restore input (TestOverallIPTablesRules)', () => {
  const input = renderRestoreInput(proxyState(overallServices()), { ...FAKE_PROXIER_OPTS, nfacct: true });
  assertIptablesRulesEqual(EXPECTED_OVERALL, input, { checkConsistency: true });
});

test('chain names use kube-proxy\'s hashes of service port name, protocol and endpoint', () => {
  assert.equal(portProtoHash('ns1/svc1:p80', 'TCP'), 'XPGD46QRK7WJZT7O');
  assert.equal(endpointChainName('ns4/svc4:p80', 'TCP', '10.180.0.5:80'), 'KUBE-SEP-C6EBXVWJJZMIWKLZ');
});

test('probabilities are 1/n with ten decimals, like computeProbability', () => {
  assert.equal(computeProbability(2), '0.5000000000');
  assert.equal(computeProbability(3), '0.3333333333');
  assert.equal(computeProbability(7), '0.1428571429');
});

test('the nat rule count covers every rule written, for the iptables_total metric', () => {
  const r = renderRules(proxyState(overallServices()), { ...FAKE_PROXIER_OPTS, nfacct: true });
  const natRules = EXPECTED_OVERALL.split('*nat')[1].split('\n').filter((l) => l.startsWith('-A')).length;
  const filterRules = EXPECTED_OVERALL.split('*nat')[0].split('\n').filter((l) => l.startsWith('-A')).length;
  assert.equal(r.totalRules.nat, natRules);
  assert.equal(r.totalRules.filter, filterRules);
});

test('MASQUERADE gets --random-fully when the iptables binary supports it', () => {
  const input = renderRestoreInput(proxyState(overallServices()), { ...FAKE_PROXIER_OPTS, randomFully: true });
  assert.match(input, /-j MASQUERADE --random-fully\n/);
});
