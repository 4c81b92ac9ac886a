import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTraceArgs, runTrace } from '../../../src/cli/trace-command.js';
import { EXTERNAL_CLIENT_BLOCKED, NODE_IP, STATIC_RULES } from './fixtures.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    deps: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      hostAddresses: () => [NODE_IP, '192.168.1.2'],
    },
  };
}

async function withDumpFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kpx-trace-'));
  try {
    const path = join(dir, 'rules.txt');
    await writeFile(path, STATIC_RULES);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('kpx trace --from-file prints the path, every endpoint, the verdict and masquerading', async () => {
  await withDumpFile(async (path) => {
    const c = capture();
    const code = await runTrace(['10.0.0.2', '172.30.0.44:80', '--from-file', path], c.deps);
    assert.equal(code, 0, c.err.join(''));
    const text = c.out.join('');
    assert.match(text, /enters nat PREROUTING/);
    assert.match(text, /nat\/KUBE-SVC-SVC4HASH0000000/);
    assert.match(text, /random choice: jump to KUBE-SEP-EP4/);
    assert.match(text, /endpoints: 10\.180\.0\.4:80, 10\.180\.0\.5:80/);
    assert.match(text, /verdict: DNAT to one of 2 endpoints/);
    assert.match(text, /masquerade: no/);
  });
});

test('kpx trace from a node address enters nat OUTPUT and reports masquerading', async () => {
  await withDumpFile(async (path) => {
    const c = capture();
    assert.equal(await runTrace([NODE_IP, '172.30.0.41:80/tcp', `--from-file=${path}`], c.deps), 0);
    const text = c.out.join('');
    assert.match(text, /enters nat OUTPUT/);
    assert.match(text, /masquerade: yes/);
  });
});

test('kpx trace --json gives the verdict of a blocked LB client', async () => {
  await withDumpFile(async (path) => {
    const c = capture();
    assert.equal(await runTrace([EXTERNAL_CLIENT_BLOCKED, '5.6.7.8:80', '--from-file', path, '--json', '--node-ip', '192.168.0.2,192.168.1.2'], c.deps), 0);
    const j = JSON.parse(c.out.join('')) as { output: string; verdicts: string[]; masquerade: boolean; nodeIPs: string[]; natChain: string };
    assert.equal(j.output, 'DROP');
    assert.deepEqual(j.verdicts, ['DROP']);
    assert.equal(j.masquerade, false);
    assert.deepEqual(j.nodeIPs, ['192.168.0.2', '192.168.1.2']);
    assert.equal(j.natChain, 'PREROUTING');
  });
});

test('kpx trace of UDP uses the UDP rules', async () => {
  await withDumpFile(async (path) => {
    const c = capture();
    assert.equal(await runTrace(['10.0.0.2', '172.30.0.47:53/udp', '--from-file', path, '--json'], c.deps), 0);
    assert.equal((JSON.parse(c.out.join('')) as { output: string }).output, '10.180.0.7:5353');
  });
});

test('bad arguments give one clear line and exit status 2', async () => {
  const cases: [string[], RegExp][] = [
    [[], /expected <src> and <dst>:<port>/],
    [['10.0.0.2'], /expected <src> and <dst>:<port>/],
    [['nope', '1.2.3.4:80'], /source "nope" is not an IP address/],
    [['10.0.0.2', '1.2.3.4'], /has no port/],
    [['10.0.0.2', '1.2.3.4:99999'], /port "99999" is not 1-65535/],
    [['10.0.0.2', '1.2.3.4:80/icmp'], /protocol "icmp"/],
    [['10.0.0.2', 'fd00::1:80'], /write IPv6 destinations as \[addr\]:port/],
    [['10.0.0.2', '[fd00::1]:80'], /different IP families/],
    [['10.0.0.2', '1.2.3.4:80', '--bogus'], /unknown option --bogus/],
    [['10.0.0.2', '1.2.3.4:80', '--from-file'], /--from-file needs a value/],
    [['10.0.0.2', '1.2.3.4:80', '--node-ip', 'x'], /--node-ip "x" is not an IP address/],
  ];
  for (const [argv, re] of cases) {
    const c = capture();
    assert.equal(await runTrace(argv, c.deps), 2, argv.join(' '));
    const err = c.err.join('');
    assert.match(err, re);
    assert.equal(err.trim().split('\n').length, 1, `one line for ${argv.join(' ')}`);
  }
});

test('an unreadable dump exits 1 with a message', async () => {
  const c = capture();
  assert.equal(await runTrace(['10.0.0.2', '1.2.3.4:80', '--from-file', '/nonexistent/kpx-rules'], c.deps), 1);
  assert.match(c.err.join(''), /cannot read the rules/);
  const c2 = capture();
  assert.equal(await runTrace(['10.0.0.2', '1.2.3.4:80', '--from-file', '-'], { ...c2.deps, readStdin: async () => 'not a dump' }), 1);
  assert.match(c2.err.join(''), /no nat table/);
});

test('without --from-file the live rules come from iptables-save (ip6tables-save for IPv6)', async () => {
  const calls: string[] = [];
  const c = capture();
  const exec = async (cmd: string) => { calls.push(cmd); return { stdout: STATIC_RULES, stderr: '', code: 0 }; };
  assert.equal(await runTrace(['10.0.0.2', '172.30.0.41:80'], { ...c.deps, exec }), 0);
  assert.equal(await runTrace(['fd00::2', '[fd00:172::1]:80'], { ...c.deps, exec }), 0);
  assert.deepEqual(calls, ['iptables-save', 'ip6tables-save']);
});

test('--help prints the usage', async () => {
  const c = capture();
  assert.equal(await runTrace(['--help'], c.deps), 0);
  assert.match(c.out.join(''), /usage: kpx trace/);
  assert.equal(parseTraceArgs(['::2', '[::1]:80/sctp']).packet.proto, 'sctp');
});
