/**
 * traffic.ts: "from this namespace, to this address and port, who answers, and whom did they see?"
 *
 * Every request runs in traffic-client.mjs inside the namespace (ip netns exec), batched: one process
 * sends a whole series, because spawning Node per request costs ~50 ms. The client refuses to run in
 * the host's namespace, so a mistake here cannot send test traffic from the host.
 */
import { statSync } from 'node:fs';
import { exec } from '../net/exec.js';
import { CommandError } from '../util/errors.js';
import { assertSandboxNamespace } from './netns.js';
import { nodeBinary, scriptPath } from './scripts.js';

export type Proto = 'tcp' | 'udp';

export interface RequestOptions {
  /** Source address to bind (the external client has two). */
  localAddress?: string;
  /** Fixed source port (a UDP "connection" kept across requests). */
  localPort?: number;
  /** Per request; default 2000 ms for TCP, 1000 ms for UDP. */
  timeoutMs?: number;
  /** HTTP path for TCP (default "/"). */
  path?: string;
}

export interface Answer {
  readonly pod: string;
  readonly clientAddr: string;
  readonly clientPort: number;
  /** The port the pod's server answered on (after any DNAT). */
  readonly port: number;
  /** HTTP status (TCP only). */
  readonly status?: number;
  readonly body: string;
  /** How long the request took, measured inside the namespace. */
  readonly ms: number;
}

/** refused: RST or ICMP port unreachable; closed: accepted, then closed without an answer. */
export type RequestError = 'refused' | 'timeout' | 'unreachable' | 'reset' | 'closed' | 'bad-response' | string;

export interface Failure {
  readonly error: RequestError;
  readonly detail?: string;
  /** How long until it failed, measured inside the namespace (a refusal is quick, a drop is not). */
  readonly ms: number;
}

export type RequestResult = Answer | Failure;

export function isAnswer(r: RequestResult): r is Answer {
  return !('error' in r);
}

interface RawResult {
  ok: boolean;
  error?: string;
  detail?: string;
  pod?: string;
  clientAddr?: string;
  clientPort?: number;
  port?: number;
  status?: number;
  body?: string;
  ms?: number;
  last?: number;
  queued?: number;
}

export interface ClientRequest {
  kind: 'tcp' | 'udp' | 'wait-sync';
  addr: string;
  port: number;
  path?: string;
  localAddress?: string;
  localPort?: number;
  timeoutMs?: number;
  since?: number;
  requireQueued?: boolean;
}

/** Raised when the client refused to run (host namespace) or could not run at all. */
export class TrafficClientError extends Error {
  readonly refused: boolean;
  constructor(message: string, refused: boolean) {
    super(message);
    this.name = 'TrafficClientError';
    this.refused = refused;
  }
}

/**
 * Runs one batch of requests in `fromNs`. `fromNs: null` runs the client in this process's own
 * namespace: it then refuses unless every target is loopback (used to prove that refusal).
 */
export async function runClient(fromNs: string | null, requests: readonly ClientRequest[], concurrency = 4): Promise<RawResult[]> {
  if (fromNs !== null) assertSandboxNamespace(fromNs);
  // Our own namespace is the host's (the sandbox is driven from there): the client refuses to run in it.
  const hostNetnsIno = statSync('/proc/self/ns/net').ino;
  const input = JSON.stringify({ hostNetnsIno, expectNetns: fromNs ?? undefined, concurrency, requests });
  const longest = requests.reduce((m, r) => Math.max(m, r.timeoutMs ?? 2000), 0);
  const budget = 15_000 + Math.ceil(requests.length / concurrency) * longest;
  try {
    const res = await exec(nodeBinary(), [scriptPath('traffic-client.mjs')], { netns: fromNs ?? undefined, input, timeoutMs: budget });
    return JSON.parse(res.stdout) as RawResult[];
  } catch (e) {
    if (e instanceof CommandError) throw new TrafficClientError(`traffic client in ${fromNs ?? 'this namespace'}: ${e.stderr.trim() || e.message}`, e.exitCode === 3);
    throw e;
  }
}

function toResult(r: RawResult): RequestResult {
  if (!r.ok) return { error: r.error ?? 'error', ...(r.detail ? { detail: r.detail } : {}), ms: r.ms ?? 0 };
  return {
    pod: r.pod ?? '',
    clientAddr: r.clientAddr ?? '',
    clientPort: r.clientPort ?? 0,
    port: r.port ?? 0,
    ...(r.status !== undefined ? { status: r.status } : {}),
    body: r.body ?? '',
    ms: r.ms ?? 0,
  };
}

function clientRequest(addr: string, port: number, proto: Proto, opts: RequestOptions): ClientRequest {
  return { kind: proto, addr, port, ...opts };
}

/** One request. */
export async function request(fromNs: string | null, addr: string, port: number, proto: Proto = 'tcp', opts: RequestOptions = {}): Promise<RequestResult> {
  const [r] = await runClient(fromNs, [clientRequest(addr, port, proto, opts)], 1);
  return toResult(r!);
}

export interface Distribution {
  readonly results: readonly RequestResult[];
  /** Answers per pod name. */
  readonly byPod: ReadonlyMap<string, number>;
  /** Failures per error kind. */
  readonly errors: ReadonlyMap<string, number>;
  /** Every client address the pods saw. */
  readonly clientAddrs: ReadonlySet<string>;
  /** Sorted pod names that answered. */
  readonly pods: readonly string[];
}

export function summarize(results: readonly RequestResult[]): Distribution {
  const byPod = new Map<string, number>();
  const errors = new Map<string, number>();
  const clientAddrs = new Set<string>();
  for (const r of results) {
    if (isAnswer(r)) {
      byPod.set(r.pod, (byPod.get(r.pod) ?? 0) + 1);
      clientAddrs.add(r.clientAddr);
    } else {
      errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
    }
  }
  return { results, byPod, errors, clientAddrs, pods: [...byPod.keys()].sort() };
}

export interface ManyOptions extends RequestOptions {
  /** Requests in flight at once (default 4; 1 when localPort is fixed). */
  concurrency?: number;
}

/** `count` requests (a new connection each) in one client process, summarised by pod. */
export async function requestMany(fromNs: string | null, addr: string, port: number, proto: Proto, count: number, opts: ManyOptions = {}): Promise<Distribution> {
  const { concurrency, ...one } = opts;
  const reqs = Array.from({ length: count }, () => clientRequest(addr, port, proto, one));
  const raw = await runClient(fromNs, reqs, opts.localPort ? 1 : (concurrency ?? 4));
  return summarize(raw.map(toResult));
}

/**
 * Waits, from inside `ns`, until kpx's metrics show a sync finished after `since` (seconds since the
 * epoch) with nothing pending. requireQueued: the change must also have been queued after `since`
 * (an update, as opposed to the first sync).
 */
export async function waitForSyncMetrics(ns: string, metricsAddr: string, metricsPort: number, since: number, opts: { requireQueued?: boolean; timeoutMs?: number } = {}): Promise<{ last: number; queued: number }> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const [r] = await runClient(ns, [{ kind: 'wait-sync', addr: metricsAddr, port: metricsPort, since, requireQueued: opts.requireQueued ?? false, timeoutMs }], 1);
  if (!r?.ok) throw new Error(`kpx in ${ns} did not finish a sync within ${timeoutMs} ms (${r?.detail ?? r?.error})`);
  return { last: r.last ?? 0, queued: r.queued ?? 0 };
}
