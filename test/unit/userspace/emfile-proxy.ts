/**
 * emfile-proxy.ts: a helper process for tcp-proxy-fd.test.ts. Runs one TcpProxy to the backend port in
 * argv[2] on 127.0.0.1 and reports on stdout: "PORT n" once listening, "STAT pauses open paused" on request
 * (a line "stat" on stdin). Started under `prlimit --nofile` so it runs out of descriptors; "fill" opens
 * files until only one descriptor is left (so the next client is accepted and its dial fails with
 * EMFILE), "release" closes them again.
 */
import { closeSync, openSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LoadBalancer } from '../../../modes/userspace/load-balancer.js';
import { ConnectionBudget, TcpProxy } from '../../../modes/userspace/tcp-proxy.js';
import { log } from '../../../src/util/log.js';

const backendPort = Number(process.argv[2]);
const lb = new LoadBalancer();
lb.update('svc', [{ key: `127.0.0.1:${backendPort}`, ip: '127.0.0.1', port: backendPort }], 0);
const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(100_000), log, acceptRetryMs: 50 });
const port = await proxy.listen('127.0.0.1', 0);
process.stdout.write(`PORT ${port} FDS ${readdirSync('/proc/self/fd').length}\n`);
const filler: number[] = [];
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'fill') {
    try {
      for (;;) filler.push(openSync('/dev/null', 'r'));
    } catch {
      closeSync(filler.pop()!);
    }
    process.stdout.write(`FILLED ${filler.length}\n`);
  }
  if (l === 'release') {
    while (filler.length) closeSync(filler.pop()!);
    process.stdout.write('RELEASED\n');
  }
  if (l === 'stat') process.stdout.write(`STAT ${proxy.pauseCount} ${proxy.connectionCount} ${proxy.paused ? 1 : 0}\n`);
});
