import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { planListeners } from '../../../modes/userspace/listener-plan.js';
import { JUMPS, missingJumpLines, renderCleanup, renderPortalRules } from '../../../modes/userspace/portal-rules.js';
import { Iptables } from '../../../src/net/iptables.js';
import { addNamespace, deleteNamespace, execIn } from '../../../src/sandbox/netns.js';
import { endpoint, proxyState, servicePort } from './fixtures.js';
import { modeOptions } from '../../support/mode-options.js';

const web = servicePort({
  name: 'web', portName: 'http', clusterIP: '10.96.0.10', port: 80, nodePort: 30080,
  externalIPs: ['192.168.50.100'], loadBalancerIPs: ['192.168.50.200'], externallyAccessible: true,
  endpoints: [endpoint('10.244.0.11', 8080), endpoint('10.244.0.12', 8080)],
});
const dns = servicePort({
  name: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53,
  endpoints: [endpoint('10.244.0.13', 5353)],
});
const local = servicePort({
  name: 'local', clusterIP: '10.96.0.20', port: 443, externalIPs: ['192.168.50.101'], externallyAccessible: true,
  externalPolicyLocal: true, usesLocalEndpoints: true,
  endpoints: [endpoint('10.244.0.11', 8443), endpoint('10.244.1.5', 8443, { isLocal: false })],
  localEndpoints: [endpoint('10.244.0.11', 8443)],
});
const sctp = servicePort({ name: 'sctp', protocol: 'SCTP', clusterIP: '10.96.0.30', port: 9999 });
const state = proxyState([web, dns, local, sctp]);

test('the listener plan gives each traffic kind a listener with the right endpoint set, and refuses SCTP', () => {
  const plan = planListeners(state);
  assert.deepEqual(plan.listeners.map((l) => [l.id, l.fixedPort, l.endpoints.map((e) => e.key)]), [
    ['default/dns|UDP|portal', 0, ['10.244.0.13:5353']],
    ['default/local|TCP|portal', 0, ['10.244.0.11:8443', '10.244.1.5:8443']],
    ['default/local|TCP|external', 0, ['10.244.0.11:8443']],
    ['default/web:http|TCP|portal', 0, ['10.244.0.11:8080', '10.244.0.12:8080']],
    ['default/web:http|TCP|nodeport', 30080, ['10.244.0.11:8080', '10.244.0.12:8080']],
  ]);
  assert.deepEqual(plan.refused.map((s) => s.key), ['default/sctp']);
  const webTargets = plan.targets.find((t) => t.servicePort.key === 'default/web:http')!;
  assert.equal(webTargets.external, 'default/web:http|TCP|nodeport', 'external IPs share the node-port listener');
});

test('internalTrafficPolicy=Local gives the ClusterIP listener the local endpoints', () => {
  const sp = servicePort({ name: 'itp', internalPolicyLocal: true, usesLocalEndpoints: true, usesClusterEndpoints: false,
    endpoints: [endpoint('10.244.0.11', 80), endpoint('10.244.1.5', 80, { isLocal: false })], clusterEndpoints: [],
    localEndpoints: [endpoint('10.244.0.11', 80)] });
  const plan = planListeners(proxyState([sp]));
  assert.deepEqual(plan.listeners[0].endpoints.map((e) => e.key), ['10.244.0.11:80']);
});

function portsFor(): Map<string, number> {
  const plan = planListeners(state);
  const ports = new Map<string, number>();
  let next = 40000;
  for (const l of plan.listeners) ports.set(l.id, l.fixedPort || next++);
  return ports;
}

const GOLDEN = `*nat
:KUBE-PORTALS-CONTAINER - [0:0]
:KUBE-PORTALS-HOST - [0:0]
:KUBE-NODEPORT-CONTAINER - [0:0]
:KUBE-NODEPORT-HOST - [0:0]
-A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "default/dns" -m udp --dport 53 -j REDIRECT --to-ports 40000
-A KUBE-PORTALS-CONTAINER -d 10.96.0.20/32 -p tcp -m comment --comment "default/local" -m tcp --dport 443 -j REDIRECT --to-ports 40001
-A KUBE-PORTALS-CONTAINER -d 192.168.50.101/32 -p tcp -m comment --comment "default/local" -m tcp --dport 443 -j REDIRECT --to-ports 40002
-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 40003
-A KUBE-PORTALS-CONTAINER -d 192.168.50.100/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 30080
-A KUBE-PORTALS-CONTAINER -d 192.168.50.200/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 30080
-A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "default/dns" -m udp --dport 53 -j DNAT --to-destination 192.168.50.2:40000
-A KUBE-PORTALS-HOST -d 10.96.0.20/32 -p tcp -m comment --comment "default/local" -m tcp --dport 443 -j DNAT --to-destination 192.168.50.2:40001
-A KUBE-PORTALS-HOST -d 192.168.50.101/32 -p tcp -m comment --comment "default/local" -m tcp --dport 443 -j DNAT --to-destination 192.168.50.2:40002
-A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.50.2:40003
-A KUBE-PORTALS-HOST -d 192.168.50.100/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.50.2:30080
-A KUBE-PORTALS-HOST -d 192.168.50.200/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.50.2:30080
-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j REDIRECT --to-ports 30080
-A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j DNAT --to-destination 192.168.50.2:30080
COMMIT
*filter
:KUBE-NODEPORT-NON-LOCAL - [0:0]
-A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "default/local" -m tcp --dport 40002 -m conntrack --ctstate NEW -j ACCEPT
-A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
`;

const ruleOpts = { family: 'IPv4' as const, bindHost: '0.0.0.0', hostIP: '192.168.50.2', nodePortAddresses: state.nodePortAddresses };

test('portal rules (golden): REDIRECT from PREROUTING, DNAT to the node IP from OUTPUT, node ports, and ACCEPT for outside traffic', () => {
  const plan = planListeners(state);
  assert.equal(renderPortalRules(plan.targets, portsFor(), ruleOpts), GOLDEN);
});

test('with --bind-address set to one address every portal DNATs to it', () => {
  const plan = planListeners(proxyState([dns]));
  const text = renderPortalRules(plan.targets, new Map([['default/dns|UDP|portal', 40000]]), { ...ruleOpts, bindHost: '192.168.50.2' });
  assert.match(text, /-A KUBE-PORTALS-CONTAINER -d 10\.96\.0\.53\/32 .* -j DNAT --to-destination 192\.168\.50\.2:40000/);
  assert.match(text, /-A KUBE-PORTALS-HOST -d 10\.96\.0\.53\/32 .* -j DNAT --to-destination 192\.168\.50\.2:40000/);
});

test('node ports limited by nodePortAddresses get one rule per address', () => {
  const plan = planListeners(proxyState([web]));
  const text = renderPortalRules(plan.targets, new Map([['default/web:http|TCP|portal', 40000], ['default/web:http|TCP|nodeport', 30080]]),
    { ...ruleOpts, nodePortAddresses: { all: false, ips: ['192.168.50.2'], localhost: false } });
  assert.match(text, /-A KUBE-NODEPORT-CONTAINER -d 192\.168\.50\.2\/32 -p tcp .* --dport 30080 -j REDIRECT --to-ports 30080/);
});

test('a listener that is not open gets no rule', () => {
  const plan = planListeners(proxyState([dns]));
  const text = renderPortalRules(plan.targets, new Map(), ruleOpts);
  assert.doesNotMatch(text, /^-A /m);
});

test('IPv6 portals use /128 and bracketed DNAT destinations', () => {
  const sp = servicePort({ name: 'v6', family: 'IPv6', clusterIP: 'fd00:96::10', port: 80, endpoints: [endpoint('fd00:244::11', 80)] });
  const plan = planListeners(proxyState([sp], { family: 'IPv6', nodeIPs: ['fd00:50::2'] }));
  const text = renderPortalRules(plan.targets, new Map([['default/v6|TCP|portal', 40000]]), { ...ruleOpts, family: 'IPv6', bindHost: '::', hostIP: 'fd00:50::2' });
  assert.match(text, /-d fd00:96::10\/128 .* -j REDIRECT --to-ports 40000/);
  assert.match(text, /-j DNAT --to-destination \[fd00:50::2\]:40000/);
});

test('missing jumps are added (portals first, node ports last), present ones are left alone', () => {
  const none = missingJumpLines({ nat: '', filter: '' });
  assert.deepEqual(none.nat, [
    '-I PREROUTING 1 -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER',
    '-I OUTPUT 1 -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST',
    '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER',
    '-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST',
  ]);
  assert.deepEqual(none.filter, ['-I INPUT 1 -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL']);
  const nat = JUMPS.filter((j) => j.table === 'nat').map((j) => `-A ${j.chain} ${j.spec}`).join('\n');
  const filter = JUMPS.filter((j) => j.table === 'filter').map((j) => `-A ${j.chain} ${j.spec}`).join('\n');
  assert.deepEqual(missingJumpLines({ nat, filter }), { nat: [], filter: [] });
});

test('cleanup deletes every jump into our chains, whatever its form, then the chains', () => {
  const saved = {
    nat: '*nat\n-A PREROUTING -j KUBE-PORTALS-CONTAINER\n-A OUTPUT -m comment --comment "x" -j KUBE-PORTALS-HOST\n-A PREROUTING -j OTHER\nCOMMIT\n',
    filter: '',
  };
  const text = renderCleanup(saved);
  assert.match(text, /^-D PREROUTING -j KUBE-PORTALS-CONTAINER$/m);
  assert.match(text, /^-D OUTPUT -m comment --comment "x" -j KUBE-PORTALS-HOST$/m);
  assert.doesNotMatch(text, /OTHER/);
  assert.match(text, /^-X KUBE-NODEPORT-NON-LOCAL$/m);
});

test('the rules load with iptables-restore in a namespace, resync idempotently and clean up completely', async (t) => {
  const ns = `kpx-${randomBytes(3).toString('hex')}-usrules`;
  await addNamespace(ns);
  t.after(() => deleteNamespace(ns));
  const ipt = new Iptables({ family: 'IPv4', netns: ns });
  const plan = planListeners(state);
  const save = async () => ({ nat: await ipt.save('nat'), filter: await ipt.save('filter') });
  const first = renderPortalRules(plan.targets, portsFor(), ruleOpts, missingJumpLines(await save()));
  // --test first: iptables-restore parses and checks the input without committing it.
  await execIn(ns, await ipt.binary('-restore'), ['--test', '--noflush'], { input: first });
  assert.doesNotMatch(await ipt.save('nat'), /KUBE-PORTALS/, '--test committed nothing');
  await ipt.restore(first, { noFlush: true });
  // Twice more: jumps are not duplicated, chains are rewritten not appended.
  for (let i = 0; i < 2; i++) await ipt.restore(renderPortalRules(plan.targets, portsFor(), ruleOpts, missingJumpLines(await save())), { noFlush: true });
  const after = await save();
  for (const j of JUMPS) {
    const count = after[j.table].split('\n').filter((l) => l.startsWith(`-A ${j.chain} `) && l.endsWith(`-j ${j.target}`)).length;
    assert.equal(count, 1, `one jump ${j.chain} → ${j.target}`);
  }
  const natRules = after.nat.split('\n').filter((l) => l.startsWith('-A KUBE-'));
  assert.equal(natRules.length, GOLDEN.split('\n').filter((l) => l.startsWith('-A KUBE-') && !l.includes('NON-LOCAL')).length);
  assert.ok(after.nat.includes('-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 40003'),
    'iptables-save prints the rule exactly as rendered');
  // The first PREROUTING rule is the portal jump, the last the node-port one.
  const pre = after.nat.split('\n').filter((l) => l.startsWith('-A PREROUTING '));
  assert.ok(pre[0].endsWith('-j KUBE-PORTALS-CONTAINER') && pre[pre.length - 1].endsWith('-j KUBE-NODEPORT-CONTAINER'));

  await ipt.restore(renderCleanup(await save()), { noFlush: true });
  const clean = await save();
  assert.doesNotMatch(clean.nat + clean.filter, /KUBE-(PORTALS|NODEPORT)/);
  // Cleanup of a clean table is valid too.
  await ipt.restore(renderCleanup(clean), { noFlush: true });
});

test('the backend against a real iptables: init, sync, resync, cleanup leave nothing behind', async (t) => {
  const { UserspaceBackend } = await import('../../../modes/userspace/backend.js');
  const { defaultConfig } = await import('../../../src/config/types.js');
  const { memoryLogger } = await import('../../support/logger.js');
  const ns = `kpx-${randomBytes(3).toString('hex')}-usbackend`;
  await addNamespace(ns);
  t.after(() => deleteNamespace(ns));
  const ipt = new Iptables({ family: 'IPv4', netns: ns });
  const config = defaultConfig();
  config.bindAddress = '127.0.0.1'; // listeners bind on this process's loopback; only the rules go to the namespace
  const backend = new UserspaceBackend({ ...modeOptions('userspace', { config, log: memoryLogger() }), iptables: ipt, workerThreads: 0 });
  t.after(() => backend.close());
  assert.equal(await backend.hasLeftovers(), false);
  await backend.init();
  const st = proxyState([dns]);
  assert.deepEqual(await backend.sync(st, { full: true, services: new Set() }), { ok: true });
  assert.deepEqual(await backend.sync(st, { full: true, services: new Set() }), { ok: true });
  const nat = await ipt.save('nat');
  const port = backend.listeners.get('default/dns|UDP|portal')!.port;
  assert.ok(nat.includes(`-A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "default/dns" -m udp --dport 53 -j DNAT --to-destination 127.0.0.1:${port}`), nat);
  assert.equal(nat.split('\n').filter((l) => l.endsWith('-j KUBE-PORTALS-CONTAINER')).length, 1, 'a full resync does not duplicate jumps');
  assert.equal(await backend.hasLeftovers(), true);
  await backend.cleanup();
  assert.equal(await backend.hasLeftovers(), false);
  assert.doesNotMatch(await ipt.save('nat') + await ipt.save('filter'), /KUBE-/);
});
