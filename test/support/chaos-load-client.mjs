// chaos-load-client.mjs (test support): the chaos suite's continuous load, one long-lived process inside
// a client pod's namespace (`ip netns exec NS node chaos-load-client.mjs --expect-netns NS`).
// It sends a steady stream of HTTP GETs, a new TCP connection each with a short timeout, round-robin to
// several targets (ClusterIP services), and counts every request sent, answered and failed per target.
// Plain JavaScript so it starts in ~40 ms with no loader.
// Commands (stdin, one JSON a line, answered on stdout with the same id; see chaos-process.ts):
//   start {targets: [{name, addr, port}], ratePerSec, timeoutMs}   begin (or change) the load
//   report                                                          counts so far (in flight included)
//   drain                                                           stop sending, wait for in-flight, counts
//   reset                                                           zero the counts (keeps sending)
//   hold {targets, perTarget, intervalMs, timeoutMs}                open long-lived keep-alive connections
//   holdReport · holdReset · unhold                                 their counts (open, lost, failed) / close them
//   shutdown
// SAFETY: with --expect-netns it refuses to run anywhere but in that named namespace.
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

function emit(msg) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

const argv = process.argv.slice(2);
const ei = argv.indexOf('--expect-netns');
if (ei < 0) {
  process.stderr.write('chaos-load-client: --expect-netns NS is required\n');
  process.exit(2);
}
{
  const ns = argv[ei + 1];
  let want;
  try { want = statSync(`/run/netns/${ns}`).ino; } catch { process.stderr.write(`chaos-load-client: no namespace ${ns}\n`); process.exit(3); }
  if (statSync('/proc/self/ns/net').ino !== want) { process.stderr.write(`chaos-load-client: not inside ${ns}\n`); process.exit(3); }
}

let targets = [];
let ratePerSec = 100;
let timeoutMs = 1000;
let sending = false;
let inFlight = 0;
let nextTarget = 0;
let credit = 0;
let lastTick = Date.now();
let counts = new Map();
let failures = [];
const drainWaiters = [];

function bucket(name) {
  let c = counts.get(name);
  if (!c) { c = { sent: 0, ok: 0, failed: 0, stalled: 0, errors: {} }; counts.set(name, c); }
  return c;
}

// This process's own starvation. On a busy machine the client itself can be descheduled for longer than
// a request's timeout: its timers then fire late and every request in flight "times out" although the
// network path was fine (the SYN was never even sent, or the answer sat unread). The lag monitor
// measures how late a 10 ms timer fires; a timeout during which this process stalled for more than
// STALL_FRACTION of the timeout is counted as `stalled`, apart from `failed`, and reported.
const STALL_FRACTION = 0.3;
let loopStalls = [];
let lastBeat = Date.now();
setInterval(() => {
  const now = Date.now();
  const lag = now - lastBeat - 10;
  lastBeat = now;
  if (lag > 50) {
    loopStalls.push({ at: now, lag });
    if (loopStalls.length > 500) loopStalls = loopStalls.slice(-250);
  }
}, 10);

/** The longest stall of this process between two times. */
function stalledBetween(from, to) {
  let worst = 0;
  for (const s of loopStalls) if (s.at >= from && s.at - s.lag <= to) worst = Math.max(worst, s.lag);
  return worst;
}

function snapshot() {
  const perTarget = {};
  for (const t of targets) perTarget[t.name] = { ...bucket(t.name), errors: { ...bucket(t.name).errors } };
  for (const [name, c] of counts) if (!perTarget[name]) perTarget[name] = { ...c, errors: { ...c.errors } };
  const worstStall = loopStalls.reduce((m, s) => Math.max(m, s.lag), 0);
  return { perTarget, inFlight, failures: failures.slice(-60), worstStall, at: Date.now() };
}

function classify(err) {
  switch (err?.code) {
    case 'ECONNREFUSED': return 'refused';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'unreachable';
    case 'ECONNRESET': case 'EPIPE': return 'reset';
    default: return err?.code ?? 'error';
  }
}

function one(target) {
  const c = bucket(target.name);
  c.sent++;
  inFlight++;
  const started = Date.now();
  const sock = connect({ host: target.addr, port: target.port, noDelay: true });
  let got = '';
  let settled = false;
  let connected = false;
  const finish = (error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    const localPort = sock.localPort; // gone once destroyed
    sock.destroy();
    inFlight--;
    if (error === 'timeout' && stalledBetween(started, Date.now()) > STALL_FRACTION * timeoutMs) {
      c.stalled++;
      failures.push({ target: target.name, error: 'client-stalled', at: started, ms: Date.now() - started, connected });
    } else if (error) {
      // A timeout with the connection up is a slow answer (the pod or this client was slow); without it
      // the SYN went unanswered, which is what a missing or wrong DNAT rule looks like.
      if (error === 'timeout') error = connected ? 'response-timeout' : 'connect-timeout';
      c.failed++;
      c.errors[error] = (c.errors[error] ?? 0) + 1;
      failures.push({ target: target.name, error, at: started, ms: Date.now() - started, connected, localPort });
      if (failures.length > 200) failures = failures.slice(-100);
    } else {
      c.ok++;
    }
    if (inFlight === 0) while (drainWaiters.length) drainWaiters.shift()();
  };
  const timer = setTimeout(() => finish('timeout'), timeoutMs);
  sock.setEncoding('utf8');
  sock.on('connect', () => { connected = true; sock.write(`GET / HTTP/1.1\r\nHost: ${target.addr}\r\nConnection: close\r\n\r\n`); });
  sock.on('data', (d) => {
    got += d;
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
    if (m && got.includes('\r\n\r\n')) finish(m[1] === '200' ? undefined : `http-${m[1]}`);
  });
  sock.on('error', (e) => finish(classify(e)));
  sock.on('end', () => finish(/^HTTP\/1\.[01] 200/.test(got) ? undefined : 'bad-response'));
}

// A steady rate: every tick adds rate × elapsed credit and spends it one request at a time.
setInterval(() => {
  const now = Date.now();
  const dt = now - lastTick;
  lastTick = now;
  if (!sending || targets.length === 0) { credit = 0; return; }
  credit = Math.min(credit + (ratePerSec * dt) / 1000, ratePerSec);
  while (credit >= 1) {
    credit -= 1;
    one(targets[nextTarget++ % targets.length]);
  }
}, 10);

// Held connections (the `hold` command): a few long-lived keep-alive connections through the services,
// each sending one request every intervalMs. A proxy that carries the bytes itself (userspace mode) must
// keep them open through every fault it survives; a connection closed or reset from the far side is
// `lost`, a request on it that got no answer in time is `failed` (and closes it: the stream is out of step).
let held = [];
let holdOpts = { intervalMs: 500, timeoutMs: 1000 };
let holdCounts = newHoldCounts();
let holdTimer;

function newHoldCounts() {
  return { requests: 0, ok: 0, failed: 0, stalled: 0, lost: 0, errors: {}, lostReasons: {}, losses: [] };
}

function holdSnapshot() {
  return { ...holdCounts, errors: { ...holdCounts.errors }, lostReasons: { ...holdCounts.lostReasons }, losses: holdCounts.losses.slice(-40), open: held.filter((h) => h.alive).length, held: held.length };
}

function holdLost(h, reason) {
  if (!h.alive) return;
  h.alive = false;
  clearTimeout(h.timer);
  h.sock.destroy();
  holdCounts.lost++;
  holdCounts.lostReasons[reason] = (holdCounts.lostReasons[reason] ?? 0) + 1;
  holdCounts.losses.push({ target: h.target.name, reason, at: Date.now(), requests: h.requests });
  if (holdCounts.losses.length > 200) holdCounts.losses = holdCounts.losses.slice(-100);
}

/** Opens one held connection; resolves once its first request is answered (so it has an endpoint). */
function openHeld(target) {
  return new Promise((resolve, reject) => {
    const h = { target, sock: connect({ host: target.addr, port: target.port, noDelay: true }), alive: true, busy: false, buf: '', requests: 0, first: true, timer: undefined, started: 0 };
    h.sock.setEncoding('utf8');
    const fail = (reason) => {
      if (h.first) { h.first = false; h.alive = false; clearTimeout(h.timer); h.sock.destroy(); reject(new Error(`held connection to ${target.name}: ${reason}`)); return; }
      holdLost(h, reason);
    };
    h.onAnswer = () => {
      if (h.first) { h.first = false; held.push(h); resolve(); }
    };
    h.fail = fail;
    h.sock.on('connect', () => holdSend(h));
    h.sock.on('data', (d) => holdData(h, d));
    h.sock.on('error', (e) => fail(classify(e)));
    h.sock.on('close', () => fail(h.busy ? 'closed-mid-request' : 'closed'));
  });
}

function holdSend(h) {
  if (!h.alive || h.busy) return;
  h.busy = true;
  h.started = Date.now();
  h.buf = '';
  if (!h.first) holdCounts.requests++;
  h.sock.write(`GET / HTTP/1.1\r\nHost: ${h.target.addr}\r\nConnection: keep-alive\r\n\r\n`);
  const arm = (extended) => {
    h.timer = setTimeout(() => {
      // The client itself was starved: give the answer one more timeout before calling it failed.
      if (!extended && stalledBetween(h.started, Date.now()) > STALL_FRACTION * holdOpts.timeoutMs) { holdCounts.stalled++; arm(true); return; }
      if (!h.first) { holdCounts.failed++; holdCounts.errors['response-timeout'] = (holdCounts.errors['response-timeout'] ?? 0) + 1; }
      h.fail('response-timeout');
    }, holdOpts.timeoutMs);
  };
  arm(false);
}

function holdData(h, d) {
  h.buf += d;
  const end = h.buf.indexOf('\r\n\r\n');
  if (end < 0) return;
  const head = h.buf.slice(0, end);
  const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  if (h.buf.length < end + 4 + len) return;
  clearTimeout(h.timer);
  h.busy = false;
  h.requests++;
  const ok = /^HTTP\/1\.[01] 200/.test(head);
  if (!h.first) {
    if (ok) holdCounts.ok++;
    else { holdCounts.failed++; holdCounts.errors['bad-status'] = (holdCounts.errors['bad-status'] ?? 0) + 1; }
  }
  h.buf = h.buf.slice(end + 4 + len);
  h.onAnswer();
}

function unhold() {
  clearInterval(holdTimer);
  holdTimer = undefined;
  for (const h of held) { h.alive = false; clearTimeout(h.timer); h.sock.destroy(); }
  held = [];
}

const commands = {
  async hold(m) {
    unhold();
    holdCounts = newHoldCounts();
    holdOpts = { intervalMs: m.intervalMs ?? 500, timeoutMs: m.timeoutMs ?? 1000 };
    try {
      for (const t of m.targets) for (let i = 0; i < (m.perTarget ?? 2); i++) await openHeld(t);
    } catch (e) {
      unhold();
      throw e;
    }
    holdTimer = setInterval(() => { for (const h of held) holdSend(h); }, holdOpts.intervalMs);
    return holdSnapshot();
  },
  holdReport() { return holdSnapshot(); },
  holdReset() { const s = holdSnapshot(); holdCounts = newHoldCounts(); return s; },
  unhold() { const s = holdSnapshot(); unhold(); return s; },
  start(m) {
    targets = m.targets;
    ratePerSec = m.ratePerSec ?? ratePerSec;
    timeoutMs = m.timeoutMs ?? timeoutMs;
    sending = true;
    lastTick = Date.now();
    return snapshot();
  },
  report() { return snapshot(); },
  reset() { counts = new Map(); failures = []; loopStalls = []; return snapshot(); },
  async drain() {
    sending = false;
    if (inFlight > 0) await new Promise((r) => drainWaiters.push(r));
    return snapshot();
  },
  shutdown() { setImmediate(() => process.exit(0)); return null; },
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  const fn = commands[msg.cmd];
  Promise.resolve(fn ? fn(msg) : Promise.reject(new Error(`unknown command ${msg.cmd}`))).then(
    (result) => emit({ id: msg.id, ok: true, result: result ?? null }),
    (e) => emit({ id: msg.id, ok: false, error: String(e?.message ?? e) }),
  );
});
rl.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
emit({ event: 'ready', pid: process.pid });
