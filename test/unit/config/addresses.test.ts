import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendPortIfNeeded, cidrFamily, ipFamily, splitHostPort } from '../../../src/config/addresses.js';

test('configuration IPs are read strictly: no leading zeros, spaces or zones; IPv4-mapped is IPv6', () => {
  assert.equal(ipFamily('10.0.0.1'), 4);
  assert.equal(ipFamily('fd00::1'), 6);
  assert.equal(ipFamily('::ffff:10.0.0.1'), 6);
  assert.equal(ipFamily('010.0.0.1'), undefined);
  assert.equal(ipFamily(' 10.0.0.1'), undefined);
  assert.equal(ipFamily('fe80::1%eth0'), undefined);
  assert.equal(ipFamily('[::1]'), undefined);
});

test('configuration CIDRs are read strictly, an IPv4-mapped network included as IPv6', () => {
  assert.equal(cidrFamily('10.0.0.0/8'), 4);
  assert.equal(cidrFamily('fd00::/64'), 6);
  assert.equal(cidrFamily('::ffff:10.0.0.0/104'), 6);
  assert.equal(cidrFamily('010.0.0.0/8'), undefined);
  assert.equal(cidrFamily('10.0.0.0/33'), undefined);
  assert.equal(cidrFamily('10.0.0.0'), undefined);
});

test('a bare bind IP gets the default port, bracketed when IPv6', () => {
  assert.equal(appendPortIfNeeded('0.0.0.0', 10256), '0.0.0.0:10256');
  assert.equal(appendPortIfNeeded('::', 10256), '[::]:10256');
  assert.equal(appendPortIfNeeded('[::1]', 10256), '[::1]:10256');
  assert.equal(appendPortIfNeeded('0.0.0.0:9', 10256), '0.0.0.0:9');
  assert.equal(appendPortIfNeeded('010.0.0.1', 10256), '010.0.0.1', 'not an IP: left for the check to reject');
  assert.deepEqual(splitHostPort('[fd00::1]:80'), { host: 'fd00::1', port: 80 });
  assert.throws(() => splitHostPort('fd00::1:80'), /IPv6 as \[IP\]:port/);
});
