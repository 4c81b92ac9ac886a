// Run inside the IPVS VM (see capture command in test/unit/ipvs/codec.test.ts): services made by ipvsadm, then
// dumped over raw generic netlink; the reply payloads are written as hex fixtures, with what ipvsadm was told.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const nl = require('netlink');

const sh = (...args) => execFileSync('/usr/sbin/ipvsadm', args, { stdio: 'pipe' }).toString();
sh('-A', '-t', '10.96.0.10:80', '-s', 'rr');
sh('-a', '-t', '10.96.0.10:80', '-r', '10.244.1.2:8080', '-m', '-w', '1');
sh('-a', '-t', '10.96.0.10:80', '-r', '10.244.2.2:8080', '-m', '-w', '0');
sh('-A', '-u', '10.96.0.53:53', '-s', 'sh', '-p', '10800');
sh('-A', '-t', '[fd00:10:96::1]:443', '-s', 'wlc');
sh('-a', '-t', '[fd00:10:96::1]:443', '-r', '[fd00:10:244::5]:8443', '-m', '-w', '3');
sh('--set', '900', '120', '300');

const sock = nl.createGenericNetlink();
const [fam] = await sock.ctrlRequest(nl.genl.Commands.GET_FAMILY, { familyName: 'IPVS' });
const id = fam.familyId;
const hex = (msgs) => msgs.map((m) => Buffer.from(m.data).toString('hex'));
const [svcs] = await sock.request(id, 4, 1, [], { flags: 0x300 });
const svcKey = (af, proto, addr16hex, port) => {
  const a = (t, v) => { const b = Buffer.alloc((4 + v.length + 3) & ~3); b.writeUInt16LE(4 + v.length, 0); b.writeUInt16LE(t, 2); v.copy(b, 4); return b; };
  const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
  const be = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
  const inner = Buffer.concat([a(1, u16(af)), a(2, u16(proto)), a(3, Buffer.from(addr16hex, 'hex')), a(4, be(port))]);
  const outer = Buffer.alloc(4 + inner.length); outer.writeUInt16LE(4 + inner.length, 0); outer.writeUInt16LE(1 | 0x8000, 2); inner.copy(outer, 4);
  return outer;
};
const [dests4] = await sock.request(id, 8, 1, [svcKey(2, 6, '0a60000a000000000000000000000000', 80)], { flags: 0x300 });
const [dests6] = await sock.request(id, 8, 1, [svcKey(10, 6, 'fd000010009600000000000000000001', 443)], { flags: 0x300 });
const [info] = await sock.request(id, 15, 1, []);
const [config] = await sock.request(id, 13, 1, []);
writeFileSync(process.argv[2], JSON.stringify({
  kernel: execFileSync('uname', ['-r']).toString().trim(),
  made_with: 'ipvsadm -A -t 10.96.0.10:80 -s rr; -a -r 10.244.1.2:8080 -m -w 1; -a -r 10.244.2.2:8080 -m -w 0; -A -u 10.96.0.53:53 -s sh -p 10800; -A -t [fd00:10:96::1]:443 -s wlc; -a -r [fd00:10:244::5]:8443 -m -w 3; --set 900 120 300',
  getService: hex(svcs), getDest4: hex(dests4), getDest6: hex(dests6), getInfo: hex(info), getConfig: hex(config),
}, null, 1) + '\n');
console.log('captured', svcs.length, 'services');
process.exit(0);
