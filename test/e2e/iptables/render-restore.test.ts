/**
 * Every ruleset the iptables mode renders from generated (often malformed) cluster state is accepted by
 * `iptables-restore --test` / `ip6tables-restore --test`, run inside a network namespace this test
 * creates (kpx-<random>-fc, deleted afterwards; nothing touches the host's namespace). Many states are
 * batched into one restore call: each state's tables are their own *table ... COMMIT blocks, which
 * --test checks one after the other, so a failing line maps back to its state.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { renderRestoreInput } from '../../../modes/iptables/render.js';
import type { IPFamily } from '../../../src/model/types.js';
import { exec } from '../../../src/net/exec.js';
import { addNamespace, deleteNamespace } from '../../../src/sandbox/netns.js';
import { CommandError } from '../../../src/util/errors.js';
import { cluster } from '../../support/model-generators.js';
import { build } from '../../support/model-state.js';
import { clusterCIDRMatch } from '../../support/mode-options.js';

const STATES_PER_FAMILY = { IPv4: 240, IPv6: 80 } as const;
const BATCH = 40;

const ns = `kpx-${randomBytes(4).toString('hex').slice(0, 6)}-fc`;
const isRoot = process.getuid?.() === 0;

describe('rendered iptables rulesets pass iptables-restore --test', { skip: isRoot ? undefined : 'needs root for a network namespace' }, () => {
  before(async () => { await addNamespace(ns); });
  after(async () => { await deleteNamespace(ns); });

  it('rejects a broken ruleset (the check is real)', async () => {
    const broken = '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 999.1.1.1/32 -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n';
    await assert.rejects(exec('iptables-restore', ['--test'], { netns: ns, input: broken }), CommandError);
  });

  for (const family of ['IPv4', 'IPv6'] as IPFamily[]) {
    it(`accepts ${STATES_PER_FAMILY[family]} rendered ${family} rulesets from generated clusters`, async () => {
      const samples = fc.sample(fc.tuple(cluster, fc.boolean()), { numRuns: STATES_PER_FAMILY[family], seed: family === 'IPv4' ? 11 : 12 });
      const inputs: { input: string; services: number }[] = [];
      for (const [cl, masqueradeAll] of samples) {
        const state = build(cl.services.map((s) => s.svc), cl.slices, cl.node, family);
        const input = renderRestoreInput(state, {
          family, masqueradeAll, masqueradeBit: 14, randomFully: true,
          localTraffic: clusterCIDRMatch(family === 'IPv4' ? '10.244.0.0/16' : 'fd00:10:244::/56'),
        });
        inputs.push({ input, services: state.services.size });
      }
      const withServices = inputs.filter((i) => i.services > 0).length;
      assert.ok(withServices >= inputs.length / 3, `enough rendered states have services (${withServices}/${inputs.length})`);
      const tool = family === 'IPv4' ? 'iptables-restore' : 'ip6tables-restore';
      let lines = 0;
      for (let b = 0; b < inputs.length; b += BATCH) {
        const batch = inputs.slice(b, b + BATCH);
        const text = batch.map((i) => i.input).join('');
        lines += text.split('\n').length;
        try {
          await exec(tool, ['--test'], { netns: ns, input: text, timeoutMs: 120_000 });
        } catch (e) {
          if (!(e instanceof CommandError)) throw e;
          // Find the state the failing line belongs to, for a readable failure.
          const m = /line:? (\d+)/.exec(e.stderr);
          let at = m ? Number(m[1]) : 0;
          let which = -1;
          for (let i = 0; i < batch.length && at > 0; i++) {
            const n = batch[i]!.input.split('\n').length - 1;
            if (at <= n) { which = i; break; }
            at -= n;
          }
          const bad = which >= 0 ? batch[which]!.input.split('\n') : [];
          assert.fail(`${tool} --test rejected state ${b + which}: ${e.stderr.trim()}\n${bad.slice(Math.max(0, at - 4), at + 2).join('\n')}`);
        }
      }
      process.stdout.write(`# ${tool} --test accepted ${inputs.length} rendered ${family} states (${withServices} with services, ${lines} lines)\n`);
    });
  }
});
