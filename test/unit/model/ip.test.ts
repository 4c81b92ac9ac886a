import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cidrContains, ipFamilyOf, isLoopbackIP, joinHostPort, normalizeCIDR, normalizeIP, parseCIDR, parseIP, splitCIDRsByFamily,
  splitIPsByFamily,
} from '../../../src/model/index.js';

test('IPs are normalised like Go\'s ParseIPSloppy: leading zeros read as decimal', () => {
  const cases: [string, string | null][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['010.0.0.1', '10.0.0.1'],
    ['172.30.0.041', '172.30.0.41'],
    ['0010.000.0.001', '10.0.0.1'],
    [' 10.0.0.1 ', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd00:0:0:1:0:0:0:0', 'fd00:0:0:1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run is compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['::ffff:10.0.0.1', '10.0.0.1'], // IPv4-mapped is IPv4, as in Go
    ['::ffff:010.0.0.1', '10.0.0.1'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ['256.0.0.1', null],
    ['10.0.0', null],
    ['10.0.0.1.2', null],
    ['10..0.1', null],
    ['10.0.0.-1', null],
    ['1e1.0.0.1', null],
    ['fe80::1%eth0', null],
    ['2001:db8::1::2', null],
    ['2001:db8:1:2:3:4:5:6:7', null],
    ['12345::', null],
    ['1.2.3.4::', null],
    ['', null],
    ['None', null],
  ];
  for (const [input, want] of cases) assert.equal(normalizeIP(input), want, input);
});

test('IP families are detected, and loopback addresses recognised', () => {
  assert.equal(ipFamilyOf('10.1.2.3'), 'IPv4');
  assert.equal(ipFamilyOf('fd00::1'), 'IPv6');
  assert.equal(ipFamilyOf('nope'), null);
  assert.ok(isLoopbackIP('127.0.0.1'));
  assert.ok(isLoopbackIP('127.255.0.9'));
  assert.ok(isLoopbackIP('::1'));
  assert.ok(!isLoopbackIP('10.0.0.1'));
  assert.ok(!isLoopbackIP('::2'));
});

test('CIDRs are normalised to their network, leading zeros included', () => {
  const cases: [string, string | null][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['172.30.0.041/32', '172.30.0.41/32'],
    ['010.000.0.0/16', '10.0.0.0/16'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['203.0.113.77/25', '203.0.113.0/25'],
    ['2001:DB8::1/64', '2001:db8::/64'],
    ['fd00::ff/120', 'fd00::/120'],
    ['::/0', '::/0'],
    ['10.0.0.0/33', null],
    ['fd00::/129', null],
    ['10.0.0.0', null],
    ['10.0.0.0/', null],
    ['10.0.0.0/x', null],
    ['/8', null],
    ['::ffff:10.0.0.0/104', null],
  ];
  for (const [input, want] of cases) assert.equal(normalizeCIDR(input), want, input);
});

test('CIDR containment is exact at the prefix boundary and false across families', () => {
  assert.ok(cidrContains('10.0.0.0/8', '10.255.255.255'));
  assert.ok(!cidrContains('10.0.0.0/8', '11.0.0.0'));
  assert.ok(cidrContains('192.168.1.128/25', '192.168.1.200'));
  assert.ok(!cidrContains('192.168.1.128/25', '192.168.1.127'));
  assert.ok(cidrContains('0.0.0.0/0', '127.0.0.1'));
  assert.ok(cidrContains('2001:db8::/32', '2001:db8:ffff::1'));
  assert.ok(!cidrContains('2001:db8::/32', '2001:db9::1'));
  assert.ok(!cidrContains('0.0.0.0/0', '::1'));
  assert.ok(!cidrContains('::/0', '10.0.0.1'));
  assert.ok(cidrContains('172.30.0.041/32', '172.30.0.41'));
});

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

test('endpoint keys bracket IPv6 addresses like net.JoinHostPort', () => {
  assert.equal(joinHostPort('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(joinHostPort('fd00::1', 443), '[fd00::1]:443');
});

// Property tests against independent oracles: WHATWG URL's IPv6 serializer (RFC 5952 compression) and plain
// decimal formatting for IPv4.

const word = fc.integer({ min: 0, max: 0xffff });
const ipv6Words = fc.array(fc.oneof(word, fc.constant(0)), { minLength: 8, maxLength: 8 })
  .filter((w) => !(w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff)); // IPv4-mapped prints as IPv4 (Go)

test('IPv6 text is RFC 5952 canonical for any address, however it was written', () => {
  fc.assert(fc.property(ipv6Words, fc.boolean(), (words, upper) => {
    const expanded = words.map((w) => w.toString(16).padStart(4, '0')).join(':');
    const input = upper ? expanded.toUpperCase() : expanded;
    const oracle = new URL(`http://[${expanded}]/`).hostname.slice(1, -1);
    assert.equal(normalizeIP(input), oracle);
    assert.equal(normalizeIP(oracle), oracle); // idempotent
  }), { numRuns: 500 });
});

test('IPv4 with any zero padding normalises to plain dotted decimal', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  fc.assert(fc.property(fc.array(octet, { minLength: 4, maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }), (o, pad) => {
    const input = o.map((x, i) => '0'.repeat(pad[i]) + String(x)).join('.');
    assert.equal(normalizeIP(input), o.join('.'));
  }), { numRuns: 500 });
});

test('a CIDR built from an address always contains it, and its network is the address masked', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), (o, prefix) => {
    const ip = o.join('.');
    const c = parseCIDR(`${ip}/${prefix}`)!;
    assert.ok(cidrContains(c, ip));
    const n = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const net = (n & mask) >>> 0;
    assert.equal(c.text, `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`);
    assert.equal(parseIP(ip)!.family, 'IPv4');
  }), { numRuns: 500 });
});
