/**
 * The ipvs mode's ipsets and iptables rules against the real kernel of this machine (which has ip_set and
 * iptables but no IPVS): every set kpx creates, filled from a plan, and the rules matching on them load with
 * iptables-restore in a namespace of the test's own. The IPVS side runs in the VM (test/ipvs).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exec } from '../../src/net/exec.js';
import { createLine, Ipset, parseIpsetSave } from '../../src/net/ipset.js';
import { Iptables } from '../../src/net/iptables.js';
import { buildProxyState } from '../../src/model/index.js';
import { planIpvs } from '../../modes/ipvs/plan.js';
import { renderIpvsRules } from '../../modes/ipvs/rules.js';
import { ALL_SETS, SET, SET_INFO, setName } from '../../modes/ipvs/names.js';
import { ep, node, port, slice, svc } from '../support/api-objects.js';
import { clusterCIDRMatch } from '../support/mode-options.js';

const NS = `kpx-${randomBytes(3).toString('hex')}-ipvsrules`;

before(async () => {
  await exec('ip', ['netns', 'add', NS]);
});
after(async () => {
  await exec('ip', ['netns', 'del', NS], { okCodes: [0, 1] });
});

test('every ipvs-mode ipset is created and filled from a plan, and the rules matching on them load into the kernel', async () => {
  const state = buildProxyState({
    family: 'IPv4', nodeName: 'n1', node: node('n1', { ips: ['192.168.0.2'] }), hostAddresses: ['192.168.0.2'],
    nodePortAddresses: [], localhostNodePorts: false, warn: () => {},
    services: [
      svc('ns', 'web', { type: 'LoadBalancer', clusterIP: '172.30.0.41', externalIPs: ['192.168.99.1'], externalTrafficPolicy: 'Local', healthCheckNodePort: 30000, loadBalancerSourceRanges: ['192.168.0.0/24'], ports: [port('http', 80, 'TCP', { nodePort: 30080 }), port('dns', 53, 'UDP', { nodePort: 30053 }), port('s', 9, 'SCTP', { nodePort: 30009 })] }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }),
    ],
    endpointSlices: [slice('ns', 'web', 'web-1', [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 's', port: 9, protocol: 'SCTP' }], [ep('10.180.0.1', { node: 'n1' })])],
  });
  const plan = planIpvs(state, { scheduler: 'rr', nodePortIPs: ['192.168.0.2'], nodeAddresses: new Set(['192.168.0.2']) });
  const ipset = new Ipset({ netns: NS });
  await ipset.restore(ALL_SETS.map((id) => createLine({ name: setName(id, 'IPv4'), type: SET_INFO[id].type, family: 'inet' })));
  await ipset.restore([...plan.sets].flatMap(([id, es]) => [...es].map((e) => `add ${setName(id, 'IPv4')} ${e}`)));
  const saved = await ipset.save();
  for (const [id, entries] of plan.sets) {
    assert.deepEqual([...(saved.get(setName(id, 'IPv4'))?.entries ?? [])].sort(), [...entries].sort(), `set ${id} as the kernel reports it`);
  }
  assert.ok(saved.get(SET.NODE_PORT_TCP)!.entries.has('30080'));
  const ipt = new Iptables({ family: 'IPv4', netns: NS });
  await ipt.restore(renderIpvsRules(plan, { masqueradeAll: false, masqueradeBit: 14, localTraffic: clusterCIDRMatch('10.0.0.0/8'), randomFully: true }), { noFlush: true });
  const nat = await ipt.save('nat');
  assert.match(nat, /-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP dst,dst .*-j KUBE-MARK-MASQ/);
  assert.match(nat, /-A KUBE-NODE-PORT -p tcp .*--match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN/);
  assert.match(nat, /-A KUBE-POSTROUTING .*--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE/);
  const filter = await ipt.save('filter');
  assert.match(filter, /-A KUBE-PROXY-FIREWALL .*--match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL/);
  assert.match(filter, /-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT/);
});

test('ipset save output parses into sets and entries', () => {
  const sets = parseIpsetSave('create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\nadd KUBE-CLUSTER-IP 10.96.0.10,tcp:80\nadd KUBE-CLUSTER-IP 10.96.0.53,udp:53\ncreate KUBE-NODE-PORT-TCP bitmap:port range 0-65535\nadd KUBE-NODE-PORT-TCP 30080\n');
  assert.deepEqual([...sets.keys()], ['KUBE-CLUSTER-IP', 'KUBE-NODE-PORT-TCP']);
  assert.deepEqual([...sets.get('KUBE-CLUSTER-IP')!.entries], ['10.96.0.10,tcp:80', '10.96.0.53,udp:53']);
  assert.equal(sets.get('KUBE-NODE-PORT-TCP')!.type, 'bitmap:port');
});
