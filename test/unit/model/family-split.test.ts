import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitCIDRsByFamily, splitIPsByFamily } from '../../../src/model/family-split.js';

test('address lists are split by family, normalised, de-duplicated, and bad entries reported', () => {
  const ips = splitIPsByFamily(['10.0.0.1', 'fd00::1', '010.0.0.1', 'bogus', 'FD00::0001', '192.168.0.1']);
  assert.deepEqual(ips.IPv4, ['10.0.0.1', '192.168.0.1']);
  assert.deepEqual(ips.IPv6, ['fd00::1']);
  assert.deepEqual(ips.invalid, ['bogus']);
  const cidrs = splitCIDRsByFamily(['10.0.0.0/8', '2001:db8::/32', '10.1.0.0/8', 'x/1']);
  assert.deepEqual(cidrs.IPv4, ['10.0.0.0/8']);
  assert.deepEqual(cidrs.IPv6, ['2001:db8::/32']);
  assert.deepEqual(cidrs.invalid, ['x/1']);
  assert.deepEqual(splitIPsByFamily(undefined), { IPv4: [], IPv6: [], invalid: [] });
});
