/**
 * healthz-server.ts: /healthz and /livez on --healthz-bind-address (default 0.0.0.0:10256), with kube-proxy's
 * semantics and response shape:
 * - /healthz: 200 when the proxy is healthy AND the node is eligible (not being deleted), else 503; body
 *   {"lastUpdated","currentTime","nodeEligible","healthy","status":{"IPv4":{"lastUpdated","healthy"},...}} with
 *   RFC3339Nano times (proxy_health.go, 1.33+). Cloud load balancers of externalTrafficPolicy=Cluster
 *   services probe it, so a deleting node is drained.
 * - /livez: the same health rule ignoring the node (for liveness probes, which must not restart a pod
 *   because its node is draining); the same body without nodeEligible.
 * When healthy, lastUpdated is reported as currentTime (kube-proxy keeps this for compatibility: older
 * releases reported the last sync-loop run). Each answer counts in kubeproxy_proxy_{healthz,livez}_total{code}.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../util/log.js';
import type { ProxyMetrics } from './metrics.js';
import type { ProxyHealth } from './proxy-health.js';
import { listen, parseListenAddress, running } from './http-listen.js';
import type { RunningServer } from './http-listen.js';

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Go's time.RFC3339Nano, which kube-proxy 1.33+ writes: fraction without trailing zeros, none when zero. */
export function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_m, frac: string) => (frac === '' ? 'Z' : `.${frac}Z`));
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify(body));
}

export function startHealthzServer(opts: {
  address: string;
  health: ProxyHealth;
  metrics: ProxyMetrics;
  log: Logger;
}): Promise<RunningServer> {
  const { health, metrics, log } = opts;
  const server = createServer((req, res) => {
    const path = pathOf(req);
    if (path !== '/healthz' && path !== '/livez') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('404 page not found\n');
      return;
    }
    const st = health.status();
    const currentTime = rfc3339Nano(st.currentTime);
    const status: Record<string, { lastUpdated: string; healthy: boolean }> = {};
    for (const [family, f] of st.families) status[family] = { lastUpdated: f.healthy ? currentTime : rfc3339Nano(f.lastUpdated), healthy: f.healthy };
    const lastUpdated = st.healthy ? currentTime : rfc3339Nano(st.lastUpdated);
    if (path === '/healthz') {
      const ok = st.healthy && st.nodeEligible;
      const code = ok ? 200 : 503;
      metrics.proxyHealthzTotal.inc({ code: String(code) });
      sendJson(res, code, { lastUpdated: ok ? currentTime : rfc3339Nano(st.lastUpdated), currentTime, nodeEligible: st.nodeEligible, healthy: st.healthy, status });
    } else {
      const code = st.healthy ? 200 : 503;
      metrics.proxyLivezTotal.inc({ code: String(code) });
      sendJson(res, code, { lastUpdated, currentTime, healthy: st.healthy, status });
    }
  });
  return (async () => {
    const { host, port } = parseListenAddress(opts.address);
    const bound = await listen(server, host, port);
    log.v(3).info('Starting healthz HTTP server', { address: opts.address, port: bound });
    return running(server, bound);
  })();
}
