import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffIpvs, type IpvsKernelState } from '../../../modes/ipvs/diff.js';
import type { IpvsPlan, PlannedVirtualServer } from '../../../modes/ipvs/plan.js';
import { SET, type SetId } from '../../../modes/ipvs/names.js';
import type { RealServer, VirtualServer } from '../../../src/net/ipvs/codec.js';

const vs = (address: string, port = 80, protocol: 'TCP' | 'UDP' = 'TCP', scheduler = 'rr'): VirtualServer =>
  ({ family: 'IPv4', protocol, address, port, scheduler, flags: 0, timeout: 0, netmask: 0xffffffff });
const id = (v: VirtualServer) => `${v.protocol}/${v.address}:${v.port}`;
const rs = (address: string, weight = 1, active = 0, inactive = 0): RealServer =>
  ({ address, port: 8080, weight, fwdMethod: 0, upperThreshold: 0, lowerThreshold: 0, activeConns: active, inactiveConns: inactive, persistConns: 0 });

function plan(list: { vs: VirtualServer; rs: string[] }[], sets: Partial<Record<SetId, string[]>> = {}): IpvsPlan {
  const virtualServers = new Map<string, PlannedVirtualServer>(list.map((p) => [id(p.vs), { vs: p.vs, realServers: p.rs.map((a) => ({ address: a, port: 8080 })), servicePort: 'ns/s' }]));
  return {
    family: 'IPv4', virtualServers,
    bindAddresses: new Set(list.map((p) => p.vs.address).filter((a) => a.startsWith('172.30.'))),
    sets: new Map(Object.values(SET).map((s) => [s, new Set(sets[s] ?? [])])),
    lbNoNodeAccess: [], noLocalEndpoints: { internal: new Set(), external: new Set() },
  };
}

function kernel(list: { vs: VirtualServer; rs: RealServer[] }[], bound: string[] = [], sets: Partial<Record<SetId, string[]>> = {}): IpvsKernelState {
  return {
    virtualServers: new Map(list.map((k) => [id(k.vs), { vs: k.vs, realServers: k.rs }])),
    boundAddresses: new Set(bound),
    sets: new Map(Object.values(SET).map((s) => [s, new Set(sets[s] ?? [])])),
  };
}

const opts = { now: 1_000_000, gracefulTimeoutMs: 60_000, terminating: new Map<string, number>() };
const kinds = (d: ReturnType<typeof diffIpvs>) => d.ops.map((o) => `${o.kind} ${o.vs.address}${'rs' in o ? ' ' + o.rs.address + ' w' + o.weight : ''}`);

test('from an empty kernel: services, real servers, addresses and set entries are all added', () => {
  const d = diffIpvs(plan([{ vs: vs('172.30.0.1'), rs: ['10.0.0.1', '10.0.0.2'] }], { [SET.CLUSTER_IP]: ['172.30.0.1,tcp:80'] }), kernel([]), opts);
  assert.deepEqual(kinds(d), ['add-vs 172.30.0.1', 'add-rs 172.30.0.1 10.0.0.1 w1', 'add-rs 172.30.0.1 10.0.0.2 w1']);
  assert.deepEqual(d.bind, ['172.30.0.1']);
  assert.deepEqual(d.setAdds.get(SET.CLUSTER_IP), ['172.30.0.1,tcp:80']);
});

test('an unchanged kernel needs no operation at all', () => {
  const d = diffIpvs(plan([{ vs: vs('172.30.0.1'), rs: ['10.0.0.1'] }]), kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.1')] }], ['172.30.0.1']), opts);
  assert.deepEqual(d.ops, []);
  assert.deepEqual([d.bind, d.unbind], [[], []]);
});

test('a scheduler change updates the virtual server in place instead of re-creating it', () => {
  const d = diffIpvs(plan([{ vs: vs('172.30.0.1', 80, 'TCP', 'wlc'), rs: ['10.0.0.1'] }]), kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.1')] }], ['172.30.0.1']), opts);
  assert.deepEqual(kinds(d), ['update-vs 172.30.0.1']);
});

test('a removed TCP endpoint with open connections drains at weight 0, then goes when idle', () => {
  const want = plan([{ vs: vs('172.30.0.1'), rs: ['10.0.0.1'] }]);
  const first = diffIpvs(want, kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.1'), rs('10.0.0.2', 1, 3, 0)] }], ['172.30.0.1']), opts);
  assert.deepEqual(kinds(first), ['drain-rs 172.30.0.1 10.0.0.2 w0']);
  assert.equal(first.terminating.size, 1);
  const stillBusy = diffIpvs(want, kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.1'), rs('10.0.0.2', 0, 1, 0)] }], ['172.30.0.1']), { ...opts, now: opts.now + 30_000, terminating: first.terminating });
  assert.deepEqual(kinds(stillBusy), [], 'already at weight 0: nothing to do while connections remain');
  const idle = diffIpvs(want, kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.1'), rs('10.0.0.2', 0, 0, 0)] }], ['172.30.0.1']), { ...opts, now: opts.now + 40_000, terminating: stillBusy.terminating });
  assert.deepEqual(kinds(idle), ['delete-rs 172.30.0.1 10.0.0.2 w0']);
  assert.equal(idle.terminating.size, 0);
});

test('a draining real server is deleted after the graceful timeout even with connections left', () => {
  const want = plan([{ vs: vs('172.30.0.1'), rs: [] }]);
  const k = kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.2', 0, 5, 5)] }], ['172.30.0.1']);
  const id2 = 'TCP/172.30.0.1:80/10.0.0.2:8080';
  const d = diffIpvs(want, k, { ...opts, now: opts.now + 60_000, terminating: new Map([[id2, opts.now]]) });
  assert.deepEqual(kinds(d), ['delete-rs 172.30.0.1 10.0.0.2 w0']);
});

test('UDP real servers are removed at once, as kube-proxy does', () => {
  const d = diffIpvs(plan([{ vs: vs('172.30.0.1', 53, 'UDP'), rs: [] }]), kernel([{ vs: vs('172.30.0.1', 53, 'UDP'), rs: [rs('10.0.0.2', 1, 4, 4)] }], ['172.30.0.1']), opts);
  assert.deepEqual(kinds(d), ['delete-rs 172.30.0.1 10.0.0.2 w0']);
});

test('an endpoint that comes back while draining gets its weight back', () => {
  const d = diffIpvs(plan([{ vs: vs('172.30.0.1'), rs: ['10.0.0.2'] }]), kernel([{ vs: vs('172.30.0.1'), rs: [rs('10.0.0.2', 0, 2, 0)] }], ['172.30.0.1']), opts);
  assert.deepEqual(kinds(d), ['update-rs 172.30.0.1 10.0.0.2 w1']);
});

test('a removed service loses its virtual server, address and set entries; a foreign virtual server stays', () => {
  const k = kernel(
    [{ vs: vs('172.30.0.9'), rs: [rs('10.0.0.9')] }, { vs: vs('192.168.0.2', 30080), rs: [] }, { vs: vs('10.99.99.99', 443), rs: [] }],
    ['172.30.0.9'], { [SET.CLUSTER_IP]: ['172.30.0.9,tcp:80'], [SET.NODE_PORT_TCP]: ['30080'] });
  const d = diffIpvs(plan([]), k, opts);
  assert.deepEqual(kinds(d).sort(), ['delete-vs 172.30.0.9', 'delete-vs 192.168.0.2']);
  assert.deepEqual(d.unbind, ['172.30.0.9']);
  assert.deepEqual(d.setDels.get(SET.CLUSTER_IP), ['172.30.0.9,tcp:80']);
});
