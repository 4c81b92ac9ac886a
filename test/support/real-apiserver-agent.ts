/**
 * real-apiserver-agent.ts (test support): the test's hands inside the namespace where the real
 * kube-apiserver and etcd run (real-apiserver.ts). The test process lives in the host's namespace and
 * cannot reach that namespace's loopback, so this process, started in it, makes the HTTP requests for
 * the test and relays TCP for kpx when a test needs to cut kpx off from the API server.
 *
 * JSON commands on stdin, one a line, answered on stdout (chaos-process.ts's protocol):
 *   http {url, method?, headers?, body?}  → {status, body} (body parsed when it is JSON)
 *   httpMany {requests: [http...], concurrency?, pick?: ["spec.clusterIP", ...]}
 *        → [{status, picked?: {path: value}, error?: message}] in order (bodies only as picked)
 *   relay {port, targetPort} (127.0.0.1:port → 127.0.0.1:targetPort) · relayCut {port} · relayRestore {port}
 *   shutdown
 * HTTPS requests trust the CA file given by --ca (read when first needed: the API server writes it
 * when it starts).
 *
 * Run as: `node --import tsx test/support/real-apiserver-agent.ts --expect-netns NS --ca FILE`; it
 * refuses to run anywhere but in that namespace.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, emit, serveCommands, type AgentCommands } from './json-line-agent.js';

const here = fileURLToPath(import.meta.url);

export interface HttpCommand {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

export interface ManyAnswer {
  status: number;
  picked?: Record<string, unknown>;
  error?: string;
}

function pick(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

class Requester {
  private httpsAgent: https.Agent | undefined;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly caFile: string | undefined) {}

  send(cmd: HttpCommand): Promise<HttpAnswer> {
    const url = new URL(cmd.url);
    const data = cmd.body === undefined ? undefined : typeof cmd.body === 'string' ? cmd.body : JSON.stringify(cmd.body);
    const headers: Record<string, string | number> = { accept: 'application/json', ...cmd.headers };
    if (data !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(data);
    }
    const secure = url.protocol === 'https:';
    const lib = secure ? https : http;
    return new Promise((resolvePromise, reject) => {
      const req = lib.request(url, { method: cmd.method ?? 'GET', headers, agent: secure ? this.tlsAgent() : this.httpAgent, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
          resolvePromise({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${cmd.method ?? 'GET'} ${cmd.url}: no answer within 60 s`)));
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  async many(requests: readonly HttpCommand[], concurrency: number, paths: readonly string[]): Promise<ManyAnswer[]> {
    const out = new Array<ManyAnswer>(requests.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        try {
          const r = await this.send(requests[i]!);
          const answer: ManyAnswer = { status: r.status };
          if (paths.length > 0) answer.picked = Object.fromEntries(paths.map((p) => [p, pick(r.body, p)]));
          if (r.status >= 300) answer.error = String(pick(r.body, 'message') ?? r.body);
          out[i] = answer;
        } catch (e) {
          out[i] = { status: 0, error: (e as Error).message };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(256, concurrency)) }, worker));
    return out;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  private tlsAgent(): https.Agent {
    if (this.httpsAgent) return this.httpsAgent;
    if (!this.caFile) throw new Error('an https request, but no --ca was given');
    // Throws until the API server has written its certificate: the caller polls.
    const ca = readFileSync(this.caFile);
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ca });
    return this.httpsAgent;
  }
}

/**
 * A TCP relay on the namespace's loopback. cut() ends every relayed connection at once (as a network
 * partition would, from the client's side) and turns new ones away until restore().
 */
class Relay {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  readonly server: Server;

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      if (this.cut) { client.destroy(); return; }
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen({ host: '127.0.0.1', port }, () => res());
    });
  }

  setCut(cut: boolean): number {
    this.cut = cut;
    if (!cut) return 0;
    const n = this.sockets.size;
    for (const s of this.sockets) s.destroy();
    return n;
  }

  close(): void {
    this.setCut(true);
    this.server.close();
  }
}

async function serve(argv: readonly string[]): Promise<void> {
  const expect = argValue(argv, '--expect-netns');
  if (expect === undefined) throw new Error('--expect-netns NS is required');
  // SAFETY: only ever act inside the sandbox namespace we were told about.
  let want: number;
  try { want = statSync(join('/run/netns', expect)).ino; } catch { throw new Error(`namespace ${expect} does not exist`); }
  if (statSync('/proc/self/ns/net').ino !== want) throw new Error(`not inside namespace ${expect}`);

  const requester = new Requester(argValue(argv, '--ca'));
  const relays = new Map<number, Relay>();
  const relay = (port: number): Relay => {
    const r = relays.get(port);
    if (!r) throw new Error(`no relay on port ${port}`);
    return r;
  };
  const shutdown = () => {
    requester.close();
    for (const r of relays.values()) r.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  const commands: AgentCommands = {
    http: (m) => requester.send(m as HttpCommand),
    httpMany: (m) => requester.many(m.requests as HttpCommand[], Number(m.concurrency ?? 32), (m.pick as string[] | undefined) ?? []),
    relay: async (m) => {
      const r = new Relay(Number(m.targetPort));
      await r.listen(Number(m.port));
      relays.set(Number(m.port), r);
    },
    relayCut: (m) => relay(Number(m.port)).setCut(true),
    relayRestore: (m) => relay(Number(m.port)).setCut(false),
    shutdown: () => { setImmediate(shutdown); },
  };

  serveCommands(commands, shutdown);
  emit({ event: 'ready' });
}

export const AGENT_ENTRY = here;

if (process.argv[1] && resolve(process.argv[1]) === here) {
  serve(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`real-apiserver-agent: ${e.message}\n`);
    process.exit(1);
  });
}
