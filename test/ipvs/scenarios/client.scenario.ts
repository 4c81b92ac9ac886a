// Runs INSIDE the IPVS VM (test/ipvs/vm.test.ts boots it). The client programs the real kernel; ipvsadm is the
// independent check of what the kernel holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { NetlinkIpvs } from '../../../src/net/ipvs/client.js';
import { FwdMethod, SvcFlag } from '../../../src/net/ipvs/constants.js';

const ipvsadm = (...args: string[]) => execFileSync('/usr/sbin/ipvsadm', args).toString();

test('the IPVS client adds, lists, edits and deletes services and real servers as ipvsadm sees them', async () => {
  const c = await NetlinkIpvs.open();
  try {
    assert.match((await c.info()).version, /^1\.2\./);
    const vs = { family: 'IPv4', protocol: 'TCP', address: '10.96.7.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff } as const;
    await c.addService(vs);
    await c.addDest(vs, { address: '10.244.7.2', port: 8080, weight: 1, fwdMethod: FwdMethod.MASQ, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0 });
    assert.match(ipvsadm('-Ln', '-t', '10.96.7.1:80'), /TCP\s+10\.96\.7\.1:80 rr[\s\S]*10\.244\.7\.2:8080\s+Masq\s+1/);
    assert.deepEqual((await c.listServices()).find((s) => s.address === '10.96.7.1'), vs);

    await c.updateService({ ...vs, scheduler: 'wlc', flags: SvcFlag.PERSISTENT, timeout: 600 });
    assert.match(ipvsadm('-Ln', '-t', '10.96.7.1:80'), /10\.96\.7\.1:80 wlc persistent 600/);
    await c.updateDest(vs, { address: '10.244.7.2', port: 8080, weight: 0, fwdMethod: FwdMethod.MASQ, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0 });
    assert.equal((await c.listDests(vs))[0].weight, 0);
    await c.deleteDest(vs, { address: '10.244.7.2', port: 8080 });
    assert.deepEqual(await c.listDests(vs), []);
    await c.deleteService(vs);
    assert.doesNotMatch(ipvsadm('-Ln'), /10\.96\.7\.1/);
  } finally {
    c.close();
  }
});

test('UDP, SCTP and IPv6 virtual servers round-trip through the kernel', async () => {
  const c = await NetlinkIpvs.open();
  try {
    const list = [
      { family: 'IPv4', protocol: 'UDP', address: '10.96.7.53', port: 53, scheduler: 'sh', flags: 0, timeout: 0, netmask: 0xffffffff },
      { family: 'IPv4', protocol: 'SCTP', address: '10.96.7.9', port: 9000, scheduler: 'mh', flags: 0, timeout: 0, netmask: 0xffffffff },
      { family: 'IPv6', protocol: 'TCP', address: 'fd00:10:96::7', port: 443, scheduler: 'lc', flags: 0, timeout: 0, netmask: 128 },
    ] as const;
    for (const vs of list) await c.addService(vs);
    const got = await c.listServices();
    for (const vs of list) assert.deepEqual(got.find((s) => s.address === vs.address && s.port === vs.port), vs);
    assert.match(ipvsadm('-Ln'), /UDP\s+10\.96\.7\.53:53 sh/);
    assert.match(ipvsadm('-Ln'), /SCTP\s+10\.96\.7\.9:9000 mh/);
    assert.match(ipvsadm('-Ln'), /TCP\s+\[fd00:10:96::7\]:443 lc/);
    for (const vs of list) await c.deleteService(vs);
    await assert.rejects(c.deleteService(list[0]), /IPVS command/);
  } finally {
    c.close();
  }
});
