/**
 * The real IpvsBackend driven into stateful fakes of IPVS, ipset, kube-ipvs0, iptables and sysctl: init,
 * a first (full) sync, an unchanged sync, endpoint and service changes, graceful termination of a busy
 * TCP real server, failures, and cleanup. What the kernel would hold is read back from the fakes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { GRACEFUL_TIMEOUT_MS, IpvsBackend } from '../../../modes/ipvs/backend.js';
import { ALL_SETS, CHAIN, SET } from '../../../modes/ipvs/names.js';
import { buildProxyState } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import type { ChangeSet, ProxyState } from '../../../src/model/types.js';
import { IpvsUnavailableError } from '../../../src/net/ipvs/client.js';
import type { VirtualServer } from '../../../src/net/ipvs/codec.js';
import { FakeIpset } from '../../support/fake-ipset.js';
import { FakeIptables } from '../../support/fake-iptables.js';
import { FakeIpvs } from '../../support/fake-ipvs.js';
import { FakeDummyLink } from '../../support/fake-link.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { modeOptions } from '../../support/mode-options.js';
import { ep, node, port, slice, svc } from '../../support/api-objects.js';
import { NODE } from '../model/fixtures.js';
import { memoryLogger } from '../../support/logger.js';

const NODE_IP = '192.168.0.2';
const FULL: ChangeSet = { full: true, services: new Set() };
const partial = (...keys: string[]): ChangeSet => ({ full: false, services: new Set(keys) });

/** The kernel's defaults. */
const SYSCTLS: Record<string, string> = {
  'net.ipv4.vs.conntrack': '0', 'net.ipv4.vs.conn_reuse_mode': '1', 'net.ipv4.vs.expire_nodest_conn': '0',
  'net.ipv4.vs.expire_quiescent_template': '0', 'net.ipv4.ip_forward': '0',
};

function state(services: ApiService[], slices: ApiEndpointSlice[]): ProxyState {
  return buildProxyState({
    family: 'IPv4', nodeName: NODE, node: node(NODE, { ips: [NODE_IP] }), services, endpointSlices: slices,
    hostAddresses: [NODE_IP], nodePortAddresses: [], localhostNodePorts: false, warn: () => {},
  });
}

const web = svc('ns1', 'web', { type: 'ClusterIP', clusterIP: '172.30.0.41', ports: [port('p80', 80, 'TCP', { targetPort: 8080 })] });
const webEps = (...ips: string[]) => slice('ns1', 'web', 'web-1', [{ name: 'p80', port: 8080 }], ips.map((ip) => ep(ip, { node: NODE })));
const dns = svc('ns1', 'dns', { type: 'NodePort', clusterIP: '172.30.0.53', ports: [port('p53', 53, 'UDP', { targetPort: 5353, nodePort: 30053 })] });
const dnsEps = (...ips: string[]) => slice('ns1', 'dns', 'dns-1', [{ name: 'p53', port: 5353, protocol: 'UDP' }], ips.map((ip) => ep(ip)));

const WEB_VS = 'TCP/172.30.0.41:80';
const webKey: VirtualServer = { family: 'IPv4', protocol: 'TCP', address: '172.30.0.41', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 0xffffffff };

function setup(opts: { ipvsMissing?: boolean; settings?: { tcpTimeoutMs?: number } } = {}) {
  const ipvs = new FakeIpvs();
  const ipset = new FakeIpset();
  const link = new FakeDummyLink();
  const ipt = new FakeIptables({ generation: 1 });
  const sysctl = new FakeSysctl(SYSCTLS);
  const clock = { now: 1_000_000 };
  const registry = new Registry();
  const base = modeOptions('ipvs', { log: memoryLogger(), registry });
  const backend = new IpvsBackend({ ...base, settings: { ...base.settings, ...opts.settings }, host: { addresses: () => [NODE_IP] } }, {
    iptables: ipt, ipset, link, sysctl, now: () => clock.now,
    openIpvs: async () => {
      if (opts.ipvsMissing) throw new IpvsUnavailableError('this kernel has no IPVS');
      return ipvs;
    },
  });
  return { ipvs, ipset, link, ipt, sysctl, clock, registry, backend };
}

test('init sets the sysctls, creates kube-ipvs0, every ipset, the chains and the jumps, once however often it runs', async () => {
  const { backend, sysctl, link, ipset, ipt } = setup();
  await backend.init();
  await backend.init();
  assert.deepEqual(sysctl.writes.sort(), ['net.ipv4.ip_forward=1', 'net.ipv4.vs.conn_reuse_mode=0', 'net.ipv4.vs.conntrack=1',
    'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1'].sort());
  assert.equal(await link.exists(), true);
  assert.deepEqual(ipset.names(), [...ALL_SETS].sort());
  assert.equal(await ipt.chainExists('nat', CHAIN.SERVICES), true);
  assert.equal(await ipt.chainExists('filter', CHAIN.IPVS_FILTER), true);
  assert.deepEqual(ipt.rules('nat', 'PREROUTING'), ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
});

test('init sets the IPVS timeouts when configured, and fails clearly without IPVS', async () => {
  const withTimeouts = setup({ settings: { tcpTimeoutMs: 600_000 } });
  await withTimeouts.backend.init();
  assert.equal((await withTimeouts.ipvs.getTimeouts()).tcp, 600);
  await assert.rejects(setup({ ipvsMissing: true }).backend.init(), IpvsUnavailableError);
});

test('a first sync programs virtual servers, real servers, bound addresses, set entries and the ipset rules', async () => {
  const { backend, ipvs, link, ipset, ipt } = setup();
  await backend.init();
  assert.deepEqual(await backend.sync(state([web, dns], [webEps('10.180.0.1', '10.180.0.2'), dnsEps('10.180.1.1')]), FULL), { ok: true });
  assert.deepEqual(ipvs.ids(), ['TCP/172.30.0.41:80', 'UDP/172.30.0.53:53', `UDP/${NODE_IP}:30053`]);
  assert.deepEqual(ipvs.realServers(WEB_VS), ['10.180.0.1:8080 w=1', '10.180.0.2:8080 w=1']);
  assert.deepEqual(ipvs.realServers(`UDP/${NODE_IP}:30053`), ['10.180.1.1:5353 w=1']);
  assert.deepEqual(link.bound(), ['172.30.0.41', '172.30.0.53'], 'ClusterIPs on kube-ipvs0, never the node IP');
  assert.deepEqual(ipset.entries(SET.CLUSTER_IP), ['172.30.0.41,tcp:80', '172.30.0.53,udp:53']);
  assert.deepEqual(ipset.entries(SET.NODE_PORT_UDP), ['30053']);
  const services = ipt.rules('nat', CHAIN.SERVICES)!;
  assert.ok(services.some((l) => l.includes(`--match-set ${SET.CLUSTER_IP} src,dst -j ${CHAIN.MARK_MASQ}`)), services.join('\n'));
  assert.ok(ipt.rules('nat', CHAIN.NODE_PORT)!.some((l) => l.includes(`--match-set ${SET.NODE_PORT_UDP} dst -j ${CHAIN.MARK_MASQ}`)));
  assert.equal(ipt.last.noFlush, true);
});

test('a sync of an unchanged state changes nothing in IPVS, on kube-ipvs0 or in the sets', async () => {
  const { backend, ipvs, ipset } = setup();
  await backend.init();
  const s = state([web], [webEps('10.180.0.1')]);
  await backend.sync(s, FULL);
  const changes = ipvs.changes.length;
  const batches = ipset.restores.length;
  assert.deepEqual(await backend.sync(s, partial()), { ok: true });
  assert.equal(ipvs.changes.length, changes);
  assert.equal(ipset.restores.length, batches, 'no ipset batch at all');
});

test('an endpoint change adds and removes just those real servers; an idle TCP one goes at once', async () => {
  const { backend, ipvs } = setup();
  await backend.init();
  await backend.sync(state([web], [webEps('10.180.0.1', '10.180.0.2')]), FULL);
  const mark = ipvs.changes.length;
  await backend.sync(state([web], [webEps('10.180.0.2', '10.180.0.3')]), partial('ns1/web'));
  assert.deepEqual(ipvs.changes.slice(mark), [`add-rs ${WEB_VS} 10.180.0.3:8080 w=1`, `delete-rs ${WEB_VS} 10.180.0.1:8080`]);
  assert.deepEqual(ipvs.realServers(WEB_VS), ['10.180.0.2:8080 w=1', '10.180.0.3:8080 w=1']);
});

/** Two web endpoints synced, then 10.180.0.2 removed while it has `active` connections. */
async function removeBusyEndpoint(active: number) {
  const h = setup();
  await h.backend.init();
  await h.backend.sync(state([web], [webEps('10.180.0.1', '10.180.0.2')]), FULL);
  h.ipvs.setConnections(webKey, { address: '10.180.0.2', port: 8080 }, { active });
  const after = state([web], [webEps('10.180.0.1')]);
  await h.backend.sync(after, partial('ns1/web'));
  return { ...h, after };
}

test('a removed TCP real server with connections drains at weight 0 and goes once idle', async () => {
  const { backend, ipvs, clock, after } = await removeBusyEndpoint(2);
  assert.deepEqual(ipvs.realServers(WEB_VS), ['10.180.0.1:8080 w=1', '10.180.0.2:8080 w=0'], 'draining, not deleted');
  clock.now += 60_000;
  const mark = ipvs.changes.length;
  await backend.sync(after, partial());
  assert.deepEqual(ipvs.changes.slice(mark), [], 'still busy: left draining');
  ipvs.setConnections(webKey, { address: '10.180.0.2', port: 8080 }, { active: 0, inactive: 0 });
  await backend.sync(after, partial());
  assert.deepEqual(ipvs.realServers(WEB_VS), ['10.180.0.1:8080 w=1']);
});

test('a draining real server that stays busy is deleted after the graceful-termination timeout', async () => {
  const { backend, ipvs, clock, after } = await removeBusyEndpoint(5);
  clock.now += GRACEFUL_TIMEOUT_MS - 1;
  await backend.sync(after, partial());
  assert.equal(ipvs.realServers(WEB_VS)!.length, 2);
  clock.now += 1;
  await backend.sync(after, partial());
  assert.deepEqual(ipvs.realServers(WEB_VS), ['10.180.0.1:8080 w=1']);
});

test('a removed service loses its virtual servers, its address on kube-ipvs0 and its set entries; others stay', async () => {
  const { backend, ipvs, link, ipset } = setup();
  await backend.init();
  await backend.sync(state([web, dns], [webEps('10.180.0.1'), dnsEps('10.180.1.1')]), FULL);
  const foreign: VirtualServer = { ...webKey, address: '10.99.0.1' };
  await ipvs.addService(foreign);
  await backend.sync(state([web], [webEps('10.180.0.1')]), partial('ns1/dns'));
  assert.deepEqual(ipvs.ids(), ['TCP/10.99.0.1:80', WEB_VS], 'another program\'s virtual server is left alone');
  assert.deepEqual(link.bound(), ['172.30.0.41']);
  assert.deepEqual(ipset.entries(SET.CLUSTER_IP), ['172.30.0.41,tcp:80']);
  assert.deepEqual(ipset.entries(SET.NODE_PORT_UDP), []);
});

test('a failed iptables restore fails the sync and is counted; the next sync succeeds', async () => {
  const { backend, ipt, registry } = setup();
  await backend.init();
  ipt.failNextRestore();
  const s = state([web], [webEps('10.180.0.1')]);
  const r = await backend.sync(s, FULL);
  assert.equal(r.ok, false);
  const metric = await registry.getSingleMetric('kubeproxy_sync_proxy_rules_iptables_restore_failures_total')!.get();
  assert.equal(metric.values[0]?.value, 1);
  assert.deepEqual(await backend.sync(s, FULL), { ok: true });
});

test('cleanup removes kpx\'s virtual servers, kube-ipvs0, the chains, the jumps and the sets, and nothing else', async () => {
  const { backend, ipvs, link, ipset, ipt } = setup();
  ipt.external('*nat\n:OTHER - [0:0]\n-A PREROUTING -j OTHER\nCOMMIT\n');
  await backend.init();
  await backend.sync(state([web, dns], [webEps('10.180.0.1'), dnsEps('10.180.1.1')]), FULL);
  await ipvs.addService({ ...webKey, address: '10.99.0.1' });
  assert.equal(await backend.hasLeftovers(), true);
  await backend.cleanup();
  assert.equal(await backend.hasLeftovers(), false);
  assert.deepEqual(ipvs.ids(), ['TCP/10.99.0.1:80']);
  assert.equal(await link.exists(), false);
  assert.deepEqual(ipset.names(), []);
  for (const c of [CHAIN.SERVICES, CHAIN.POSTROUTING, CHAIN.MARK_MASQ]) assert.equal(await ipt.chainExists('nat', c), false, c);
  assert.equal(await ipt.chainExists('filter', CHAIN.FORWARD), false);
  assert.deepEqual(ipt.rules('nat', 'PREROUTING'), ['-A PREROUTING -j OTHER']);
  assert.deepEqual(ipt.rules('nat', 'OUTPUT'), []);
});
