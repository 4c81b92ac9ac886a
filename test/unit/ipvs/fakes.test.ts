/**
 * The ipvs mode's fakes refuse what the kernel refuses, so a backend test cannot pass on calls the kernel
 * would reject.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RealServer, VirtualServer } from '../../../src/net/ipvs/codec.js';
import { FakeIpset } from '../../support/fake-ipset.js';
import { FakeIpvs } from '../../support/fake-ipvs.js';
import { FakeDummyLink } from '../../support/fake-link.js';

const vs: VirtualServer = { family: 'IPv4', protocol: 'TCP', address: '172.30.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff };
const rs: RealServer = { address: '10.0.0.1', port: 8080, weight: 1, fwdMethod: 0, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0 };

test('fake IPVS: adding twice, or touching a missing virtual or real server, fails as the kernel does', async () => {
  const ipvs = new FakeIpvs();
  await assert.rejects(ipvs.addDest(vs, rs), /ESRCH/);
  await ipvs.addService(vs);
  await assert.rejects(ipvs.addService(vs), /EEXIST/);
  await ipvs.addDest(vs, rs);
  await assert.rejects(ipvs.addDest(vs, rs), /EEXIST/);
  await assert.rejects(ipvs.deleteDest(vs, { address: '10.0.0.2', port: 8080 }), /ENOENT/);
  ipvs.setConnections(vs, rs, { active: 3 });
  await ipvs.updateDest(vs, { ...rs, weight: 0 });
  assert.deepEqual((await ipvs.listDests(vs)).map((d) => [d.weight, d.activeConns]), [[0, 3]], 'the kernel keeps its own counts');
  await ipvs.deleteService(vs);
  await assert.rejects(ipvs.deleteService(vs), /ESRCH/);
});

test('fake ipset: a batch naming a missing set fails whole; -exist makes re-creating and re-adding harmless', async () => {
  const ipset = new FakeIpset();
  await ipset.restore(['create S hash:ip family inet hashsize 1024 maxelem 65536', 'add S 10.0.0.1']);
  await ipset.restore(['create S hash:ip family inet hashsize 1024 maxelem 65536', 'add S 10.0.0.1', 'del S 10.0.0.9']);
  await assert.rejects(ipset.restore(['add S 10.0.0.2', 'add MISSING 10.0.0.3']), /does not exist/);
  assert.deepEqual(ipset.entries('S'), ['10.0.0.1'], 'nothing of the failed batch applied');
  assert.deepEqual([...(await ipset.save()).get('S')!.entries], ['10.0.0.1']);
  ipset.inUse.add('S');
  await assert.rejects(ipset.destroy('S'), /in use/);
});

test('fake dummy link: addresses need the device, and go with it', async () => {
  const link = new FakeDummyLink();
  await link.changeAddresses(['172.30.0.1'], []);
  assert.deepEqual(link.bound(), []);
  await link.ensure();
  await link.changeAddresses(['172.30.0.1', '172.30.0.2'], ['172.30.0.9']);
  await link.changeAddresses([], ['172.30.0.2']);
  assert.deepEqual([...(await link.addresses())], ['172.30.0.1']);
  await link.delete();
  assert.deepEqual([...(await link.addresses())], []);
});
