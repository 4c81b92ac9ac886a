// sha-server.mjs: runs in a sandbox pod for the userspace e2e test. Per connection it hashes what the
// client sends until the client half-closes, then answers "<sha256 hex>\n" followed by --mib MiB of
// deterministic data (MiB i filled with byte i % 251), then ends. Prints "READY <pid>" once listening.
// Usage: node sha-server.mjs --port 9000 --mib 100
import net from 'node:net';
import { createHash } from 'node:crypto';

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const port = arg('--port', 9000);
const mib = arg('--mib', 100);

const server = net.createServer({ allowHalfOpen: true }, (sock) => {
  const h = createHash('sha256');
  sock.on('error', () => sock.destroy());
  sock.on('data', (d) => h.update(d));
  sock.on('end', () => {
    sock.write(`${h.digest('hex')}\n`);
    let i = 0;
    const pump = () => {
      while (i < mib) {
        if (!sock.write(Buffer.alloc(1 << 20, i++ % 251))) return void sock.once('drain', pump);
      }
      sock.end();
    };
    pump();
  });
});
server.listen({ port, host: '0.0.0.0' }, () => process.stdout.write(`READY ${process.pid}\n`));
process.on('SIGTERM', () => process.exit(0));
