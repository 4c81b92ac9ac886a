import { test } from 'node:test';
import assert from 'node:assert/strict';
import { option, rejectUnknown } from '../../../perf/common/args.js';

const KNOWN = { options: ['reps', 'modes'], flags: ['no-vm', 'no-results'] };

test('a benchmark accepts its own options and flags in any order', () => {
  assert.doesNotThrow(() => rejectUnknown(['--no-vm', '--reps', '9', '--modes', 'userspace', '--no-results'], KNOWN));
  assert.doesNotThrow(() => rejectUnknown([], KNOWN));
});

test('a misspelt option is an error naming it and the options there are, not a run with the defaults', () => {
  assert.throws(() => rejectUnknown(['--rep', '9'], KNOWN), /unknown option --rep \(options: --reps, --modes, --no-vm, --no-results\)/);
  assert.throws(() => rejectUnknown(['--no-kernel'], KNOWN), /unknown option --no-kernel/);
});

test('a stray value is an error, and so is a value given to a flag', () => {
  assert.throws(() => rejectUnknown(['userspace'], KNOWN), /unexpected argument "userspace"/);
  assert.throws(() => rejectUnknown(['--no-vm', 'yes'], KNOWN), /unexpected argument "yes"/);
});

test('an option without its value is left to option(), which says so', () => {
  assert.doesNotThrow(() => rejectUnknown(['--reps'], KNOWN));
  assert.throws(() => option(['--reps'], 'reps'), /--reps needs a value/);
});
