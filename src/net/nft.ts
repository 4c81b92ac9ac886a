/**
 * nft.ts: the one wrapper around the `nft` tool: a transaction through `nft -f -` (atomic: the kernel commits
 * all of it or none), and the JSON readers (`nft -j list table`, `nft -j list ruleset`). A rejected
 * transaction throws NftError naming the failing input line with its neighbours. No kpx policy lives here.
 */
import { CommandError, KpxError, errorMessage } from '../util/errors.js';
import { exec } from './exec.js';
import { extractLines } from './iptables.js';
import { nfGeneration } from './nf-generation.js';
import type { NftFamily, NftTransaction } from './nft-transaction.js';

/** nft rejected a transaction; `line` is the failing input line (1-based) and `context` its neighbours. */
export class NftError extends KpxError {
  readonly line: number | undefined;
  readonly context: string;
  /** The object the command named does not exist (nft's ENOENT). */
  readonly notFound: boolean;
  constructor(message: string, line: number | undefined, context: string, notFound: boolean, options?: { cause?: unknown }) {
    super('KPX_NFT', message, options);
    this.name = 'NftError';
    this.line = line;
    this.context = context;
    this.notFound = notFound;
  }
}

/** The failing line in nft's error output ("/dev/stdin:12:5-9: Error: ..."). */
export function nftFailedLine(stderr: string): number | undefined {
  const m = /^(?:\/dev\/stdin|-):(\d+):/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** NftError for a rejected input, with the failing line and its neighbours. */
export function nftError(input: string, stderr: string, cause?: unknown): NftError {
  const line = nftFailedLine(stderr);
  const context = line ? extractLines(input, line) : '';
  const first = /Error: (.*)/.exec(stderr)?.[1] ?? (stderr.trim().split('\n')[0] ?? '');
  return new NftError(`nft -f failed${line ? ` at line ${line}` : ''}: ${first}${context ? '\n' + context : ''}`, line, context,
    /No such file or directory/.test(stderr), { cause });
}

/** `nft -j` output: a list of one-key objects ({ table }, { chain }, { rule }, { set }, { map }, ...). */
export interface NftJson {
  readonly nftables: readonly Readonly<Record<string, Record<string, unknown> | undefined>>[];
}

/** What a table holds, counted: enough to tell whether someone changed it. */
export interface NftTableSummary {
  /** Chain name -> number of rules. */
  readonly chains: ReadonlyMap<string, number>;
  /** Set or map name -> its elements and timeout (seconds, when it has one). */
  readonly sets: ReadonlyMap<string, { readonly kind: 'set' | 'map'; readonly elements: number; readonly timeoutSeconds?: number }>;
}

/** Counts the chains, rules, sets and elements of one table in `nft -j list` output. */
export function summarizeTable(json: NftJson, family: NftFamily, table: string): NftTableSummary {
  const chains = new Map<string, number>();
  const sets = new Map<string, { kind: 'set' | 'map'; elements: number; timeoutSeconds?: number }>();
  const mine = (o: Record<string, unknown>) => o.family === family && o.table === table;
  for (const entry of json.nftables) {
    if (entry.chain && mine(entry.chain)) chains.set(String(entry.chain.name), chains.get(String(entry.chain.name)) ?? 0);
  }
  for (const entry of json.nftables) {
    if (entry.rule && mine(entry.rule)) {
      const c = String(entry.rule.chain);
      chains.set(c, (chains.get(c) ?? 0) + 1);
    }
    for (const kind of ['set', 'map'] as const) {
      const s = entry[kind];
      if (!s || !mine(s)) continue;
      const elem = Array.isArray(s.elem) ? s.elem.length : 0;
      sets.set(String(s.name), { kind, elements: elem, ...(typeof s.timeout === 'number' ? { timeoutSeconds: s.timeout } : {}) });
    }
  }
  return { chains, sets };
}

/** What the nftables mode needs of nft: the real tool (Nft) or a fake that keeps parsed tables. */
export interface NftClient {
  /** Runs one transaction atomically; throws NftError when nft rejects it. An empty one is not run. */
  run(tx: NftTransaction | string): Promise<void>;
  /** `nft -j list table FAMILY NAME`; undefined when the table does not exist. */
  listTable(family: NftFamily, table: string): Promise<NftJson | undefined>;
  /** `nft -j list ruleset`. */
  listRuleset(): Promise<NftJson>;
  /** nf_tables' ruleset generation (nf-generation.ts); undefined when unreadable. */
  generation(): Promise<number | undefined>;
}

export interface NftOptions {
  /** Run every command inside this named network namespace (tests, sandbox). */
  readonly netns?: string;
}

export class Nft implements NftClient {
  readonly netns: string | undefined;

  constructor(opts: NftOptions = {}) {
    this.netns = opts.netns;
  }

  async run(tx: NftTransaction | string): Promise<void> {
    const input = typeof tx === 'string' ? tx : tx.toString();
    if (input === '') return;
    try {
      await exec('nft', ['-f', '-'], { input, netns: this.netns, timeoutMs: 300_000 });
    } catch (err) {
      throw nftError(input, err instanceof CommandError ? err.stderr : errorMessage(err), err);
    }
  }

  async generation(): Promise<number | undefined> {
    try {
      return await nfGeneration(this.netns);
    } catch {
      return undefined;
    }
  }

  async listTable(family: NftFamily, table: string): Promise<NftJson | undefined> {
    try {
      return JSON.parse((await exec('nft', ['-j', 'list', 'table', family, table], { netns: this.netns, timeoutMs: 300_000 })).stdout) as NftJson;
    } catch (err) {
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
      throw err;
    }
  }

  async listRuleset(): Promise<NftJson> {
    return JSON.parse((await exec('nft', ['-j', 'list', 'ruleset'], { netns: this.netns, timeoutMs: 300_000 })).stdout) as NftJson;
  }
}
