/** Shared by the server tests: Node events delivered as the proxier delivers them, a plain HTTP GET and a free loopback port. */
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import type { ApiNode } from '../../../src/model/api.js';
import type { ProxyHealth } from '../../../src/server/proxy-health.js';
import { ClusterCache } from '../../../src/sync/cluster-cache.js';
import type { Clock } from '../../../src/util/clock.js';
import { memoryLogger } from '../../support/logger.js';

const NODE = 'node-a';

/**
 * nodeEvents: a function that delivers this node's Node objects through the sync loop's cache, whose
 * eligibility events reach the health state as the proxier wires them (onNodeEligibility → setNodeEligible).
 */
export function nodeEvents(health: ProxyHealth, clock: Clock): (node: ApiNode) => void {
  const cache = new ClusterCache({
    nodeName: NODE, clock, log: memoryLogger(),
    onNodeEligibility: (eligible) => health.setNodeEligible(eligible),
  });
  return (node) => cache.upsert({ kind: 'Node', obj: { ...node, metadata: { ...node.metadata, name: NODE } } });
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** get: one request on a fresh connection (no keep-alive pooling between tests). */
export function get(host: string, port: number, path: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** freePort: a loopback TCP port that was free a moment ago (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
