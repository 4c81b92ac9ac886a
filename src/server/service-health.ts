/**
 * service-health.ts: the per-service health-check node ports of externalTrafficPolicy=Local services
 * (kube-proxy's service_health.go). Cloud load balancers probe `node:healthCheckNodePort` and send traffic
 * only to nodes that answer 200, so a node answers 200 iff it has at least one ready local endpoint for the
 * service AND the proxy is healthy (node eligibility is ignored here: draining is /healthz's job).
 *
 * One HTTP listener per service on each given address (all addresses when the list is empty). sync() is
 * declarative: it opens listeners for new services, re-opens on a port change, updates endpoint counts and
 * closes listeners of services that went away. A port that cannot be bound is logged and reported through
 * onBindError (kube-proxy's FailedToStartServiceHealthcheck event), never thrown; the next sync retries it.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { ProxyHealth } from './proxy-health.js';
import { listen, shutdown } from './http-listen.js';

export interface ServiceHealthEntry {
  namespace: string;
  name: string;
  /** The service's healthCheckNodePort. */
  port: number;
  /** Ready endpoints of the service on this node (terminating ones do not count). */
  localEndpoints: number;
}

interface Instance {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  localEndpoints: number;
  readonly servers: { server: Server; address: string }[];
}

const keyOf = (e: { namespace: string; name: string }) => `${e.namespace}/${e.name}`;

export class ServiceHealthServer {
  private readonly addresses: readonly string[];
  private readonly health: ProxyHealth;
  private readonly log: Logger;
  private readonly onBindError?: (entry: ServiceHealthEntry, err: Error) => void;
  private readonly services = new Map<string, Instance>();
  /** Syncs run one after another, so two overlapping calls cannot open the same port twice. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: {
    addresses: readonly string[];
    health: ProxyHealth;
    log: Logger;
    onBindError?: (entry: ServiceHealthEntry, err: Error) => void;
  }) {
    this.addresses = [...opts.addresses];
    this.health = opts.health;
    this.log = opts.log;
    this.onBindError = opts.onBindError;
  }

  sync(entries: readonly ServiceHealthEntry[]): Promise<void> {
    const run = this.queue.then(() => this.apply(entries));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    const run = this.queue.then(async () => {
      this.closed = true;
      const all = [...this.services.values()];
      this.services.clear();
      await Promise.all(all.map((inst) => this.closeInstance(inst)));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** listening: the open listeners (for logs, debugging and tests). */
  listening(): { namespace: string; name: string; address: string; port: number }[] {
    const out: { namespace: string; name: string; address: string; port: number }[] = [];
    for (const inst of this.services.values()) {
      for (const s of inst.servers) out.push({ namespace: inst.namespace, name: inst.name, address: s.address, port: inst.port });
    }
    return out;
  }

  private async apply(entries: readonly ServiceHealthEntry[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Map<string, ServiceHealthEntry>();
    for (const e of entries) wanted.set(keyOf(e), e);

    const closing: Promise<void>[] = [];
    for (const [key, inst] of this.services) {
      const want = wanted.get(key);
      if (!want || want.port !== inst.port) {
        this.log.v(2).info('Closing healthcheck', { service: key, port: inst.port });
        this.services.delete(key);
        closing.push(this.closeInstance(inst));
      }
    }
    // A port moving between services must be free before it is opened again.
    await Promise.all(closing);

    for (const [key, e] of wanted) {
      const inst = this.services.get(key);
      if (inst) {
        if (inst.localEndpoints !== e.localEndpoints) {
          this.log.v(3).info('Reporting endpoints for healthcheck', { service: key, endpointCount: e.localEndpoints });
        }
        inst.localEndpoints = e.localEndpoints;
        continue;
      }
      this.log.v(2).info('Opening healthcheck', { service: key, port: e.port });
      try {
        this.services.set(key, await this.open(e));
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.log.warn('Failed to start healthcheck', { service: key, port: e.port, err: errorMessage(error) });
        try {
          this.onBindError?.({ ...e }, error);
        } catch (cbErr) {
          this.log.warn('onBindError callback failed', { service: key, err: errorMessage(cbErr) });
        }
      }
    }
  }

  private async open(e: ServiceHealthEntry): Promise<Instance> {
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new Error(`invalid health check node port ${e.port}`);
    const inst: Instance = { namespace: e.namespace, name: e.name, port: e.port, localEndpoints: e.localEndpoints, servers: [] };
    const key = keyOf(e);
    const hosts: (string | undefined)[] = this.addresses.length === 0 ? [undefined] : [...this.addresses];
    for (const host of hosts) {
      const server = createServer((_req, res) => {
        // Read the live instance: counts change on every sync without re-opening the port.
        const live = this.services.get(key);
        const count = live === inst ? inst.localEndpoints : 0;
        const proxyHealthy = this.health.isHealthy();
        res.writeHead(count > 0 && proxyHealthy ? 200 : 503, {
          'Content-Type': 'application/json',
          'X-Content-Type-Options': 'nosniff',
          'X-Load-Balancing-Endpoint-Weight': String(count),
        });
        res.end(JSON.stringify({
          service: { namespace: e.namespace, name: e.name },
          localEndpoints: count,
          serviceProxyHealthy: proxyHealthy,
        }, null, '\t'));
      });
      try {
        await listen(server, host, e.port);
      } catch (err) {
        // Release whatever was opened so a retry (or another owner of the port) can bind it.
        await this.closeInstance(inst);
        throw new Error(`listen on ${host ?? '*'}:${e.port}: ${errorMessage(err)}`);
      }
      inst.servers.push({ server, address: host ?? '' });
    }
    return inst;
  }

  private async closeInstance(inst: Instance): Promise<void> {
    await Promise.all(inst.servers.map((s) => shutdown(s.server)));
  }
}
