import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getChain, parseIptablesDump } from '../../../src/net/iptables-dump.js';
import { tracePacket } from '../../../src/trace/tracer.js';
import { OVERALL_RESTORE_INPUT, OVERALL_SAVED } from './fixtures-saved.js';

const NODE_IPS = ['192.168.0.2', '192.168.1.2', '192.168.99.11'];

test('real iptables-save output parses cleanly, reformatted fields included', () => {
  const d = parseIptablesDump(OVERALL_SAVED);
  assert.deepEqual(d.warnings, []);
  assert.ok(d.tables.every((t) => t.committed));
  assert.equal(getChain(d, 'filter', 'INPUT')?.policy, 'ACCEPT');
  assert.deepEqual(getChain(d, 'nat', 'KUBE-MARK-MASQ')?.rules[0].markAction, { op: 'set-xmark', value: '0x4000/0x4000' });
  const sep = getChain(d, 'nat', 'KUBE-SEP-I77PXRDZVX7PMWMN')!.rules[1];
  assert.deepEqual(sep.recent, { set: true, name: 'KUBE-SEP-I77PXRDZVX7PMWMN', mask: '255.255.255.255', rsource: true });
  assert.equal(sep.dnatDestination, '10.180.0.3:80');
  const svc = getChain(d, 'nat', 'KUBE-SVC-4SW47YFZTEDKD3PK')!.rules;
  assert.equal(svc.find((r) => r.statistic)?.statistic?.probability, '0.50000000000');
  assert.equal(getChain(d, 'nat', 'KUBE-SERVICES')!.rules[0].destination?.value.endsWith('/32'), true);
});

test('the tracer gives the same answer on the restore input and on what the kernel saved', () => {
  const restored = parseIptablesDump(OVERALL_RESTORE_INPUT);
  const saved = parseIptablesDump(OVERALL_SAVED);
  const sources = ['10.0.0.2', '10.180.0.3', '192.168.0.2', '127.0.0.1', '203.0.113.2', '203.0.113.130'];
  const dests = ['172.30.0.41', '172.30.0.42', '172.30.0.44', '172.30.0.45', '172.30.0.46', '192.168.99.22', '192.168.99.33',
    '1.2.3.4', '5.6.7.8', '192.168.0.2', '127.0.0.1', '10.0.0.3'];
  const ports = [80, 3001, 3002, 3003, 30000];
  let answered = 0;
  for (const src of sources) for (const dst of dests) for (const dport of ports) for (const proto of ['tcp', 'udp']) {
    const p = { src, proto, dst, dport };
    const a = tracePacket(restored, p, NODE_IPS);
    const b = tracePacket(saved, p, NODE_IPS);
    assert.equal(b.output, a.output, `output for ${JSON.stringify(p)}`);
    assert.equal(b.masq, a.masq, `masq for ${JSON.stringify(p)}`);
    if (a.output) answered++;
  }
  assert.ok(answered > 40, `the grid exercises real paths (${answered} packets matched something)`);
});
