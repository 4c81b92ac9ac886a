import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIptablesDump } from '../../../src/net/iptables-dump.js';
import { tracePacket } from '../../../src/trace/tracer.js';
import { explainTrace } from '../../../src/trace/explain.js';
import { EXTERNAL_CLIENT, EXTERNAL_CLIENT_BLOCKED, NODE_IP, NODE_IPS, STATIC_RULES } from './fixtures.js';

const dump = parseIptablesDump(STATIC_RULES);

interface Flow { name: string; src: string; proto?: string; dst: string; dport: number; output: string; masq?: boolean }

function runFlows(flows: Flow[]): void {
  for (const f of flows) {
    test(`tracer: ${f.name}`, () => {
      const r = tracePacket(dump, { src: f.src, proto: f.proto ?? 'tcp', dst: f.dst, dport: f.dport }, NODE_IPS);
      assert.equal(r.output, f.output, `output of ${f.name}; matched:\n${r.matched.join('\n')}`);
      assert.equal(r.masq, f.masq ?? false, `masq of ${f.name}; matched:\n${r.matched.join('\n')}`);
    });
  }
}

test('the static ruleset parses without warnings', () => {
  assert.deepEqual(dump.warnings, []);
});

runFlows([
  { name: 'a packet no rule is about matches nothing', src: '10.0.0.2', dst: '10.0.0.3', dport: 80, output: '' },
  { name: 'a pod reaches the single endpoint of a ClusterIP unmasqueraded', src: '10.0.0.2', dst: '172.30.0.41', dport: 80, output: '10.180.0.1:80' },
  { name: 'a random choice collects every endpoint', src: '10.0.0.2', dst: '172.30.0.44', dport: 80, output: '10.180.0.4:80, 10.180.0.5:80' },
  { name: 'the node reaching a ClusterIP is masqueraded', src: NODE_IP, dst: '172.30.0.41', dport: 80, output: '10.180.0.1:80', masq: true },
  { name: 'a LOCAL source to an eTP=Local external IP is masqueraded and routed', src: NODE_IP, dst: '192.168.99.22', dport: 80, output: '10.180.0.2:80', masq: true },
  { name: 'an external client to an eTP=Local external IP without local endpoints is dropped', src: EXTERNAL_CLIENT, dst: '192.168.99.22', dport: 80, output: 'DROP' },
  { name: 'an external client to the eTP=Local NodePort without local endpoints is dropped', src: EXTERNAL_CLIENT, dst: NODE_IP, dport: 3001, output: 'DROP' },
  { name: 'a pod to an eTP=Local LB IP is short-circuited to the service', src: '10.0.0.2', dst: '1.2.3.4', dport: 80, output: '10.180.0.2:80' },
  { name: 'the health check node port is accepted', src: NODE_IP, dst: NODE_IP, dport: 30000, output: 'ACCEPT' },
  { name: 'a service without endpoints rejects', src: '10.0.0.2', dst: '172.30.0.46', dport: 80, output: 'REJECT' },
  { name: 'an allowed source reaches an LB with source ranges, masqueraded', src: EXTERNAL_CLIENT, dst: '5.6.7.8', dport: 80, output: '10.180.0.3:80', masq: true },
  { name: 'a blocked source to an LB with source ranges is dropped', src: EXTERNAL_CLIENT_BLOCKED, dst: '5.6.7.8', dport: 80, output: 'DROP' },
  { name: 'a NodePort bypasses the LB source ranges', src: EXTERNAL_CLIENT_BLOCKED, dst: NODE_IP, dport: 3002, output: '10.180.0.3:80', masq: true },
  { name: 'an affinity check never matches, so the endpoint is listed once', src: '10.0.0.2', dst: '172.30.0.45', dport: 80, output: '10.180.0.3:80' },
  { name: 'an endpoint reaching itself through its service is masqueraded (hairpin)', src: '10.180.0.1', dst: '172.30.0.41', dport: 80, output: '10.180.0.1:80', masq: true },
  { name: 'a UDP packet does not match a TCP-only service', src: '10.0.0.2', proto: 'udp', dst: '172.30.0.41', dport: 80, output: '' },
  { name: 'a UDP service maps to its target port', src: '10.0.0.2', proto: 'udp', dst: '172.30.0.47', dport: 53, output: '10.180.0.7:5353' },
  { name: 'a TCP packet does not match a UDP-only service', src: '10.0.0.2', proto: 'tcp', dst: '172.30.0.47', dport: 53, output: '' },
  { name: 'one service does not accept another service port', src: '10.0.0.2', dst: '172.30.0.41', dport: 443, output: '' },
  { name: 'localhost reaches a localhost NodePort, masqueraded', src: '127.0.0.1', dst: '127.0.0.1', dport: 3003, output: '10.180.0.3:80', masq: true },
  { name: 'a NodePort on the secondary node IP is served', src: EXTERNAL_CLIENT, dst: '192.168.1.2', dport: 3003, output: '10.180.0.3:80', masq: true },
  { name: 'a NodePort on an address that is not the node is not served', src: EXTERNAL_CLIENT, dst: '192.168.0.9', dport: 3003, output: '' },
]);

test('tracer: history checks (mark, ctstate) never match, so KUBE-FORWARD adds nothing', () => {
  const r = tracePacket(dump, { src: '10.0.0.2', proto: 'tcp', dst: '172.30.0.41', dport: 80 }, NODE_IPS);
  assert.deepEqual(r.verdicts, []);
  assert.equal(r.rewrittenDst, '10.180.0.1');
});

test('tracer: the steps record the chain path with depth and the random choice', () => {
  const r = tracePacket(dump, { src: '10.0.0.2', proto: 'tcp', dst: '172.30.0.44', dport: 80 }, NODE_IPS);
  const path = r.steps.map((s) => `${s.depth}:${s.chain}#${s.index}:${s.action}:${s.target}`);
  assert.deepEqual(path, [
    '0:PREROUTING#1:jump:KUBE-SERVICES',
    '1:KUBE-SERVICES#6:jump:KUBE-SVC-SVC4HASH0000000',
    '2:KUBE-SVC-SVC4HASH0000000#2:jump:KUBE-SEP-EP4',
    '3:KUBE-SEP-EP4#2:dnat:10.180.0.4:80',
    '2:KUBE-SVC-SVC4HASH0000000#3:jump:KUBE-SEP-EP5',
    '3:KUBE-SEP-EP5#2:dnat:10.180.0.5:80',
  ]);
  assert.equal(r.steps[2].probabilistic, true);
  assert.deepEqual(r.endpoints, ['10.180.0.4:80', '10.180.0.5:80']);
});

test('tracer: the explanation names the path, the endpoints, the verdict and masquerading', () => {
  const packet = { src: EXTERNAL_CLIENT, proto: 'tcp', dst: '5.6.7.8', dport: 80 };
  const text = explainTrace(packet, tracePacket(dump, packet, NODE_IPS));
  assert.match(text, /nat\/KUBE-FW-SVC5HASH0000000/);
  assert.match(text, /mark for masquerade/);
  assert.match(text, /endpoints: 10\.180\.0\.3:80/);
  assert.match(text, /verdict: DNAT to one endpoint/);
  assert.match(text, /masquerade: yes/);
  const blocked = { ...packet, src: EXTERNAL_CLIENT_BLOCKED };
  const text2 = explainTrace(blocked, tracePacket(dump, blocked, NODE_IPS));
  assert.match(text2, /verdict: DROP/);
  assert.match(text2, /endpoints: \(none\)/);
});

test('tracer: entering at nat OUTPUT gives the same answer for kube-proxy rules', () => {
  const r = tracePacket(dump, { src: NODE_IP, proto: 'tcp', dst: '172.30.0.44', dport: 80 }, NODE_IPS, { natChain: 'OUTPUT' });
  assert.equal(r.output, '10.180.0.4:80, 10.180.0.5:80');
  assert.equal(r.masq, true);
  assert.equal(r.steps[0].chain, 'OUTPUT');
});

const SEMANTICS = `
*nat
:PREROUTING ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
:LOOP - [0:0]
:IPSETS - [0:0]
-A PREROUTING -d 10.1.0.0/16 -j A
-A PREROUTING -d 10.2.0.1 -g B
-A PREROUTING -d 10.2.0.1 -j DNAT --to-destination 10.9.9.9:1
-A PREROUTING -d 10.3.0.1 -j LOOP
-A PREROUTING -d 10.4.0.1 -j IPSETS
-A PREROUTING -d 10.5.0.1 -p tcp -m multiport --dports 80,8000:8100 -j DNAT --to-destination 10.9.0.5:80
-A PREROUTING -d 10.6.0.1 -p udp --sport 53 -j DNAT --to-destination 10.9.0.6:53
-A PREROUTING -p tcp -d fd00:172:30::41 --dport 80 -j DNAT --to-destination [fd00:10:180::1]:80
-A PREROUTING -d 10.7.0.1 -p tcp -j REDIRECT --to-ports 36000
-A A -s 10.0.0.9 -j RETURN
-A A -j DNAT --to-destination 10.9.0.1:80
-A B -j C
-A C -j MARK --set-xmark 0x1/0x1
-A LOOP -j LOOP
-A IPSETS -m set --match-set KUBE-CLUSTER-IP dst,dst -j DNAT --to-destination 10.9.0.4:80
COMMIT
`;

test('tracer: RETURN leaves the chain without a verdict', () => {
  const d = parseIptablesDump(SEMANTICS);
  assert.equal(tracePacket(d, { src: '10.0.0.9', proto: 'tcp', dst: '10.1.0.1', dport: 80 }, []).output, '');
  assert.equal(tracePacket(d, { src: '10.0.0.8', proto: 'tcp', dst: '10.1.0.1', dport: 80 }, []).output, '10.9.0.1:80');
});

test('tracer: a goto that falls off its chain ends the calling chain too', () => {
  const d = parseIptablesDump(SEMANTICS);
  const r = tracePacket(d, { src: '10.0.0.8', proto: 'tcp', dst: '10.2.0.1', dport: 80 }, []);
  assert.equal(r.output, '');
  assert.ok(r.steps.some((s) => s.action === 'goto'));
});

test('tracer: a jump loop is cut off with a note instead of hanging', () => {
  const d = parseIptablesDump(SEMANTICS);
  const r = tracePacket(d, { src: '10.0.0.8', proto: 'tcp', dst: '10.3.0.1', dport: 80 }, []);
  assert.equal(r.output, '');
  assert.ok(r.notes.some((n) => n.includes('loop')));
});

test('tracer: ipset matches use given contents and never match unknown sets', () => {
  const d = parseIptablesDump(SEMANTICS);
  const pkt = { src: '10.0.0.8', proto: 'tcp', dst: '10.4.0.1', dport: 80 };
  const unknown = tracePacket(d, pkt, []);
  assert.equal(unknown.output, '');
  assert.ok(unknown.notes.some((n) => n.includes('KUBE-CLUSTER-IP')));
  const sets = new Map([['KUBE-CLUSTER-IP', ['10.4.0.1,tcp:80']]]);
  assert.equal(tracePacket(d, pkt, [], { ipsets: sets }).output, '10.9.0.4:80');
  assert.equal(tracePacket(d, { ...pkt, dport: 81 }, [], { ipsets: sets }).output, '');
});

test('tracer: multiport lists and ranges, source ports, IPv6 and REDIRECT', () => {
  const d = parseIptablesDump(SEMANTICS);
  const t = (dst: string, dport: number, proto = 'tcp', sport?: number) => tracePacket(d, { src: '10.0.0.8', proto, dst, dport, sport }, []);
  assert.equal(t('10.5.0.1', 80).output, '10.9.0.5:80');
  assert.equal(t('10.5.0.1', 8050).output, '10.9.0.5:80');
  assert.equal(t('10.5.0.1', 81).output, '');
  const noSport = t('10.6.0.1', 9, 'udp');
  assert.equal(noSport.output, '10.9.0.6:53', 'without a source port a --sport rule is assumed to match');
  assert.ok(noSport.notes.some((n) => n.includes('source port')));
  assert.equal(t('10.6.0.1', 9, 'udp', 53).output, '10.9.0.6:53');
  assert.equal(t('10.6.0.1', 9, 'udp', 54).output, '');
  const v6 = tracePacket(d, { src: 'fd00:10::2', proto: 'tcp', dst: 'fd00:172:30:0::41', dport: 80 }, []);
  assert.equal(v6.output, '[fd00:10:180::1]:80');
  assert.equal(v6.rewrittenDst, 'fd00:10:180::1');
  assert.equal(t('10.7.0.1', 80).output, 'REDIRECT:36000');
});
