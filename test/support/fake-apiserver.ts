/**
 * fake-apiserver.ts: a small Kubernetes API server for tests, over real HTTP on 127.0.0.1 (or a given
 * address). To run it in another process inside a sandbox network namespace (where kpx runs), see
 * apiserver-process.ts.
 *
 * It speaks the list/watch protocol the way kube-apiserver does, so kpx's kube source (client-node
 * informers) runs against it unchanged:
 *  - GET /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices, /api/v1/nodes (and the namespaced
 *    forms /api/v1/namespaces/<ns>/services, ...; GET of one object by name): a List with
 *    metadata.resourceVersion.
 *  - `?watch=true`: a chunked response of newline-delimited JSON events ADDED / MODIFIED / DELETED, plus
 *    BOOKMARK every `bookmarkIntervalMs` when the client sends `allowWatchBookmarks=true`. Without a
 *    resourceVersion (or "0") the current objects come first as synthetic ADDED events, as in the real
 *    server; with one, every change after it is replayed, or the watch is answered "410 Gone" when that
 *    version was compacted away.
 *  - `labelSelector` (`key`, `!key`, `=`, `!=`, `in`, `notin`) and `fieldSelector` (`metadata.name`,
 *    `metadata.namespace`) are honoured; as in the real server's watch cache, an object that stops matching
 *    a selector is delivered as DELETED, and one that starts matching as ADDED.
 *  - resourceVersions are one global counter (like etcd's revision) shared by all kinds.
 *
 * The test side: `upsert`/`remove` change objects (and notify watchers); fault controls for the chaos
 * and hardening suites: `dropWatches()` (graceful or abrupt), `compact()` (old resourceVersions become
 * 410 Gone), `failWith(status, forMs)` (every request answers an error for a while), `hang(forMs)`
 * (requests are accepted but never answered, as behind a partition), `stop()`/`restart()`
 * (the port goes dark, then comes back with the same objects), `kubeconfigFile()`.
 *
 * Everything is in memory; `close()` releases the port and the temporary kubeconfig.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { compileFieldSelector, compileLabelSelector, SelectorError, type Matcher } from './label-selector.js';

/** A resource the server serves. kind is the key tests use (`upsert('Service', ...)`). */
export interface ResourceInfo {
  kind: string;
  listKind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const DEFAULT_RESOURCES: readonly ResourceInfo[] = [
  { kind: 'Service', listKind: 'ServiceList', group: '', version: 'v1', plural: 'services', namespaced: true },
  {
    kind: 'EndpointSlice', listKind: 'EndpointSliceList', group: 'discovery.k8s.io', version: 'v1',
    plural: 'endpointslices', namespaced: true,
  },
  { kind: 'Node', listKind: 'NodeList', group: '', version: 'v1', plural: 'nodes', namespaced: false },
];

export type JsonObject = Record<string, any>;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  rv: number;
  kind: string;
  type: WatchEventType;
  object: JsonObject;
  /** The stored object before this event (undefined for ADDED). Needed for selector transitions. */
  previous?: JsonObject;
}

interface Watcher {
  kind: string;
  namespace: string | undefined;
  matches: Matcher;
  res: http.ServerResponse;
  bookmarkTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
}

/** One request the server answered, for assertions ("kpx relisted", "it asked with this selector"). */
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
  kind?: string;
  /** HTTP status; 410 also for a watch refused with an ERROR event; 0 for a request held by hang(). */
  status: number;
  time: number;
}

export interface FakeApiServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** BOOKMARK interval for watches that allow bookmarks; 0 disables them. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /**
   * How a watch from a compacted resourceVersion is refused: 'event' (default; HTTP 200 then one ERROR
   * event carrying a 410 Status, then the stream ends, which is what kube-apiserver's watch cache does) or
   * 'status' (HTTP 410 with a Status body).
   */
  goneAs?: 'event' | 'status';
  /** Extra resources to serve beyond Services, EndpointSlices and Nodes. */
  resources?: readonly ResourceInfo[];
}

function apiVersionOf(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

function statusBody(code: number, reason: string, message: string): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 410: 'Expired',
  429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

function clone<T>(v: T): T {
  return structuredClone(v);
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class FakeApiServer {
  private readonly opts: Required<Omit<FakeApiServerOptions, 'resources'>>;
  private readonly resources: ResourceInfo[];
  private readonly store = new Map<string, Map<string, JsonObject>>();
  private history: HistoryEvent[] = [];
  private rv = 1;
  /** Watches from a resourceVersion below this one get 410 Gone. */
  private compactedRv = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  private listenPort = 0;
  private failUntil = 0;
  private failStatus = 500;
  private hangUntil = 0;
  private tmpDir: string | undefined;
  /** Every request received, oldest first (status 0: held by hang()). Tests may clear it. */
  readonly requests: RequestRecord[] = [];

  private constructor(opts: FakeApiServerOptions) {
    this.opts = {
      host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
      goneAs: opts.goneAs ?? 'event',
    };
    this.resources = [...DEFAULT_RESOURCES, ...(opts.resources ?? [])];
    for (const r of this.resources) this.store.set(r.kind, new Map());
  }

  /** Starts a server on 127.0.0.1 (or `host`), on a free port unless `port` is given. */
  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.listen(s.opts.port);
    return s;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.listenPort}`;
  }

  /** The newest resourceVersion handed out. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  // ---------------------------------------------------------------- objects

  /**
   * upsert creates or replaces an object (kind as in ResourceInfo.kind) and notifies watchers. The server
   * fills apiVersion, kind, namespace ("default" for namespaced kinds), uid, creationTimestamp and a new
   * resourceVersion. Returns the stored copy.
   */
  upsert(kind: string, obj: JsonObject): JsonObject {
    const r = this.resource(kind);
    const stored = clone(obj);
    stored.apiVersion = apiVersionOf(r);
    stored.kind = r.kind;
    stored.metadata = { ...(stored.metadata ?? {}) };
    const name = stored.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`FakeApiServer.upsert(${kind}): metadata.name is required`);
    if (r.namespaced) stored.metadata.namespace ??= 'default';
    else delete stored.metadata.namespace;
    const map = this.store.get(kind)!;
    const key = objectKey(stored.metadata.namespace, name);
    const previous = map.get(key);
    stored.metadata.uid = previous?.metadata.uid ?? stored.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp
      ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    stored.metadata.resourceVersion = String(++this.rv);
    map.set(key, stored);
    this.record({ rv: this.rv, kind, type: previous ? 'MODIFIED' : 'ADDED', object: stored, previous });
    return clone(stored);
  }

  /** remove deletes an object (namespace is ignored for cluster-scoped kinds). Returns false if absent. */
  remove(kind: string, namespace: string | undefined, name: string): boolean {
    const r = this.resource(kind);
    const map = this.store.get(kind)!;
    const key = objectKey(r.namespaced ? (namespace ?? 'default') : undefined, name);
    const previous = map.get(key);
    if (!previous) return false;
    map.delete(key);
    const object = clone(previous);
    object.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, kind, type: 'DELETED', object, previous });
    return true;
  }

  get(kind: string, namespace: string | undefined, name: string): JsonObject | undefined {
    const r = this.resource(kind);
    const o = this.store.get(kind)!.get(objectKey(r.namespaced ? (namespace ?? 'default') : undefined, name));
    return o ? clone(o) : undefined;
  }

  list(kind: string): JsonObject[] {
    this.resource(kind);
    return [...this.store.get(kind)!.values()].map(clone);
  }

  // ---------------------------------------------------------------- faults

  /**
   * dropWatches ends every open watch. Graceful (default): the chunked response is finished, as when the
   * API server's watch timeout expires. `abrupt: true` destroys the TCP connections instead, as when a
   * load balancer or the network drops them.
   */
  dropWatches(opts: { abrupt?: boolean } = {}): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.endWatch(w, opts.abrupt === true);
    return n;
  }

  /**
   * compact forgets the change history, like etcd compaction: from now on a watch from any earlier
   * resourceVersion is answered 410 Gone and the client must relist. With `expireWatches` (default true)
   * the open watches are also told so (an ERROR event with a 410 Status, then the stream ends), which is
   * what a client sees when the watch cache is reset.
   */
  compact(opts: { expireWatches?: boolean } = {}): void {
    this.compactedRv = this.rv;
    this.history = [];
    if (opts.expireWatches ?? true) {
      for (const w of [...this.watchers]) {
        this.writeEvent(w, { type: 'ERROR', object: this.goneStatus('0') });
        this.endWatch(w, false);
      }
    }
  }

  /**
   * failWith answers every API request with `status` (and a Status body) for `forMs` milliseconds.
   * Open watches are dropped first (unless `keepWatches`), so clients meet the errors when they come back.
   */
  failWith(status: number, forMs: number, opts: { keepWatches?: boolean } = {}): void {
    this.failStatus = status;
    this.failUntil = Date.now() + forMs;
    if (!opts.keepWatches) this.dropWatches();
  }

  /** Ends a failWith early. */
  clearFailure(): void {
    this.failUntil = 0;
  }

  /**
   * hang accepts new requests for `forMs` but never answers them, like an API server behind a network
   * partition: clients only get out through their own timeouts. Open watches are dropped first (unless
   * `keepWatches`). Held requests stay open until the client gives up (or stop()/close()).
   */
  hang(forMs: number, opts: { keepWatches?: boolean } = {}): void {
    this.hangUntil = Date.now() + forMs;
    if (!opts.keepWatches) this.dropWatches();
  }

  /** Sends a BOOKMARK now on every watch that allows bookmarks. */
  sendBookmarks(): void {
    for (const w of this.watchers) if (w.bookmarkTimer) this.writeBookmark(w);
  }

  /** openWatches counts the watch streams open now (for one kind, or all). */
  openWatches(kind?: string): number {
    let n = 0;
    for (const w of this.watchers) if (kind === undefined || w.kind === kind) n++;
    return n;
  }

  /**
   * stop makes the server unreachable: it stops listening and destroys every connection. Objects are
   * kept (etcd survives an API server restart); `restart()` serves them again on the same port.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const w of [...this.watchers]) this.endWatch(w, true);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** restart listens again on the same port, with the same objects and history. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen(this.listenPort);
  }

  /** close stops the server for good and removes the kubeconfig file. */
  async close(): Promise<void> {
    await this.stop();
    if (this.tmpDir) rmSync(this.tmpDir, { recursive: true, force: true });
    this.tmpDir = undefined;
  }

  /**
   * kubeconfigFile writes a kubeconfig pointing at this server and returns its path. It sets
   * `insecure-skip-tls-verify: true` because client-node refuses plain http otherwise.
   */
  kubeconfigFile(): string {
    this.tmpDir ??= mkdtempSync(join(tmpdir(), 'kpx-fake-apiserver-'));
    const file = join(this.tmpDir, 'kubeconfig');
    writeFileSync(file, [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: fake',
      '  user:',
      '    token: fake-token',
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: fake',
      'current-context: fake',
      '',
    ].join('\n'));
    return file;
  }

  // ---------------------------------------------------------------- internals

  private resource(kind: string): ResourceInfo {
    const r = this.resources.find((x) => x.kind === kind);
    if (!r) throw new Error(`FakeApiServer: unknown kind ${kind}`);
    return r;
  }

  private async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (err) {
        // A bug here must fail the request, not crash the test process.
        if (!res.headersSent) this.sendJson(res, 500, statusBody(500, 'InternalError', String(err)));
        else res.destroy();
      }
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listenPort = (server.address() as AddressInfo).port;
  }

  private record(ev: HistoryEvent): void {
    this.history.push(ev);
    for (const w of this.watchers) {
      if (w.kind !== ev.kind) continue;
      const out = this.project(ev, w);
      if (out) this.writeEvent(w, out);
    }
  }

  /**
   * project turns a stored change into what one watcher sees, given its selectors: the watch cache's
   * rule that leaving the selection is a DELETED and entering it an ADDED.
   */
  private project(ev: HistoryEvent, w: Pick<Watcher, 'namespace' | 'matches'>): { type: string; object: JsonObject } | undefined {
    const inScope = (o: JsonObject | undefined) =>
      o !== undefined && (w.namespace === undefined || o.metadata?.namespace === w.namespace) && w.matches(o);
    const was = ev.type !== 'ADDED' && inScope(ev.previous);
    if (ev.type === 'DELETED') return was ? { type: 'DELETED', object: ev.object } : undefined;
    const is = inScope(ev.object);
    if (is && was) return { type: 'MODIFIED', object: ev.object };
    if (is) return { type: 'ADDED', object: ev.object };
    if (was) return { type: 'DELETED', object: ev.object };
    return undefined;
  }

  private goneStatus(requested: string): JsonObject {
    return statusBody(410, 'Expired', `too old resource version: ${requested} (${this.compactedRv})`);
  }

  private writeEvent(w: Watcher, ev: { type: string; object: JsonObject }): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(JSON.stringify(ev) + '\n');
  }

  private writeBookmark(w: Watcher): void {
    const r = this.resource(w.kind);
    this.writeEvent(w, {
      type: 'BOOKMARK',
      object: { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.rv) } },
    });
  }

  private endWatch(w: Watcher, abrupt: boolean): void {
    this.watchers.delete(w);
    clearInterval(w.bookmarkTimer);
    clearTimeout(w.timeoutTimer);
    if (abrupt) w.res.socket?.destroy();
    else if (!w.res.writableEnded) w.res.end();
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** route parses /api/v1[/namespaces/<ns>]/<plural>[/<name>] and /apis/<group>/<version>/... */
  private route(pathname: string): { r: ResourceInfo; namespace?: string; name?: string } | undefined {
    const parts = pathname.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      group = '';
      version = parts[1];
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1];
      version = parts[2];
      rest = parts.slice(3);
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = decodeURIComponent(rest[1]);
      rest = rest.slice(2);
    }
    if (rest.length < 1 || rest.length > 2) return undefined;
    const r = this.resources.find((x) => x.group === group && x.version === version && x.plural === rest[0]);
    if (!r || (namespace !== undefined && !r.namespaced)) return undefined;
    return { r, namespace, name: rest[1] === undefined ? undefined : decodeURIComponent(rest[1]) };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    const route = this.route(url.pathname);
    const rec: RequestRecord = {
      method: req.method ?? 'GET', path: url.pathname, query, watch, kind: route?.r.kind, status: 200, time: Date.now(),
    };
    this.requests.push(rec);
    const fail = (status: number, message: string) => {
      rec.status = status;
      this.sendJson(res, status, statusBody(status, REASONS[status] ?? 'Unknown', message));
    };

    if (Date.now() < this.hangUntil) {
      rec.status = 0; // never answered
      return;
    }
    if (Date.now() < this.failUntil) return fail(this.failStatus, 'injected failure');
    if (req.method !== 'GET') return fail(405, `method ${req.method} not allowed`);
    if (!route) return fail(404, `the server could not find the requested resource (${url.pathname})`);

    let matches: Matcher;
    try {
      const labels = compileLabelSelector(query.labelSelector);
      const fields = compileFieldSelector(query.fieldSelector, ['metadata.name', 'metadata.namespace']);
      matches = (o) => labels(o) && fields(o);
    } catch (err) {
      if (err instanceof SelectorError) return fail(400, err.message);
      throw err;
    }
    const { r, namespace, name } = route;

    if (name !== undefined && !watch) {
      const obj = this.store.get(r.kind)!.get(objectKey(r.namespaced ? namespace : undefined, name));
      if (!obj) return fail(404, `${r.plural} "${name}" not found`);
      return this.sendJson(res, 200, obj);
    }
    const nameMatch: Matcher = name === undefined ? matches : (o) => matches(o) && o !== null
      && (o as JsonObject).metadata?.name === name;
    const scope = { namespace, matches: nameMatch };

    if (!watch) return this.sendJson(res, 200, this.listBody(r, scope));
    this.startWatch(res, rec, r, scope, query);
  }

  private current(r: ResourceInfo, scope: Pick<Watcher, 'namespace' | 'matches'>): JsonObject[] {
    return [...this.store.get(r.kind)!.values()]
      .filter((o) => (scope.namespace === undefined || o.metadata.namespace === scope.namespace) && scope.matches(o))
      .sort((a, b) => objectKey(a.metadata.namespace, a.metadata.name).localeCompare(objectKey(b.metadata.namespace, b.metadata.name)));
  }

  private listBody(r: ResourceInfo, scope: Pick<Watcher, 'namespace' | 'matches'>): JsonObject {
    // Like the real server, list items carry no kind/apiVersion: the list's kind says what they are.
    const items = this.current(r, scope).map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = o;
      return rest;
    });
    return { kind: r.listKind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.rv) }, items };
  }

  private startWatch(
    res: http.ServerResponse, rec: RequestRecord, r: ResourceInfo,
    scope: Pick<Watcher, 'namespace' | 'matches'>, query: Record<string, string>,
  ): void {
    const requested = query.resourceVersion ?? '';
    const fromRv = requested === '' || requested === '0' ? undefined : Number(requested);
    if (fromRv !== undefined && (!Number.isInteger(fromRv) || fromRv < 0)) {
      rec.status = 400;
      return this.sendJson(res, 400, statusBody(400, 'BadRequest', `invalid resource version: ${requested}`));
    }
    const gone = fromRv !== undefined && fromRv < this.compactedRv;
    if (gone && this.opts.goneAs === 'status') {
      rec.status = 410;
      return this.sendJson(res, 410, this.goneStatus(requested));
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const w: Watcher = { kind: r.kind, namespace: scope.namespace, matches: scope.matches, res };
    if (gone) {
      rec.status = 410; // HTTP said 200, but the answer is "410 Gone" (as an ERROR event)
      this.writeEvent(w, { type: 'ERROR', object: this.goneStatus(requested) });
      res.end();
      return;
    }
    if (fromRv === undefined) {
      for (const o of this.current(r, scope)) this.writeEvent(w, { type: 'ADDED', object: o });
    } else {
      for (const ev of this.history) {
        if (ev.rv <= fromRv || ev.kind !== r.kind) continue;
        const out = this.project(ev, w);
        if (out) this.writeEvent(w, out);
      }
    }
    this.watchers.add(w);
    if (query.allowWatchBookmarks === 'true' && this.opts.bookmarkIntervalMs > 0) {
      w.bookmarkTimer = setInterval(() => this.writeBookmark(w), this.opts.bookmarkIntervalMs);
    }
    const timeoutSeconds = Number(query.timeoutSeconds);
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
      w.timeoutTimer = setTimeout(() => this.endWatch(w, false), timeoutSeconds * 1000);
    }
    // Only the response's 'close' means the client went away: a GET request's own 'close' fires as soon
    // as its (empty) body has been read.
    res.on('close', () => this.endWatch(w, false));
  }
}
