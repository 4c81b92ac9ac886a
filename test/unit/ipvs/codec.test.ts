// The fixtures are kernel replies captured in the IPVS VM from services made with ipvsadm (an independent
// client). Recapture with:
//   node --import tsx -e "import('./test/support/vm/run-vm.ts').then(m => m.runInVm('node test/support/vm/capture-ipvs-fixtures.mjs test/unit/ipvs/fixtures/kernel-6.1-dump.json'))"
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attrMap, decodeAttrs, encodeAttr } from '../../../src/net/ipvs/attrs.js';
import { inetAddrToIp, ipToInetAddr } from '../../../src/net/ipvs/addr.js';
import {
  decodeDest, decodeInfo, decodeService, decodeTimeouts, encodeDest, encodeService, encodeServiceKey, type VirtualServer,
} from '../../../src/net/ipvs/codec.js';
import { CmdAttr, SvcFlag } from '../../../src/net/ipvs/constants.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/kernel-6.1-dump.json', import.meta.url), 'utf8'));
const bytes = (h: string) => Buffer.from(h, 'hex');
const nested = (msg: string, attr: number) => attrMap(bytes(msg)).get(attr)!;

test('services dumped by the kernel decode to what ipvsadm was told', () => {
  const svcs = (fx.getService as string[]).map((m) => decodeService(nested(m, CmdAttr.SERVICE)));
  const byId = new Map(svcs.map((s) => [`${s!.protocol} ${s!.address}:${s!.port}`, s!]));
  assert.deepEqual(byId.get('TCP 10.96.0.10:80'), { family: 'IPv4', protocol: 'TCP', address: '10.96.0.10', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff });
  assert.deepEqual(byId.get('UDP 10.96.0.53:53'), { family: 'IPv4', protocol: 'UDP', address: '10.96.0.53', port: 53, scheduler: 'sh', flags: SvcFlag.PERSISTENT, timeout: 10800, netmask: 0xffffffff });
  assert.deepEqual(byId.get('TCP fd00:10:96::1:443'), { family: 'IPv6', protocol: 'TCP', address: 'fd00:10:96::1', port: 443, scheduler: 'wlc', flags: 0, timeout: 0, netmask: 128 });
});

test('real servers dumped by the kernel decode with weight, masquerade forwarding and counters', () => {
  const d4 = (fx.getDest4 as string[]).map((m) => decodeDest(nested(m, CmdAttr.DEST), 'IPv4')!);
  assert.deepEqual(d4.map((d) => [d.address, d.port, d.weight, d.fwdMethod]).sort(), [['10.244.1.2', 8080, 1, 0], ['10.244.2.2', 8080, 0, 0]]);
  assert.ok(d4.every((d) => d.activeConns === 0 && d.inactiveConns === 0));
  const d6 = (fx.getDest6 as string[]).map((m) => decodeDest(nested(m, CmdAttr.DEST), 'IPv6')!);
  assert.deepEqual(d6.map((d) => [d.address, d.port, d.weight]), [['fd00:10:244::5', 8443, 3]]);
});

test('info and timeouts decode from the kernel replies', () => {
  assert.deepEqual(decodeInfo(bytes(fx.getInfo[0])), { version: '1.2.1', connTableSize: 4096 });
  assert.deepEqual(decodeTimeouts(bytes(fx.getConfig[0])), { tcp: 900, tcpFin: 120, udp: 300 });
});

test('an encoded service carries the same attributes, byte for byte, as the kernel reports for it', () => {
  const kernelMsg = (fx.getService as string[]).map((m) => nested(m, CmdAttr.SERVICE))
    .find((p) => decodeService(p)!.protocol === 'UDP')!;
  const vs: VirtualServer = { family: 'IPv4', protocol: 'UDP', address: '10.96.0.53', port: 53, scheduler: 'sh', flags: SvcFlag.PERSISTENT, timeout: 10800, netmask: 0xffffffff };
  const ours = attrMap(attrMap(encodeService(vs)).get(CmdAttr.SERVICE)!);
  const theirs = attrMap(kernelMsg);
  for (const type of [1, 2, 3, 4, 6, 8, 9]) assert.deepEqual(ours.get(type), theirs.get(type), `service attribute ${type} differs`);
  // FLAGS: the kernel reports HASHED (0x2) and the mask it keeps; we send our flags with a full mask.
  assert.equal(ours.get(7)!.readUInt32LE(0), SvcFlag.PERSISTENT);
  assert.equal(theirs.get(7)!.readUInt32LE(0) & ~0x2, SvcFlag.PERSISTENT);
});

test('an encoded real server carries the kernel’s address, port and weight attributes', () => {
  const kernel = attrMap(nested((fx.getDest6 as string[])[0], CmdAttr.DEST));
  const ours = attrMap(attrMap(encodeDest({ address: 'fd00:10:244::5', port: 8443, weight: 3, fwdMethod: 0, upperThreshold: 0, lowerThreshold: 0 }, 'IPv6')).get(CmdAttr.DEST)!);
  for (const type of [1, 2, 4, 5, 6, 11]) assert.deepEqual(ours.get(type), kernel.get(type), `dest attribute ${type} differs`);
  assert.equal(ours.get(3)!.readUInt32LE(0), kernel.get(3)!.readUInt32LE(0) & 0x7);
});

test('attributes are padded to 4 bytes, nested ones flagged, and truncated input stops decoding', () => {
  const a = encodeAttr(6, Buffer.from('rr\0'));
  assert.equal(a.length, 8);
  assert.equal(a.readUInt16LE(0), 7);
  const key = encodeServiceKey({ family: 'IPv4', protocol: 'TCP', address: '10.0.0.1', port: 80 });
  const [outer] = decodeAttrs(key);
  assert.equal(outer.nested, true);
  assert.equal(decodeAttrs(key.subarray(0, key.length - 3)).length, 0);
  assert.deepEqual(decodeAttrs(Buffer.from([0xff, 0xff, 1, 0])), []);
});

test('IPv4 and IPv6 addresses pack into nf_inet_addr and back, IPv6 in RFC 5952 form', () => {
  for (const [ip, fam] of [['10.96.0.10', 'IPv4'], ['fd00:10:96::1', 'IPv6'], ['2001:db8::', 'IPv6'], ['::1', 'IPv6'], ['2001:db8:0:1:1:1:1:1', 'IPv6'], ['fe80::1:0:0:1', 'IPv6']] as const) {
    assert.equal(inetAddrToIp(ipToInetAddr(ip), fam), ip);
  }
  assert.equal(inetAddrToIp(ipToInetAddr('::ffff:10.1.2.3'), 'IPv6'), '::ffff:a01:203');
  assert.throws(() => ipToInetAddr('nope'));
});
