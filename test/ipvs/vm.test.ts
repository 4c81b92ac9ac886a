// Boots one IPVS VM (Debian's kernel under QEMU, see test/support/vm) and runs every scenario in
// test/ipvs/scenarios inside it; each scenario becomes a subtest here, named as inside, with its output on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { runInVm } from '../support/vm/run-vm.js';

const scenarios = readdirSync(new URL('./scenarios/', import.meta.url)).filter((f) => f.endsWith('.scenario.ts')).sort();

test('IPVS scenarios in a real IPVS kernel', { timeout: 1_000_000 }, async (t) => {
  const files = scenarios.map((f) => `test/ipvs/scenarios/${f}`).join(' ');
  const r = await runInVm(`node --import tsx --test --test-concurrency=1 --test-reporter=tap ${files}`, { timeoutMs: 900_000, memoryMb: 1536 });
  assert.notEqual(r.exitCode, null, `the VM never reported a result:\n${r.output.slice(-3000)}`);
  // TAP: "ok N - name" / "not ok N - name" at the top level of each file's subtests.
  const results = [...r.output.matchAll(/^(?:\s{4})?(not ok|ok) \d+ - (.+)$/gm)].filter((m) => !m[2].endsWith('.scenario.ts'));
  assert.ok(results.length > 0, `no scenario results in the VM output:\n${r.output.slice(-3000)}`);
  for (const [, status, name] of results) {
    await t.test(name, () => {
      assert.equal(status, 'ok', `failed inside the VM:\n${r.output.slice(-4000)}`);
    });
  }
  assert.equal(r.exitCode, 0, `the scenarios exited ${r.exitCode}:\n${r.output.slice(-3000)}`);
});
