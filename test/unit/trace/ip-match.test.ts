import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressInSpec, isLoopback, parsePacketIP, sameIP } from '../../../src/trace/ip-match.js';

test('a packet address is read as the kernel sees it: an IPv4-mapped address matches no IPv4 rule', () => {
  assert.ok(!addressInSpec('::ffff:10.0.0.1', '10.0.0.0/8'));
  assert.ok(addressInSpec('::ffff:10.0.0.1', '::ffff:0:0/96'));
  assert.ok(!sameIP('::ffff:10.0.0.1', '10.0.0.1'));
  assert.ok(!isLoopback('::ffff:127.0.0.1'));
  assert.ok(isLoopback('127.3.2.1'));
  assert.ok(isLoopback('::1'));
});

test('a packet address may be bracketed or carry a zone; leading zeros are not an address', () => {
  assert.ok(sameIP('[fd00::1]', 'fd00:0::1'));
  assert.ok(sameIP('fe80::1%eth0', 'fe80::1'));
  assert.ok(addressInSpec('[fe80::1%eth0]', 'fe80::/10'));
  assert.equal(parsePacketIP('010.0.0.1'), null);
  assert.equal(parsePacketIP('10.0.0.1%eth0'), null);
  assert.ok(!addressInSpec('010.0.0.1', '10.0.0.0/8'));
});

test('an address spec is an address, a prefix length or a dotted mask', () => {
  assert.ok(addressInSpec('10.0.0.1', '10.0.0.1'));
  assert.ok(!addressInSpec('10.0.0.2', '10.0.0.1'));
  assert.ok(addressInSpec('10.1.2.3', '10.1.0.0/255.255.0.0'));
  assert.ok(addressInSpec('10.1.2.3', '10.9.2.0/255.0.255.0'));
  assert.ok(addressInSpec('192.168.1.1', '0.0.0.0/0'));
  assert.ok(!addressInSpec('10.0.0.1', '10.0.0.0/33'));
  assert.ok(!addressInSpec('10.0.0.1', '::/0'));
  assert.ok(!addressInSpec('fd00::1', '0.0.0.0/0'));
  assert.ok(!addressInSpec('10.1.2.3', '10.1.0.0/ffff::'));
});
