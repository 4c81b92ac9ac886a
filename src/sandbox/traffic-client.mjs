// traffic-client.mjs: sends the sandbox's test traffic from INSIDE a namespace (`ip netns exec NS node
// traffic-client.mjs`), many requests per process because spawning one per request is slow.
// Input (stdin, JSON): { hostNetnsIno?: number, expectNetns?: string, concurrency?: number, requests: Request[] }
//   { kind: 'tcp', addr, port, path?, localAddress?, localPort?, timeoutMs? }   HTTP GET, Connection: close
//   { kind: 'udp', addr, port, localAddress?, localPort?, timeoutMs? }          one datagram, one reply
//   { kind: 'wait-sync', addr, port, since, requireQueued?, timeoutMs? }       polls kpx's /metrics
// Output (stdout, JSON): one result per request, in order (ms: how long it took):
//   { ok: true, ms, status?, pod?, clientAddr?, clientPort?, port?, body? } | { ok: false, ms, error, detail? }
// SAFETY: it refuses to run in the host's network namespace (the netns of pid 1, or the one hostNetnsIno
// names: the sandbox's driver runs in the host's) unless every target is a loopback address, and with
// expectNetns it must be in exactly that named namespace.
import { statSync, readFileSync } from 'node:fs';
import { connect, isIPv4, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';

const REFUSE_EXIT = 3;

function refuse(msg) {
  process.stderr.write(`traffic-client: refusing to run: ${msg}\n`);
  process.exit(REFUSE_EXIT);
}

function isLoopback(addr) {
  return (isIPv4(addr) && addr.startsWith('127.')) || addr === '::1';
}

let job;
try {
  job = JSON.parse(readFileSync(0, 'utf8'));
} catch (e) {
  process.stderr.write(`traffic-client: bad input: ${e.message}\n`);
  process.exit(2);
}
const requests = Array.isArray(job.requests) ? job.requests : [];

// The host's namespace is identified by the netns inode of pid 1 where readable (often it is not, even
// for root), and by the inode the spawning process passed (the sandbox is driven from the host).
const self = statSync('/proc/self/ns/net').ino;
const hostInodes = [];
try { hostInodes.push(statSync('/proc/1/ns/net').ino); } catch { /* not readable here */ }
if (Number.isFinite(job.hostNetnsIno)) hostInodes.push(job.hostNetnsIno);
const onlyLoopback = requests.every((r) => typeof r.addr === 'string' && isLoopback(r.addr));
if (hostInodes.length === 0 && !onlyLoopback) refuse('cannot tell whether this is the host network namespace (pass hostNetnsIno)');
if (hostInodes.includes(self) && !onlyLoopback) {
  refuse('this is the host network namespace; run it with `ip netns exec <sandbox namespace>`');
}
if (job.expectNetns) {
  if (!/^[A-Za-z0-9_.-]+$/.test(job.expectNetns) || job.expectNetns.startsWith('.')) refuse(`bad namespace name ${JSON.stringify(job.expectNetns)}`);
  let want;
  try { want = statSync(`/run/netns/${job.expectNetns}`).ino; } catch { refuse(`namespace ${job.expectNetns} does not exist`); }
  if (want !== self) refuse(`not inside namespace ${job.expectNetns}`);
}

function classify(err) {
  switch (err?.code) {
    case 'ECONNREFUSED': return 'refused';
    case 'ETIMEDOUT': return 'timeout';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'unreachable';
    case 'ECONNRESET': case 'EPIPE': return 'reset';
    default: return err?.code ?? 'error';
  }
}

function parseAnswer(text) {
  try {
    const j = JSON.parse(text);
    return j && typeof j === 'object' ? j : {};
  } catch { return {}; }
}

// HTTP/1.1 chunked body → plain text (kpx's own servers may answer chunked).
function dechunk(raw) {
  let out = '';
  let rest = raw;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

function tcpRequest(r) {
  return new Promise((resolve) => {
    const timeoutMs = r.timeoutMs ?? 2000;
    const opts = { host: r.addr, port: r.port, noDelay: true };
    if (r.localAddress) opts.localAddress = r.localAddress;
    if (r.localPort) opts.localPort = r.localPort;
    const sock = connect(opts);
    const chunks = [];
    let settled = false;
    const finish = (res) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(res);
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), timeoutMs);
    sock.on('connect', () => {
      sock.write(`GET ${r.path ?? '/'} HTTP/1.1\r\nHost: ${r.addr}\r\nConnection: close\r\n\r\n`);
    });
    sock.on('data', (b) => chunks.push(b));
    sock.on('error', (e) => finish({ ok: false, error: classify(e), detail: e.message }));
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      // Accepted, then closed without a byte: what a proxy does when it has nowhere to send the client.
      if (text === '') { finish({ ok: false, error: 'closed' }); return; }
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) { finish({ ok: false, error: 'bad-response', detail: text.slice(0, 200) }); return; }
      const sep = text.indexOf('\r\n\r\n');
      const head = sep >= 0 ? text.slice(0, sep) : text;
      let body = sep >= 0 ? text.slice(sep + 4) : '';
      if (/^transfer-encoding:\s*chunked/im.test(head)) body = dechunk(body);
      finish({ ok: true, status: Number(m[1]), body, ...parseAnswer(body) });
    });
  });
}

function udpRequest(r) {
  return new Promise((resolve) => {
    const timeoutMs = r.timeoutMs ?? 1000;
    const sock = createSocket(isIPv6(r.addr) ? 'udp6' : 'udp4');
    let settled = false;
    const finish = (res) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve(res);
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'timeout' }), timeoutMs);
    sock.on('error', (e) => finish({ ok: false, error: classify(e), detail: e.message }));
    sock.on('message', (msg) => finish({ ok: true, body: msg.toString(), ...parseAnswer(msg.toString()) }));
    sock.bind({ address: r.localAddress, port: r.localPort ?? 0, exclusive: true }, () => {
      sock.connect(r.port, r.addr, (err) => {
        if (err) { finish({ ok: false, error: classify(err), detail: err.message }); return; }
        sock.send(JSON.stringify({ hello: true }), (e) => { if (e) finish({ ok: false, error: classify(e), detail: e.message }); });
      });
    });
  });
}

// One value of a metric: of its series (one per ip_family on a dual-stack node) the one `pick` chooses.
function metricValue(text, name, pick = Math.max) {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm');
  const values = [...text.matchAll(re)].map((m) => Number(m[1]));
  return values.length ? pick(...values) : undefined;
}

// Done when a sync finished after the change was queued and nothing is pending. If a sync was seen
// running with our change pending, `last` must move past the value it had then (a sync that merely
// overlapped the change's arrival does not count).
async function waitSync(r) {
  const deadline = Date.now() + (r.timeoutMs ?? 20000);
  let mustExceed = -1;
  let lastSeen = 'no answer yet';
  while (Date.now() < deadline) {
    const res = await tcpRequest({ addr: r.addr, port: r.port, path: '/metrics', timeoutMs: 1000 });
    if (res.ok && res.status === 200) {
      // Every family must have synced: the oldest family's last sync counts.
      const last = metricValue(res.body, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', Math.min) ?? 0;
      const queued = metricValue(res.body, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds') ?? 0;
      const pending = (metricValue(res.body, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending') ?? 0)
        + (metricValue(res.body, 'kubeproxy_sync_proxy_rules_service_changes_pending') ?? 0);
      lastSeen = `last=${last} queued=${queued} pending=${pending} since=${r.since}`;
      const queuedOk = r.requireQueued ? queued >= r.since : true;
      if (queuedOk && pending > 0) mustExceed = Math.max(mustExceed, last);
      if (queuedOk && last >= r.since && last >= queued && pending === 0 && last > mustExceed) {
        return { ok: true, last, queued };
      }
    } else {
      lastSeen = res.ok ? `status ${res.status}` : res.error;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return { ok: false, error: 'timeout', detail: lastSeen };
}

async function timed(fn) {
  const t0 = performance.now();
  const res = await fn();
  return { ...res, ms: Math.round(performance.now() - t0) };
}

async function run(r) {
  try {
    if (r.kind === 'tcp') return await timed(() => tcpRequest(r));
    if (r.kind === 'udp') return await timed(() => udpRequest(r));
    if (r.kind === 'wait-sync') return await waitSync(r);
    return { ok: false, error: 'bad-request', detail: `unknown kind ${r.kind}` };
  } catch (e) {
    return { ok: false, error: 'error', detail: String(e?.message ?? e) };
  }
}

const results = new Array(requests.length);
const concurrency = Math.max(1, Math.min(64, job.concurrency ?? 4));
let next = 0;
async function worker() {
  while (next < requests.length) {
    const i = next++;
    results[i] = await run(requests[i]);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(JSON.stringify(results) + '\n');
