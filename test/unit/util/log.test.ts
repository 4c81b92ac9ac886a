import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { configureLogging, goQuote, log, parseVModule, resetLogging, setLogSink } from '../../../src/util/log.js';

interface KlogLine {
  level: string;
  month: number;
  day: number;
  time: string;
  threadId: number;
  file: string;
  line: number;
  msg: string;
  kv: Map<string, string>;
}

/** A Go-quoted string starting at text[i]: its value and the index after the closing quote. */
function readQuoted(text: string, i: number): { value: string; end: number } {
  assert.equal(text[i], '"', `a quoted string at ${i} in ${text}`);
  let j = i + 1;
  while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
  const raw = text.slice(i, j + 1).replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b').replace(/\\x([0-9a-f]{2})/g, '\\u00$1');
  return { value: JSON.parse(raw) as string, end: j + 1 };
}

/** parseKlog: klog's text header and key=value pairs, as log pipelines' klog parsers read them. */
function parseKlog(text: string): KlogLine {
  const m = /^([IWEF])(\d{2})(\d{2}) (\d{2}:\d{2}:\d{2}\.\d{6}) +(\d+) ([^ :\]]+):(\d+)\] /.exec(text);
  assert.ok(m, `a klog header: ${text}`);
  const { value: msg, end } = readQuoted(text, m[0].length);
  const kv = new Map<string, string>();
  let i = end;
  while (i < text.length) {
    assert.equal(text[i], ' ', `a space before each pair in ${text}`);
    const eq = text.indexOf('=', i);
    const key = text.slice(i + 1, eq);
    assert.match(key, /^[A-Za-z][A-Za-z0-9_]*$/);
    if (text[eq + 1] === '"') {
      const q = readQuoted(text, eq + 1);
      kv.set(key, q.value);
      i = q.end;
    } else if (text.startsWith('<\n', eq + 1)) {
      const close = text.indexOf('\n >', eq);
      kv.set(key, text.slice(eq + 3, close).split('\n').map((l) => l.replace(/^\t/, '')).join('\n'));
      i = close + 3;
    } else if (text[eq + 1] === '[') {
      const close = text.indexOf(']', eq);
      kv.set(key, text.slice(eq + 1, close + 1));
      i = close + 1;
    } else {
      const next = text.indexOf(' ', eq);
      const stop = next < 0 ? text.length : next;
      kv.set(key, text.slice(eq + 1, stop));
      i = stop;
    }
  }
  return { level: m[1], month: Number(m[2]), day: Number(m[3]), time: m[4], threadId: Number(m[5]), file: m[6], line: Number(m[7]), msg, kv };
}

function capture(t: TestContext): string[] {
  const lines: string[] = [];
  const prev = setLogSink({ write: (l) => lines.push(l) });
  t.after(() => { setLogSink(prev); resetLogging(); });
  return lines;
}

test('text lines are klog lines: level letter, date, microseconds, pid, caller, quoted message and values', (t) => {
  const lines = capture(t);
  const before = new Date();
  log.child({ component: 'proxier' }).info('Using iptables Proxier', { family: 'IPv4', count: 3, ok: true, note: 'say "hi"\there' });
  const l = parseKlog(lines[0]);
  assert.equal(l.level, 'I');
  assert.equal(l.month, before.getMonth() + 1);
  assert.equal(l.day, before.getDate());
  assert.equal(l.threadId, process.pid);
  assert.equal(l.file, 'log.test.ts', 'the caller is the file that logged, not log.ts');
  assert.ok(l.line > 0);
  assert.equal(l.msg, 'Using iptables Proxier');
  assert.deepEqual([...l.kv], [['component', 'proxier'], ['family', 'IPv4'], ['count', '3'], ['ok', 'true'], ['note', 'say "hi"\there']]);
  assert.match(lines[0], / family="IPv4" count=3 ok=true /, 'strings quoted, numbers and booleans bare');
});

test('the pid field is padded to seven columns as klog pads its thread id', (t) => {
  const lines = capture(t);
  log.warn('x');
  assert.match(lines[0], new RegExp(`^W\\d{4} \\d{2}:\\d{2}:\\d{2}\\.\\d{6} ${String(process.pid).padStart(7, ' ')} `));
});

test('an error line puts the error first as err, like klog.ErrorS', (t) => {
  const lines = capture(t);
  log.child({ mode: 'iptables' }).error('Failed to execute iptables-restore', { family: 'IPv6', error: new Error('exit status 1') });
  const l = parseKlog(lines[0]);
  assert.equal(l.level, 'E');
  assert.deepEqual([...l.kv.keys()], ['err', 'mode', 'family']);
  assert.equal(l.kv.get('err'), 'exit status 1');
});

test('multi-line values use klog\'s key=<...> block and lists print as Go slices', (t) => {
  const lines = capture(t);
  log.info('rules', { rules: '*nat\nCOMMIT\n', cidrs: ['10.0.0.0/8', 'fd00::/8'] });
  const l = parseKlog(lines[0]);
  assert.equal(l.kv.get('rules'), '*nat\nCOMMIT');
  assert.equal(l.kv.get('cidrs'), '[10.0.0.0/8 fd00::/8]');
});

test('json lines carry component-base\'s keys: ts in epoch milliseconds, caller, msg, v, then the fields', (t) => {
  const lines = capture(t);
  configureLogging({ format: 'json', verbosity: 2 });
  const before = Date.now();
  log.v(2).child({ component: 'proxier' }).info('SyncProxyRules complete', { elapsed: '12ms', family: 'IPv4' });
  const obj = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj), ['ts', 'caller', 'msg', 'v', 'component', 'elapsed', 'family']);
  assert.ok(typeof obj.ts === 'number' && obj.ts >= before - 1 && obj.ts <= Date.now() + 1);
  assert.match(obj.caller as string, /^util\/log\.test\.ts:\d+$/);
  assert.equal(obj.msg, 'SyncProxyRules complete');
  assert.equal(obj.v, 2);
});

test('json error lines have no v and end with err', (t) => {
  const lines = capture(t);
  configureLogging({ format: 'json' });
  log.error('Failed to execute iptables-restore', { err: new Error('boom'), family: 'IPv4' });
  const obj = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj), ['ts', 'caller', 'msg', 'family', 'err']);
  assert.equal(obj.err, 'boom');
});

test('-v hides detail above the verbosity; errors always print', (t) => {
  const lines = capture(t);
  configureLogging({ verbosity: 1 });
  log.v(2).info('hidden');
  log.v(1).info('shown');
  log.v(5).error('an error');
  assert.deepEqual(lines.map((l) => parseKlog(l).msg), ['shown', 'an error']);
});

test('--vmodule raises the level for a matching component or source file', (t) => {
  const lines = capture(t);
  configureLogging({ vmodule: parseVModule('prox*=4,log.test=2') });
  log.child({ component: 'proxier' }).v(4).info('by component');
  log.child({ component: 'events' }).v(3).info('hidden');
  log.v(2).info('by file');
  log.v(3).info('hidden too');
  assert.deepEqual(lines.map((l) => parseKlog(l).msg), ['by component', 'by file']);
});

test('a malformed --vmodule entry is an error', () => {
  assert.throws(() => parseVModule('proxier'), /syntax error/);
  assert.throws(() => parseVModule('proxier=x'), /syntax error/);
  assert.deepEqual(parseVModule('').length, 0);
});

test('goQuote escapes as Go\'s strconv.Quote', () => {
  assert.equal(goQuote('a"b\\c\n\x01é'), '"a\\"b\\\\c\\n\\x01é"');
});
