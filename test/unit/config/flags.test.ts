import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../../../src/config/flags.js';

const seen = (argv: string[]) => parseFlags(argv).occurrences.map((o) => `${o.name}=${o.raw}`);

test('values are taken inline or from the next argument; booleans never take the next argument', () => {
  assert.deepEqual(seen(['--kubeconfig', '/k', '--master=https://m', '--masquerade-all', '--dry-run=false']),
    ['--kubeconfig=/k', '--master=https://m', '--masquerade-all=true', '--dry-run=false']);
});

test('a value may start with a single dash (a negative duration) but not with two', () => {
  assert.deepEqual(seen(['--iptables-min-sync-period', '-1s']), ['--iptables-min-sync-period=-1s']);
  assert.deepEqual(parseFlags(['--master', '--kubeconfig=/k']).problems, ['flag needs an argument: --master']);
});

test('an inline empty value is a value', () => {
  assert.deepEqual(seen(['--healthz-bind-address=']), ['--healthz-bind-address=']);
});

test('shorthands: -v N, -v=N, -vN and -h', () => {
  assert.deepEqual(seen(['-v', '1', '-v=2', '-v3']), ['-v=1', '-v=2', '-v=3']);
  assert.equal(parseFlags(['-h']).help, true);
  assert.deepEqual(parseFlags(['-hx']).problems, ['unknown shorthand flag: "x" in -hx']);
});

test('"--" ends the flags, and what follows is reported as stray arguments', () => {
  const p = parseFlags(['--', '--proxy-mode=ipvs']);
  assert.deepEqual(p.occurrences, []);
  assert.deepEqual(p.problems, ['unexpected argument "--proxy-mode=ipvs": kpx takes no arguments']);
});

test('compatibility flags are recognised separately from kpx settings', () => {
  const p = parseFlags(['--oom-score-adj', '-999', '--profiling']);
  assert.deepEqual(p.compat.map((c) => `${c.name}=${c.raw}`), ['--oom-score-adj=-999', '--profiling=true']);
  assert.deepEqual(p.problems, []);
});
