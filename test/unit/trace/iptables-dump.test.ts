import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dumpToString, getChain, parseIptablesDump, parseRule, ruleToString, tokenize } from '../../../src/net/iptables-dump.js';
import { STATIC_RULES } from './fixtures.js';

function rule(line: string) {
  const r = parseRule(line);
  assert.ok(r, `not parsed: ${line}`);
  return r;
}

test('iptables-save output parses into tables, chains with policies and counters, and rules', () => {
  const d = parseIptablesDump(STATIC_RULES);
  assert.deepEqual(d.tables.map((t) => t.name), ['filter', 'nat']);
  assert.ok(d.tables.every((t) => t.committed));
  const pre = getChain(d, 'nat', 'PREROUTING');
  assert.equal(pre?.policy, 'ACCEPT');
  assert.equal(getChain(d, 'nat', 'KUBE-SERVICES')?.policy, '-');
  assert.equal(getChain(d, 'nat', 'KUBE-SERVICES')?.rules.length, 11);
  assert.equal(getChain(d, 'filter', 'KUBE-FORWARD')?.rules.length, 3);
  assert.deepEqual(d.warnings, []);
});

test('every rule of a kube-proxy ruleset prints back exactly as written', () => {
  for (const line of STATIC_RULES.split('\n').filter((l) => l.startsWith('-A '))) {
    assert.equal(ruleToString(rule(line)), line);
  }
});

test('a whole dump round-trips through dumpToString', () => {
  const once = dumpToString(parseIptablesDump(STATIC_RULES));
  assert.equal(dumpToString(parseIptablesDump(once)), once);
  for (const line of STATIC_RULES.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':'))) {
    assert.ok(once.includes(line), `lost: ${line}`);
  }
});

test('address, protocol, port and addrtype matches are typed, with negation', () => {
  const r = rule('-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ');
  assert.deepEqual(r.destination, { value: '172.30.0.41', negated: false });
  assert.deepEqual(r.source, { value: '10.0.0.0/8', negated: true });
  assert.deepEqual(r.protocol, { value: 'tcp', negated: false });
  assert.deepEqual(r.destinationPort, { value: '80', negated: false });
  assert.equal(r.comment, 'ns1/svc1:p80 cluster IP');
  assert.deepEqual(r.modules, ['comment', 'tcp']);
  assert.equal(r.jump, 'KUBE-MARK-MASQ');
  const t = rule('-A KUBE-EXT-X -m addrtype ! --src-type LOCAL -m addrtype --dst-type LOCAL -i eth0 ! -o lo --sport 1000:2000 -j KUBE-SVC-X');
  assert.deepEqual(t.sourceType, { value: 'LOCAL', negated: true });
  assert.deepEqual(t.destinationType, { value: 'LOCAL', negated: false });
  assert.deepEqual(t.inInterface, { value: 'eth0', negated: false });
  assert.deepEqual(t.outInterface, { value: 'lo', negated: true });
  assert.deepEqual(t.sourcePort, { value: '1000:2000', negated: false });
  const old = rule('-A X -s ! 1.2.3.4 -j DROP');
  assert.deepEqual(old.source, { value: '1.2.3.4', negated: true });
});

test('mark, conntrack, recent and statistic matches are typed', () => {
  const m = rule('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN');
  assert.deepEqual(m.mark, { value: '0x4000/0x4000', negated: true });
  assert.equal(m.jump, 'RETURN');
  const c = rule('-A KUBE-FIREWALL -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP');
  assert.deepEqual(c.ctstate, { value: 'RELATED,ESTABLISHED,DNAT', negated: true });
  const check = rule('-A KUBE-SVC-X -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-Y --rcheck --seconds 10800 --reap -j KUBE-SEP-Y');
  assert.deepEqual(check.recent, { name: 'KUBE-SEP-Y', rcheck: true, seconds: 10800, reap: true });
  const set = rule('-A KUBE-SEP-Y -p tcp -m recent --set --name KUBE-SEP-Y --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80');
  assert.deepEqual(set.recent, { set: true, name: 'KUBE-SEP-Y', mask: '255.255.255.255', rsource: true });
  assert.equal(set.dnatDestination, '10.180.0.3:80');
  assert.deepEqual(set.targetArgs, ['--to-destination', '10.180.0.3:80']);
  const s = rule('-A KUBE-SVC-X -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A');
  assert.deepEqual(s.statistic, { mode: 'random', probability: '0.33333333349' });
});

test('targets keep their arguments: DNAT, REDIRECT, MARK, MASQUERADE, REJECT, goto', () => {
  assert.equal(rule('-A X -p tcp -j DNAT --to-destination [fd00:10::1]:8080').dnatDestination, '[fd00:10::1]:8080');
  assert.equal(rule('-A KUBE-PORTALS-CONTAINER -d 172.30.0.1/32 -p tcp -j REDIRECT --to-ports 36123').redirectPorts, '36123');
  assert.deepEqual(rule('-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000').markAction, { op: 'or-mark', value: '0x4000' });
  assert.deepEqual(rule('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000').markAction, { op: 'set-xmark', value: '0x4000/0x4000' });
  const masq = rule('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully');
  assert.equal(masq.jump, 'MASQUERADE');
  assert.equal(masq.randomFully, true);
  assert.deepEqual(masq.targetArgs, ['--random-fully']);
  const rej = rule('-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable');
  assert.equal(rej.rejectWith, 'icmp-port-unreachable');
  const g = rule('-A X -g Y');
  assert.equal(g.jump, 'Y');
  assert.equal(g.goto, true);
});

test('unknown options are kept verbatim, never fatal', () => {
  const r = rule('-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts --weird a b ! --other -j KUBE-EXT-X');
  assert.deepEqual(r.unknown, ['--nfacct-name', 'localhost_nps_accepted_pkts', '--weird', 'a', 'b', '!', '--other']);
  assert.equal(r.jump, 'KUBE-EXT-X');
  assert.equal(ruleToString(r), r.raw);
  const dangling = rule('-A X -p');
  assert.deepEqual(dangling.unknown, ['-p']);
});

test('iptables-save formatting (/32 hosts, module order, escaped quotes) is understood', () => {
  const r = rule('-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "say \\"hi\\" ns1/svc1:p80" -m tcp --dport 80 -j KUBE-SVC-X');
  assert.equal(r.comment, 'say "hi" ns1/svc1:p80');
  assert.equal(r.destination?.value, '172.30.0.41/32');
  assert.equal(ruleToString(r), r.raw);
  const withCounters = parseIptablesDump('*nat\n:PREROUTING ACCEPT [12:720]\n[3:180] -A PREROUTING -j KUBE-SERVICES\nCOMMIT\n');
  const pre = getChain(withCounters, 'nat', 'PREROUTING');
  assert.equal(pre?.packets, 12);
  assert.equal(pre?.bytes, 720);
  assert.equal(pre?.rules[0].counters, '3:180');
  assert.equal(pre?.rules[0].jump, 'KUBE-SERVICES');
});

test('iptables-restore input: -X, -F, -I with a position, -N and chains used without declaration', () => {
  const d = parseIptablesDump([
    '*nat',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-SVC-OLD - [0:0]',
    '-A KUBE-SERVICES -j A1',
    '-A KUBE-SERVICES -j A2',
    '-I KUBE-SERVICES -j FIRST',
    '-I KUBE-SERVICES 2 -j SECOND',
    '-X KUBE-SVC-OLD',
    '-N KUBE-NEW',
    '-A PREROUTING -j KUBE-SERVICES',
    '-A KUBE-FLUSHME -j X',
    '-F KUBE-FLUSHME',
    'COMMIT',
  ].join('\n'));
  assert.deepEqual(d.warnings, []);
  assert.deepEqual(getChain(d, 'nat', 'KUBE-SERVICES')?.rules.map((r) => r.jump), ['FIRST', 'SECOND', 'A1', 'A2']);
  assert.equal(getChain(d, 'nat', 'KUBE-SERVICES')?.rules[1].position, 2);
  assert.equal(ruleToString(getChain(d, 'nat', 'KUBE-SERVICES')!.rules[1]), '-I KUBE-SERVICES 2 -j SECOND');
  assert.equal(getChain(d, 'nat', 'KUBE-SVC-OLD')?.deleted, true);
  assert.equal(getChain(d, 'nat', 'KUBE-NEW')?.declared, true);
  assert.equal(getChain(d, 'nat', 'PREROUTING')?.declared, false);
  assert.equal(getChain(d, 'nat', 'KUBE-FLUSHME')?.flushed, true);
  assert.equal(getChain(d, 'nat', 'KUBE-FLUSHME')?.rules.length, 0);
  const out = dumpToString(d);
  assert.match(out, /^-X KUBE-SVC-OLD$/m);
  assert.doesNotMatch(out, /^:PREROUTING/m);
});

test('bad input gives warnings, not exceptions', () => {
  const d = parseIptablesDump('junk before a table\n*nat\n:\n-Z what\n-A\nCOMMIT\n*filter\n-A X -j Y\n');
  assert.ok(d.warnings.length >= 4, d.warnings.join('\n'));
  assert.ok(d.warnings.some((w) => w.includes('no COMMIT')));
  assert.equal(getChain(d, 'filter', 'X')?.rules.length, 1);
});

test('the tokenizer groups quotes and keeps empty quoted words', () => {
  assert.deepEqual(tokenize('-A X -m comment --comment "a b" --x \'c d\' ""'), ['-A', 'X', '-m', 'comment', '--comment', 'a b', '--x', 'c d', '']);
  assert.deepEqual(tokenize('  -A   X  '), ['-A', 'X']);
  assert.deepEqual(tokenize('-A X --comment "unterminated'), ['-A', 'X', '--comment', 'unterminated']);
});

test('property: parsing never throws, on any text', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    parseIptablesDump(s);
    parseIptablesDump(`*nat\n${s}\nCOMMIT\n`);
  }), { numRuns: 500 });
});

test('property: any token list prints and parses back to the same tokens', () => {
  const token = fc.oneof(
    fc.constantFrom('-s', '-d', '!', '-p', 'tcp', '-m', 'comment', '--comment', '-j', 'DNAT', '--to-destination', '--dport', '--probability', '--rcheck', '--name', '-g'),
    fc.string({ maxLength: 12 }),
  );
  fc.assert(fc.property(fc.array(token, { maxLength: 14 }), (args) => {
    const r = parseRule(`-A CHAIN ${args.map((a) => (a === '' || /[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    assert.ok(r);
    const again = parseRule(ruleToString(r));
    assert.ok(again);
    assert.deepEqual(again.args, r.args);
    assert.equal(ruleToString(again), ruleToString(r));
  }), { numRuns: 500 });
});
