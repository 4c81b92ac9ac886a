// held-connection.mjs: one keep-alive HTTP connection held open, for graceful-termination tests. Sends a GET at
// start and one more for every line on stdin; prints each answer's JSON body (or "ERROR <reason>") on stdout.
// Refuses to run in the host's network namespace, like the sandbox's traffic client.
import net from 'node:net';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';

if (readlinkSync('/proc/self/ns/net') === readlinkSync('/proc/1/ns/net')) {
  process.stderr.write('held-connection: refusing to run in the host network namespace\n');
  process.exit(3);
}
const [host, port] = [process.argv[2], Number(process.argv[3])];
const sock = net.connect({ host, port });
let buf = '';
sock.setEncoding('utf8');
sock.on('data', (d) => {
  buf += d;
  for (;;) {
    const head = buf.indexOf('\r\n\r\n');
    if (head < 0) return;
    const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
    if (buf.length < head + 4 + len) return;
    process.stdout.write(buf.slice(head + 4, head + 4 + len) + '\n');
    buf = buf.slice(head + 4 + len);
  }
});
sock.on('error', (e) => { process.stdout.write(`ERROR ${e.code ?? e.message}\n`); process.exit(1); });
sock.on('close', () => process.exit(0));
const get = () => sock.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
sock.on('connect', get);
createInterface({ input: process.stdin }).on('line', (l) => (l === 'quit' ? sock.end() : get()));
