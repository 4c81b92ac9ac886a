// sha-client.mjs: the other end of sha-server.mjs, run inside a sandbox namespace. Sends --mib MiB (MiB i
// filled with byte (i * 7) % 251), half-closes, then reads the server's hash line and its --mib MiB reply
// to the end. Prints one JSON line: what was sent and received, as sha256, plus the expected hashes.
// Usage: node sha-client.mjs ADDR PORT --mib 100
import net from 'node:net';
import { createHash } from 'node:crypto';

const [addr, portText] = process.argv.slice(2);
const i = process.argv.indexOf('--mib');
const mib = i > 0 ? Number(process.argv[i + 1]) : 100;
const sent = createHash('sha256');
const expectBack = createHash('sha256');
for (let k = 0; k < mib; k++) expectBack.update(Buffer.alloc(1 << 20, k % 251));
const got = createHash('sha256');
let head = Buffer.alloc(0);
let serverSaw = '';
let bytes = 0;
const sock = net.connect({ host: addr, port: Number(portText), allowHalfOpen: true });
sock.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.message }) + '\n'); process.exit(1); });
sock.on('connect', () => {
  let k = 0;
  const pump = () => {
    while (k < mib) {
      const chunk = Buffer.alloc(1 << 20, (k++ * 7) % 251);
      sent.update(chunk);
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
    sock.end(); // half-close: the server answers only after this FIN arrives
  };
  pump();
});
sock.on('data', (d) => {
  if (!serverSaw) {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    serverSaw = head.subarray(0, nl).toString();
    d = head.subarray(nl + 1);
  }
  bytes += d.length;
  got.update(d);
});
sock.on('end', () => {
  process.stdout.write(JSON.stringify({ sent: sent.digest('hex'), serverSaw, received: got.digest('hex'), expected: expectBack.digest('hex'), bytes }) + '\n');
});
