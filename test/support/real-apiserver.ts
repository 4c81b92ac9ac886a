/**
 * real-apiserver.ts (test support): a real kube-apiserver and etcd inside one namespace of a sandbox,
 * on that namespace's loopback, next to kpx, so kpx's kube source is tested against the real thing and
 * not only against our fake (fake-apiserver.ts).
 *
 * The binaries follow envtest's convention: KUBEBUILDER_ASSETS names a folder holding `kube-apiserver`
 * and `etcd`; without it, the folder scripts/setup.sh prepares (.cache/kubebuilder-assets). Where
 * neither holds them, `realApiServerSkipReason()` says so in one line and the suite is skipped.
 *
 * The server is set up as a cluster's would be, minimally: TLS with self-generated serving certificates
 * (--cert-dir; the kubeconfigs trust their CA), a service-account key pair, static tokens for an admin
 * (system:masters) and for the user `system:kube-proxy` (bound to system:node-proxier by the default
 * policy), and --authorization-mode=Node,RBAC. etcd, kube-apiserver and kpx are the sandbox's processes
 * (stopped by pid with it, also when the test process dies); the test reaches them through a small
 * agent process in the same namespace (real-apiserver-agent.ts), since the host cannot reach it.
 * An audit log records the requests of the users a test names (auditEvents()): what kpx asked for, and
 * what it was answered.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { BackgroundProcess } from '../../src/sandbox/background.js';
import type { Sandbox } from '../../src/sandbox/builder.js';
import { nodeBinary, packageRoot } from '../../src/sandbox/scripts.js';
import { JsonLineProcess } from './chaos-process.js';
import { pollUntil } from './poll-until.js';
import { AGENT_ENTRY, type HttpAnswer, type HttpCommand, type ManyAnswer } from './real-apiserver-agent.js';

export const APISERVER_PORT = 6443;
export const ETCD_PORT = 2379;
/** The service CIDR the API server allocates ClusterIPs from. */
export const SERVICE_CIDR = '10.96.0.0/16';

export type JsonObject = Record<string, any>;

/** The folder holding kube-apiserver and etcd, or undefined. */
export function kubebuilderAssets(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.KUBEBUILDER_ASSETS || join(packageRoot(), '.cache', 'kubebuilder-assets');
  try {
    for (const bin of ['kube-apiserver', 'etcd']) accessSync(join(dir, bin), constants.X_OK);
  } catch {
    return undefined;
  }
  return dir;
}

/** Why the real-apiserver suite cannot run here (one line), or undefined. */
export function realApiServerSkipReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (kubebuilderAssets(env)) return undefined;
  const where = env.KUBEBUILDER_ASSETS ? `KUBEBUILDER_ASSETS=${env.KUBEBUILDER_ASSETS}` : '.cache/kubebuilder-assets';
  return `no kube-apiserver and etcd in ${where} (set KUBEBUILDER_ASSETS, or run scripts/setup.sh where ../shared/assets has the binary)`;
}

interface ResourcePath {
  prefix: string;
  plural: string;
  namespaced: boolean;
}

const RESOURCES: Record<string, ResourcePath> = {
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  EndpointSlice: { prefix: '/apis/discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  Node: { prefix: '/api/v1', plural: 'nodes', namespaced: false },
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
};

/** The collection path of a kind (in `namespace` for namespaced kinds), e.g. /api/v1/namespaces/default/services. */
export function collectionPath(kind: string, namespace = 'default'): string {
  const r = RESOURCES[kind];
  if (!r) throw new Error(`real-apiserver: no path known for kind ${kind}`);
  return r.namespaced ? `${r.prefix}/namespaces/${namespace}/${r.plural}` : `${r.prefix}/${r.plural}`;
}

function objectPath(obj: JsonObject): string {
  const kind = String(obj.kind);
  return `${collectionPath(kind, obj.metadata?.namespace ?? 'default')}/${encodeURIComponent(String(obj.metadata?.name))}`;
}

/** An error answer of the API server, with its status. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RealApiServerOptions {
  /** The API server's watch cache (default on, as in clusters). Off, watches are served by etcd itself. */
  watchCache?: boolean;
  /** The address the API server advertises (its `kubernetes` Service endpoint): the node's address. */
  advertiseAddress: string;
  /** Users whose requests the audit log records (auditEvents()); default system:kube-proxy. */
  auditedUsers?: readonly string[];
}

/**
 * One request as the API server's audit log recorded it (level Metadata): at ResponseComplete, and for
 * a watch also at ResponseStarted (a watch completes only when it ends).
 */
export interface AuditEvent {
  stage: 'ResponseStarted' | 'ResponseComplete';
  user: string;
  verb: string;
  resource: string;
  namespace?: string;
  code: number;
  requestURI: string;
  /** When the request arrived, ms since the epoch. */
  at: number;
}

/** A TCP relay to the API server (relay()): kpx connects through it, the test cuts it. */
export interface ApiRelay {
  /** The server URL to give kpx. */
  readonly server: string;
  /** Ends every connection through the relay and refuses new ones; resolves with how many were ended. */
  cut(): Promise<number>;
  restore(): Promise<void>;
}

export class RealApiServer {
  readonly url = `https://127.0.0.1:${APISERVER_PORT}`;
  /** A kubeconfig for the user system:kube-proxy (kube-proxy's own credentials in kubeadm clusters). */
  readonly kubeProxyKubeconfig: string;
  readonly adminKubeconfig: string;
  private readonly adminToken = randomBytes(16).toString('hex');
  private readonly kubeProxyToken = randomBytes(16).toString('hex');
  private readonly assets: string;
  private readonly dir: string;
  private readonly certDir: string;
  private etcd: BackgroundProcess | undefined;
  private apiserver: BackgroundProcess | undefined;
  private agent: JsonLineProcess | undefined;
  private kubeconfigSeq = 0;

  private constructor(private readonly sb: Sandbox, readonly ns: string, private readonly opts: RealApiServerOptions) {
    const assets = kubebuilderAssets();
    if (!assets) throw new Error(realApiServerSkipReason());
    this.assets = assets;
    // Inside the sandbox's private directory: removed with the sandbox even if stop() never runs.
    this.dir = mkdtempSync(join(sb.tmpDir, 'apiserver-'));
    this.certDir = join(this.dir, 'certs');
    this.adminKubeconfig = this.writeKubeconfig('admin', this.adminToken);
    this.kubeProxyKubeconfig = this.writeKubeconfig('kube-proxy', this.kubeProxyToken);
  }

  /** Starts etcd and kube-apiserver in `ns` (a namespace of `sb`) and waits until the API server is ready. */
  static async start(sb: Sandbox, ns: string, opts: RealApiServerOptions): Promise<RealApiServer> {
    if (!sb.namespaces().includes(ns)) throw new Error(`${ns} is not a namespace of sandbox ${sb.prefix}`);
    const api = new RealApiServer(sb, ns, opts);
    try {
      api.writeCredentials();
      api.agent = new JsonLineProcess({
        ns, label: `apiserver agent in ${ns}`, cmd: nodeBinary(), cwd: packageRoot(),
        args: ['--import', 'tsx', AGENT_ENTRY, '--expect-netns', ns, '--ca', api.caFile],
        onLine: process.env.KPX_SANDBOX_DEBUG ? (l) => process.stderr.write(`[apiserver agent] ${l}\n`) : undefined,
      });
      await api.agent.waitForEvent((e) => e.event === 'ready', 30_000);
      await api.startEtcd();
      await api.startApiServer();
    } catch (e) {
      await api.stop().catch(() => undefined);
      throw e;
    }
    return api;
  }

  /** The CA the API server's self-generated serving certificate chains to (the file holds both). */
  get caFile(): string {
    return join(this.certDir, 'apiserver.crt');
  }

  private get auditLog(): string {
    return join(this.dir, 'audit.log');
  }

  /** The system:kube-proxy user's kubeconfig for another server address (a relay()). */
  kubeProxyKubeconfigFor(server: string): string {
    return this.writeKubeconfig('kube-proxy', this.kubeProxyToken, server);
  }

  /** Writes a kubeconfig for a bearer token; `server` defaults to the API server itself. */
  writeKubeconfig(user: string, token: string, server = this.url): string {
    const file = join(this.dir, `kubeconfig-${user}-${this.kubeconfigSeq++}`);
    const config = {
      apiVersion: 'v1', kind: 'Config',
      clusters: [{ name: 'sandbox', cluster: { server, 'certificate-authority': this.caFile } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'sandbox', user } }],
      'current-context': user,
    };
    writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    return file;
  }

  // ---------------------------------------------------------------- API requests (as the admin)

  /** One request to the API server; `token` defaults to the admin's. */
  async request(method: string, path: string, body?: unknown, opts: { token?: string; contentType?: string } = {}): Promise<HttpAnswer> {
    return this.call<HttpAnswer>('http', this.httpCommand(method, path, body, opts));
  }

  /** Like request(), but an answer that is not 2xx throws ApiError. */
  async ok(method: string, path: string, body?: unknown, opts: { token?: string; contentType?: string } = {}): Promise<JsonObject> {
    const r = await this.request(method, path, body, opts);
    if (r.status < 200 || r.status >= 300) throw new ApiError(r.status, `${method} ${path}: ${r.status} ${describe(r.body)}`);
    return r.body as JsonObject;
  }

  /** Creates or updates an object (server-side apply: fields this test set before and not now are removed). */
  apply(obj: JsonObject): Promise<JsonObject> {
    return this.ok('PATCH', `${objectPath(obj)}?fieldManager=kpx-e2e&force=true`, obj, { contentType: 'application/apply-patch+yaml' });
  }

  /** Deletes an object; one already gone is fine. */
  async remove(kind: string, namespace: string | undefined, name: string): Promise<void> {
    const r = await this.request('DELETE', `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`);
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new ApiError(r.status, `delete ${kind} ${name}: ${r.status} ${describe(r.body)}`);
  }

  /**
   * Creates many objects with `concurrency` requests in flight; throws on the first that failed.
   * Returns, per object, the fields named in `pick` (dotted paths) of what the server stored.
   */
  async createMany(objects: readonly JsonObject[], opts: { concurrency?: number; pick?: readonly string[] } = {}): Promise<Record<string, unknown>[]> {
    const requests = objects.map((o) => this.httpCommand('POST', collectionPath(String(o.kind), o.metadata?.namespace ?? 'default'), o, {}));
    const answers = await this.call<ManyAnswer[]>('httpMany', { requests, concurrency: opts.concurrency ?? 32, pick: opts.pick ?? [] }, 300_000);
    const failed = answers.findIndex((a) => a.status !== 201);
    if (failed >= 0) throw new ApiError(answers[failed]!.status, `create ${objects[failed]!.kind} ${objects[failed]!.metadata?.name}: ${answers[failed]!.status} ${answers[failed]!.error}`);
    return answers.map((a) => a.picked ?? {});
  }

  /** A token for a service account, from the API's TokenRequest (signed with the service-account key). */
  async serviceAccountToken(namespace: string, name: string): Promise<string> {
    const r = await this.ok('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 },
    });
    return String(r.status.token);
  }

  /** The requests of the audited users so far, oldest first. */
  auditEvents(): AuditEvent[] {
    if (!existsSync(this.auditLog)) return [];
    const out: AuditEvent[] = [];
    for (const line of readFileSync(this.auditLog, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let e: JsonObject;
      try { e = JSON.parse(line) as JsonObject; } catch { continue; } // a line being written
      if (e.stage !== 'ResponseComplete' && e.stage !== 'ResponseStarted') continue;
      out.push({
        stage: e.stage,
        user: String(e.user?.username), verb: String(e.verb), resource: String(e.objectRef?.resource ?? ''),
        ...(e.objectRef?.namespace ? { namespace: String(e.objectRef.namespace) } : {}),
        code: Number(e.responseStatus?.code), requestURI: String(e.requestURI), at: Date.parse(String(e.requestReceivedTimestamp)),
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- faults

  /**
   * Compacts etcd at its current revision (the etcd v3 HTTP gateway): every resourceVersion before it is
   * gone, so a watch resuming from one gets 410 Gone where etcd serves it. Returns the revision.
   */
  async compactEtcd(): Promise<number> {
    const etcd = `http://127.0.0.1:${ETCD_PORT}`;
    // The key "\0" (base64 AA==) with keys_only: any range answers with the store's current revision.
    const range = await this.call<HttpAnswer>('http', { url: `${etcd}/v3/kv/range`, method: 'POST', body: { key: 'AA==', limit: 1, keys_only: true } });
    const revision = Number((range.body as JsonObject)?.header?.revision);
    if (range.status !== 200 || !Number.isFinite(revision)) throw new Error(`etcd range: ${range.status} ${describe(range.body)}`);
    const c = await this.call<HttpAnswer>('http', { url: `${etcd}/v3/kv/compaction`, method: 'POST', body: { revision: String(revision), physical: true } });
    if (c.status !== 200) throw new Error(`etcd compaction at ${revision}: ${c.status} ${describe(c.body)}`);
    return revision;
  }

  /**
   * A TCP relay to the API server on `port` of the namespace's loopback, for a kpx that must be cut off
   * while the API server goes on (the serving certificate names 127.0.0.1, so TLS through it is verified
   * as usual; kubeProxyKubeconfigFor(relay.server) is the kubeconfig).
   */
  async relay(port: number): Promise<ApiRelay> {
    await this.call('relay', { port, targetPort: APISERVER_PORT });
    return {
      server: `https://127.0.0.1:${port}`,
      cut: () => this.call<number>('relayCut', { port }),
      restore: () => this.call<void>('relayRestore', { port }),
    };
  }

  /**
   * Stops kube-apiserver (etcd and its data stay): SIGTERM, then SIGKILL after 3 s, since a 1.26 server's
   * graceful shutdown waits for the open watches (kpx's), which end only with the process.
   */
  async stopApiServer(): Promise<void> {
    await this.apiserver?.stop(3000);
    this.apiserver = undefined;
  }

  /** Starts kube-apiserver (again) and waits until /readyz answers ok. */
  async startApiServer(): Promise<void> {
    if (this.apiserver && !this.apiserver.hasExited()) throw new Error('kube-apiserver is running already');
    const args = [
      `--etcd-servers=http://127.0.0.1:${ETCD_PORT}`,
      '--bind-address=127.0.0.1', `--secure-port=${APISERVER_PORT}`,
      `--advertise-address=${this.opts.advertiseAddress}`,
      `--cert-dir=${this.certDir}`,
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      `--watch-cache=${this.opts.watchCache ?? true}`,
      `--audit-policy-file=${join(this.dir, 'audit-policy.json')}`,
      `--audit-log-path=${this.auditLog}`,
      '--profiling=false',
    ];
    const proc = this.sb.startProcess(this.ns, 'kube-apiserver', join(this.assets, 'kube-apiserver'), args, { cwd: this.dir });
    this.apiserver = proc;
    await this.waitReady(proc, `${this.url}/readyz`, (r) => r.status === 200, 60_000);
  }

  /** Stops the API server and starts it again on the same etcd, certificates and keys. */
  async restart(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /** Stops everything by pid and removes the data (etcd's, certificates, kubeconfigs). Idempotent. */
  async stop(): Promise<void> {
    if (this.agent && !this.agent.hasExited()) {
      await this.agent.call('shutdown', {}, 5000).catch(() => undefined);
      await this.agent.stop(2000);
    }
    await this.apiserver?.stop(5000);
    await this.etcd?.stop(5000);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last output lines of kube-apiserver (for failure messages). */
  apiServerOutput(): string {
    return this.apiserver?.outputTail() ?? '';
  }

  // ---------------------------------------------------------------- internals

  private writeCredentials(): void {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    writeFileSync(join(this.dir, 'sa.pub'), publicKey);
    writeFileSync(join(this.dir, 'sa.key'), privateKey, { mode: 0o600 });
    // token,user,uid,"group,..." (the API server's static token file).
    writeFileSync(join(this.dir, 'tokens.csv'), [
      `${this.adminToken},kpx-e2e-admin,kpx-e2e-admin,"system:masters"`,
      `${this.kubeProxyToken},system:kube-proxy,system:kube-proxy`,
    ].join('\n') + '\n', { mode: 0o600 });
    const policy = {
      apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'],
      rules: [{ level: 'Metadata', users: [...(this.opts.auditedUsers ?? ['system:kube-proxy'])] }, { level: 'None' }],
    };
    writeFileSync(join(this.dir, 'audit-policy.json'), JSON.stringify(policy));
  }

  private async startEtcd(): Promise<void> {
    const local = `http://127.0.0.1:${ETCD_PORT}`;
    const args = [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${local}`, `--advertise-client-urls=${local}`,
      `--listen-peer-urls=http://127.0.0.1:${ETCD_PORT + 1}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ETCD_PORT + 1}`,
      `--initial-cluster=default=http://127.0.0.1:${ETCD_PORT + 1}`,
      // A test's etcd dies with the test: durability across power loss buys nothing here.
      '--unsafe-no-fsync',
    ];
    this.etcd = this.sb.startProcess(this.ns, 'etcd', join(this.assets, 'etcd'), args, { cwd: this.dir });
    await this.waitReady(this.etcd, `${local}/health`, (r) => r.status === 200 && (r.body as JsonObject)?.health === 'true', 30_000);
  }

  private async waitReady(proc: BackgroundProcess, url: string, ready: (r: HttpAnswer) => boolean, timeoutMs: number): Promise<void> {
    let last = '';
    await pollUntil(async () => {
      if (proc.hasExited()) throw new Error(`${proc.label} exited before it was ready\n${proc.outputTail()}`);
      try {
        const r = await this.call<HttpAnswer>('http', { url, headers: { authorization: `Bearer ${this.adminToken}` } }, 5000);
        last = `${r.status} ${describe(r.body)}`;
        return ready(r);
      } catch (e) {
        last = (e as Error).message.split('\n')[0]!;
        return false;
      }
    }, { timeoutMs, intervalMs: 200, message: () => `${proc.label} not ready at ${url} (last: ${last})\n${proc.outputTail()}` });
  }

  private httpCommand(method: string, path: string, body: unknown, opts: { token?: string; contentType?: string }): HttpCommand {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? this.adminToken}` };
    if (opts.contentType) headers['content-type'] = opts.contentType;
    return { url: `${this.url}${path}`, method, headers, ...(body === undefined ? {} : { body }) };
  }

  private call<T>(cmd: string, args: object, timeoutMs = 60_000): Promise<T> {
    if (!this.agent) throw new Error('the API server agent is not running');
    return this.agent.call<T>(cmd, args as Record<string, unknown>, timeoutMs);
  }
}

function describe(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body) return String((body as JsonObject).message);
  return (typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 300);
}
