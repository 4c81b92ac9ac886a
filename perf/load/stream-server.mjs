// stream-server.mjs: the bulk-throughput server perf:load runs in each backend pod (the sandbox's pod
// server answers small HTTP requests only). On every TCP connection it sends the same 64 KiB buffer over
// and over, as fast as the socket drains, until the peer goes away; whatever the peer sends is read and
// dropped. No per-byte work, so the path under test, not this server, is the limit.
// Prints "READY <pid>" once listening. Usage: node stream-server.mjs --port 9000
import net from 'node:net';

const i = process.argv.indexOf('--port');
const port = Number(i > 0 ? process.argv[i + 1] : 9000);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`stream-server: bad --port\n`);
  process.exit(2);
}
const chunk = Buffer.alloc(64 * 1024, 'x');

const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => sock.destroy());
  sock.on('data', () => { /* the client's request, if any: ignored */ });
  const pump = () => {
    while (!sock.destroyed && sock.write(chunk)) { /* until the kernel buffer is full */ }
  };
  sock.on('drain', pump);
  pump();
});
server.on('error', (e) => {
  process.stderr.write(`stream-server: ${e.message}\n`);
  process.exit(1);
});
server.listen({ port, host: '0.0.0.0', backlog: 1024 }, () => process.stdout.write(`READY ${process.pid}\n`));
const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
