import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIP } from 'node:net';
import {
  cidrContains, ipFamilyOf, isLoopbackIP, joinHostPort, normalizeCIDR, normalizeIP, parseCIDR, parseIP, samePrefix,
  sameUnderMask, withoutZone,
} from '../../../src/util/ip.js';

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

// The strict reading (configuration values, the tracer's packets) and the sloppy one (API objects) part ways
// on exactly these inputs; every other address reads the same both ways.
test('strict reading rejects what Node could read differently, and keeps IPv4-mapped addresses IPv6', () => {
  const cases: [string, string | null, string | null][] = [
    // input, sloppy text, strict text
    ['010.0.0.1', '10.0.0.1', null],
    ['10.0.0.01', '10.0.0.1', null],
    ['00.0.0.0', '0.0.0.0', null],
    [' 10.0.0.1', '10.0.0.1', null],
    ['fd00::1 ', 'fd00::1', null],
    ['::ffff:10.0.0.1', '10.0.0.1', '::ffff:10.0.0.1'],
    ['::FFFF:0a00:0001', '10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:010.0.0.1', '10.0.0.1', null],
    ['0.0.0.0', '0.0.0.0', '0.0.0.0'],
    ['10.0.0.1', '10.0.0.1', '10.0.0.1'],
    ['::', '::', '::'],
    ['::1.2.3.4', '::102:304', '::102:304'], // IPv4-compatible, not mapped: IPv6 both ways
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'], // "::" standing for one group
    ['1:2:3:4:5:6:7::8', null, null], // "::" standing for none
    ['fe80::1%eth0', null, null], // zones: see withoutZone
    ['[::1]', null, null],
  ];
  for (const [input, sloppy, strict] of cases) {
    assert.equal(parseIP(input)?.text ?? null, sloppy, `sloppy ${input}`);
    assert.equal(parseIP(input, 'strict')?.text ?? null, strict, `strict ${input}`);
  }
  assert.equal(parseIP('::ffff:10.0.0.1')!.family, 'IPv4');
  assert.equal(parseIP('::ffff:10.0.0.1', 'strict')!.family, 'IPv6');
});

test('strict CIDRs: leading zeros and spaces rejected, an IPv4-mapped network is an IPv6 network', () => {
  const cases: [string, string | null, string | null][] = [
    ['010.0.0.0/8', '10.0.0.0/8', null],
    [' 10.0.0.0/8', '10.0.0.0/8', null],
    ['::ffff:10.0.0.0/104', null, '::ffff:10.0.0.0/104'],
    ['fd00::1/64', 'fd00::/64', 'fd00::/64'],
    ['fe80::%eth0/64', null, null],
    ['10.0.0.0/008', '10.0.0.0/8', '10.0.0.0/8'], // the prefix is a decimal of up to three digits either way
    ['10.0.0.0/0008', null, null],
  ];
  for (const [input, sloppy, strict] of cases) {
    assert.equal(parseCIDR(input)?.text ?? null, sloppy, `sloppy ${input}`);
    assert.equal(parseCIDR(input, 'strict')?.text ?? null, strict, `strict ${input}`);
  }
});

const hexOrDot = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''));
const octetText = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('0', '00', '01', '010', '255'));
const ipv4Text = fc.array(octetText, { minLength: 3, maxLength: 5 }).map((p) => p.join('.'));
const ipv6Text = fc.tuple(
  fc.array(fc.oneof(word.map((w) => w.toString(16)), fc.constant('0'), fc.constant('ffff')), { minLength: 1, maxLength: 9 }),
  fc.nat(9), fc.nat(9), fc.option(ipv4Text, { nil: undefined }),
).map(([words, from, to, v4]) => {
  const ws = [...words];
  if (from < to && to <= ws.length) ws.splice(from, to - from, '');
  let s = ws.join(':');
  if (s.startsWith(':')) s = `:${s}`;
  if (s.endsWith(':')) s = `${s}:`;
  return v4 === undefined ? s : `${s}:${v4}`;
});

test('strict reading accepts exactly what Node\'s net.isIP accepts (zones aside), with the same family', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: hexOrDot, maxLength: 24 }), ipv4Text, ipv6Text), (s) => {
    const fam = isIP(s);
    const p = parseIP(s, 'strict');
    assert.equal(p?.family ?? null, fam === 4 ? 'IPv4' : fam === 6 ? 'IPv6' : null, s);
  }), { numRuns: 2000 });
});

test('withoutZone strips an IPv6 zone only where Node would accept one', () => {
  const cases: [string, string][] = [
    ['fe80::1%eth0', 'fe80::1'],
    ['fe80::1%a:b.c-d', 'fe80::1'],
    ['fe80::1%', 'fe80::1%'],
    ['fe80::1%a b', 'fe80::1%a b'],
    ['fe80::1%eth0%x', 'fe80::1%eth0%x'],
    ['10.0.0.1%eth0', '10.0.0.1%eth0'], // IPv4 has no zones
    ['10.0.0.1', '10.0.0.1'],
  ];
  for (const [input, want] of cases) {
    assert.equal(withoutZone(input), want, input);
    assert.equal(parseIP(withoutZone(input), 'strict') !== null, isIP(input) !== 0, `agrees with net.isIP: ${input}`);
  }
});

test('prefix and mask comparison: exact at the boundary, false across families or out of range', () => {
  const ip = (s: string) => parseIP(s, 'strict')!;
  assert.ok(samePrefix(ip('10.1.2.3'), ip('10.1.255.0'), 16));
  assert.ok(!samePrefix(ip('10.1.2.3'), ip('10.1.255.0'), 17));
  assert.ok(samePrefix(ip('10.0.0.1'), ip('192.168.0.1'), 0));
  assert.ok(!samePrefix(ip('10.0.0.1'), ip('10.0.0.1'), 33));
  assert.ok(!samePrefix(ip('10.0.0.1'), ip('10.0.0.1'), -1));
  assert.ok(!samePrefix(ip('::ffff:10.0.0.1'), ip('10.0.0.1'), 0), 'an IPv4-mapped address read strictly is IPv6');
  assert.ok(samePrefix(ip('fd00::1'), ip('fd00::ffff'), 112));
  assert.ok(!samePrefix(ip('fd00::1'), ip('fd00::1:1'), 112));
  assert.ok(sameUnderMask(ip('10.1.2.3'), ip('10.1.9.9'), ip('255.255.0.0')));
  assert.ok(sameUnderMask(ip('10.1.2.3'), ip('10.9.2.9'), ip('255.0.255.0')), 'a non-contiguous mask');
  assert.ok(!sameUnderMask(ip('10.1.2.3'), ip('10.9.2.9'), ip('255.255.0.0')));
  assert.ok(!sameUnderMask(ip('10.1.2.3'), ip('10.1.2.3'), ip('ffff::')), 'a mask of the other family');
});

test('host:port joining accepts a port given as text', () => {
  assert.equal(joinHostPort('fd00::1', '8080'), '[fd00::1]:8080');
  assert.equal(joinHostPort('::ffff:10.0.0.1', 80), '[::ffff:10.0.0.1]:80');
});
