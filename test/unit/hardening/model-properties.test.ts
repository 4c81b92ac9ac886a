/**
 * Property-based hardening of the model: well over 10,000 generated Services, EndpointSlices and Nodes,
 * many malformed (bad IPs and CIDRs, ports out of range, duplicate ports, unknown protocols, missing
 * fields, huge and non-ASCII names). buildProxyState never throws, every object with a definite defect
 * is reported with a warning, and everything that reaches the ProxyState (what the modes write into
 * rulesets) is a validated value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ApiService } from '../../../src/model/api.js';
import type { IPFamily } from '../../../src/model/types.js';
import { cluster, service } from '../../support/model-generators.js';
import { build, stateProblems } from '../../support/model-state.js';

describe('model hardening (fast-check)', () => {
  it('builds a valid ProxyState from >= 10,000 generated objects, many malformed, without throwing', () => {
    let objects = 0;
    let states = 0;
    let warnings = 0;
    fc.assert(fc.property(cluster, fc.constantFrom<IPFamily>('IPv4', 'IPv6'), (cl, family) => {
      objects += cl.services.length + cl.slices.length + (cl.node ? 1 : 0);
      const w: string[] = [];
      const state = build(cl.services.map((s) => s.svc), cl.slices, cl.node, family, w);
      states++;
      warnings += w.length;
      assert.equal(state.family, family);
      assert.deepEqual(stateProblems(state), []);
    }), { numRuns: 1200, seed: 20261121 });
    assert.ok(objects >= 10_000, `generated ${objects} objects`);
    assert.ok(warnings > 0, 'malformed objects were reported');
    process.stdout.write(`# model properties: ${objects} generated objects in ${states} states, ${warnings} warnings\n`);
  });

  it('reports every service with a definite defect with a warning, and keeps the other services', () => {
    let defects = 0;
    const good: ApiService = {
      metadata: { name: 'good', namespace: 'default' },
      spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
    };
    fc.assert(fc.property(service.filter((g) => g.defect !== undefined), (g) => {
      defects++;
      const family: IPFamily = g.svc.spec?.ipFamilies?.[0] === 'IPv6' ? 'IPv6' : 'IPv4';
      const w: string[] = [];
      const withGood = build([g.svc, good], [], undefined, family, w);
      assert.ok(w.length >= 1, `no warning for a service with "${g.defect}": ${JSON.stringify(g.svc).slice(0, 400)}`);
      assert.deepEqual(stateProblems(withGood), []);
      if (family === 'IPv4') assert.ok(withGood.services.has('default/good:http'), `the good service is kept beside one with "${g.defect}"`);
    }), { numRuns: 1500, seed: 7 });
    assert.ok(defects >= 1500);
  });
});
