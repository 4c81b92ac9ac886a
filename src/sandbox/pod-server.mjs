// pod-server.mjs: the tiny server every sandbox pod runs. It answers who it is and whom it saw:
//   TCP: HTTP on each --tcp port; body {"pod","clientAddr","clientPort","port","proto":"tcp"}
//   UDP: each datagram on each --udp port gets one datagram back with the same JSON ("proto":"udp")
// GET /status/NNN answers with that status code (health-check style probes of the traffic client).
// Prints "READY <pid>" on stdout once every port is bound; the sandbox waits for that line.
// Usage: node pod-server.mjs --name POD [--tcp 8080,9090] [--udp 8080]
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';

function parseArgs(argv) {
  const out = { name: '', tcp: [], udp: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1] ?? '';
    if (a === '--name') { out.name = v; i++; }
    else if (a === '--tcp' || a === '--udp') {
      out[a.slice(2)] = v === '' ? [] : v.split(',').map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`bad port ${JSON.stringify(s)}`);
        return n;
      });
      i++;
    } else fail(`unknown argument ${a}`);
  }
  if (!out.name) fail('--name is required');
  return out;
}

function fail(msg) {
  process.stderr.write(`pod-server: ${msg}\n`);
  process.exit(2);
}

function strip(addr) {
  // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d.
  return typeof addr === 'string' && addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

const opts = parseArgs(process.argv.slice(2));
const servers = [];

function listenTcp(port) {
  return new Promise((resolve, reject) => {
    const srv = createServer((req, res) => {
      const body = JSON.stringify({ pod: opts.name, clientAddr: strip(req.socket.remoteAddress), clientPort: req.socket.remotePort, port, proto: 'tcp' });
      const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
      res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    srv.keepAliveTimeout = 5000;
    const listen = (host, onError) => {
      srv.once('error', onError);
      srv.listen({ port, host, backlog: 1024 }, () => { srv.off('error', onError); servers.push(srv); resolve(); });
    };
    // '::' takes IPv4 and IPv6 alike; fall back to IPv4 only where IPv6 is off.
    listen('::', (e) => (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL' ? listen('0.0.0.0', reject) : reject(e)));
  });
}

function listenUdp(port, type = 'udp6') {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type, ipv6Only: false });
    sock.on('message', (_msg, rinfo) => {
      const body = JSON.stringify({ pod: opts.name, clientAddr: strip(rinfo.address), clientPort: rinfo.port, port, proto: 'udp' });
      sock.send(body, rinfo.port, rinfo.address);
    });
    sock.once('error', (e) => {
      // A dual-stack socket on '::' takes IPv4 too; where IPv6 is off, IPv4 alone.
      if (type === 'udp6' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) listenUdp(port, 'udp4').then(resolve, reject);
      else reject(e);
    });
    sock.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => { servers.push(sock); resolve(); });
  });
}

try {
  await Promise.all([...opts.tcp.map((p) => listenTcp(p)), ...opts.udp.map((p) => listenUdp(p))]);
} catch (e) {
  fail(`cannot listen: ${e.message}`);
}
process.stdout.write(`READY ${process.pid}\n`);

const stop = () => {
  for (const s of servers) { try { s.close(); } catch { /* already closed */ } }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
