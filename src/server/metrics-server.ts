/**
 * metrics-server.ts: the metrics address (--metrics-bind-address, default 127.0.0.1:10249), serving what
 * kube-proxy's metrics mux serves: /metrics (Prometheus text from prom-client), /proxyMode (the mode as plain
 * text, which tooling such as kube-proxy's e2e tests reads), /healthz ("ok": the server is up) and, when a
 * configuration is given, /configz.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ProxyMode } from '../backend.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { listen, parseListenAddress, running } from './http-listen.js';
import type { RunningServer } from './http-listen.js';

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

export function startMetricsServer(opts: {
  address: string;
  registry: Registry;
  mode: ProxyMode;
  log: Logger;
  /** Optional: the effective configuration, served at /configz under "kubeproxy.config.k8s.io". */
  configz?: unknown;
}): Promise<RunningServer> {
  const { registry, mode, log } = opts;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    switch (path) {
      case '/metrics':
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': registry.contentType });
            res.end(text);
          },
          (err) => {
            log.error('Failed to collect metrics', { err: errorMessage(err) });
            sendText(res, 500, `collecting metrics failed: ${errorMessage(err)}\n`);
          },
        );
        return;
      case '/proxyMode':
        sendText(res, 200, mode);
        return;
      case '/healthz':
        sendText(res, 200, 'ok');
        return;
      case '/configz':
        if (opts.configz !== undefined) {
          res.writeHead(200, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
          res.end(JSON.stringify({ 'kubeproxy.config.k8s.io': opts.configz }));
          return;
        }
        break;
    }
    sendText(res, 404, '404 page not found\n');
  });
  return (async () => {
    const { host, port } = parseListenAddress(opts.address);
    const bound = await listen(server, host, port);
    log.v(3).info('Starting metrics server', { address: opts.address, port: bound });
    return running(server, bound);
  })();
}
