import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DurationError,
  formatDuration,
  formatDurationNs,
  parseDuration,
  parseDurationNs,
} from '../../../src/config/duration.js';

test('Go duration strings parse to milliseconds', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['2h45m', 9_900_000],
    ['2h22m', 8_520_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['1.s', 1_000],
    ['1h0m0s', 3_600_000],
    ['24h0m0s', 86_400_000],
    ['15m0s', 900_000],
    ['250ms', 250],
    ['100us', 0.1],
    ['100\u00b5s', 0.1],
    ['100\u03bcs', 0.1],
    ['1500000ns', 1.5],
    ['-1m', -60_000],
    ['1h1m1s1ms', 3_661_001],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('text that is not a Go duration is rejected with a reason', () => {
  for (const bad of ['', 'abc', '30', '1x', 's', '.s', '1.2.3s', '1 s', '30sec', '--1s', '9223372036855ms']) {
    assert.throws(() => parseDurationNs(bad), DurationError, bad);
  }
  assert.throws(() => parseDuration('30'), /missing unit/);
  assert.throws(() => parseDuration('5d'), /unknown unit "d"/);
});

test("durations format exactly as Go's Duration.String()", () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [500, '500ms'],
    [1_500, '1.5s'],
    [60_000, '1m0s'],
    [3_600_000, '1h0m0s'],
    [9_900_000, '2h45m0s'],
    [86_400_000, '24h0m0s'],
    [250, '250ms'],
    [1.5, '1.5ms'],
    [0.1, '100\u00b5s'],
    [-60_000, '-1m0s'],
    [3_661_001, '1h1m1.001s'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  assert.equal(formatDurationNs(1n), '1ns');
  assert.equal(formatDurationNs((1n << 63n) - 1n), '2562047h47m16.854775807s');
});

test('format then parse is the identity for millisecond values', () => {
  for (const ms of [0, 1, 999, 1000, 1001, 59_999, 60_000, 61_500, 3_599_999, 3_600_000, 90_061_001, 123_456_789]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, String(ms));
  }
});
