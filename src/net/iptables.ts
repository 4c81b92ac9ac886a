/**
 * iptables.ts: the one wrapper around iptables / ip6tables and their -save / -restore tools. It handles
 * the tools' quirks once: the xtables lock (`-w`, plus retries when another program holds it), the nft
 * vs. legacy backends (kpx uses the one the node already uses), feature probes (--random-fully), and
 * restore errors that name the failing input line with its neighbours. No kpx policy lives here.
 */
import type { IPFamily } from '../model/types.js';
import { CommandError, IptablesRestoreError, errorMessage } from '../util/errors.js';
import { exec, type ExecResult } from './exec.js';
import { saveOutline } from './iptables-dump.js';
import { nfGeneration } from './nf-generation.js';

export type IptablesTable = 'nat' | 'filter' | 'mangle' | 'raw';
export type IptablesBackend = 'nft' | 'legacy';

export interface IptablesOptions {
  family: IPFamily;
  /** Run every command inside this named network namespace (tests, sandbox). */
  netns?: string;
  /** Seconds to wait for the xtables lock (`-w`); default 5. */
  waitSeconds?: number;
  /** Force a backend instead of detecting it. */
  backend?: IptablesBackend;
  /** Told each time a command found the xtables lock held past its `-w` wait and will be retried. */
  onLockWait?: (attempt: number) => void;
}

const LOCK_MESSAGE = 'Another app is currently holding the xtables lock';

const LOCK_RETRIES = 3;

/** The rule lines of a restore input around `line` (1-based), numbered, for error messages. */
export function extractLines(data: string, line: number, around = 3): string {
  const lines = data.split('\n');
  const from = Math.max(1, line - around);
  const to = Math.min(lines.length, line + around);
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${i === line ? '>' : ' '}${String(i).padStart(6)}: ${lines[i - 1]}`);
  return out.join('\n');
}

/** The failing line number in an iptables-restore error ("line 12 failed", "Error occurred at line: 12"). */
export function failedLineOf(stderr: string): number | undefined {
  const m = /line:? (\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export interface RestoreOptions {
  /** Touch only the chains named in the input; without it every table in the input is replaced whole. */
  readonly noFlush?: boolean;
  /** Restore the `[packets:bytes]` counters given in the input. */
  readonly counters?: boolean;
}

/** What the iptables mode needs of iptables: the real tool (Iptables) or a fake that keeps parsed tables. */
export interface IptablesClient {
  restore(data: string, opts?: RestoreOptions): Promise<void>;
  save(table?: IptablesTable): Promise<string>;
  /** nf_tables' ruleset generation; undefined with the legacy backend or when unreadable. */
  generation(): Promise<number | undefined>;
  hasRandomFully(): Promise<boolean>;
  chainExists(table: IptablesTable, chain: string): Promise<boolean>;
  /** Creates a chain if missing; true when it already existed. */
  ensureChain(table: IptablesTable, chain: string): Promise<boolean>;
  /** Adds a rule unless an identical one exists; true when it existed. */
  ensureRule(position: 'append' | 'prepend', table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean>;
}

export class Iptables implements IptablesClient {
  readonly family: IPFamily;
  readonly netns: string | undefined;
  private readonly wait: string;
  private backendP: Promise<IptablesBackend> | undefined;
  private randomFullyP: Promise<boolean> | undefined;
  private readonly onLockWait: ((attempt: number) => void) | undefined;

  constructor(opts: IptablesOptions) {
    this.family = opts.family;
    this.netns = opts.netns;
    this.wait = String(opts.waitSeconds ?? 5);
    this.onLockWait = opts.onLockWait;
    if (opts.backend) this.backendP = Promise.resolve(opts.backend);
  }

  /**
   * The backend the node already uses: whichever of iptables-nft-save / iptables-legacy-save shows KUBE-
   * chains, else the one holding any rules, else nft (Debian's default). Decided once.
   */
  backend(): Promise<IptablesBackend> {
    this.backendP ??= this.detectBackend();
    return this.backendP;
  }

  private async detectBackend(): Promise<IptablesBackend> {
    const v6 = this.family === 'IPv6';
    const nft = await this.tryRun(v6 ? 'ip6tables-nft-save' : 'iptables-nft-save', []);
    // Only ask legacy when this namespace has legacy tables at all: running iptables-legacy-save would
    // otherwise create them (and load x_tables modules) just to find them empty.
    const names = await this.tryRun('cat', [v6 ? '/proc/net/ip6_tables_names' : '/proc/net/ip_tables_names']);
    const legacy = names && names.trim() ? await this.tryRun(v6 ? 'ip6tables-legacy-save' : 'iptables-legacy-save', []) : '';
    if (nft === null && legacy) return 'legacy';
    const l = saveOutline(legacy ?? '');
    const n = saveOutline(nft ?? '');
    const kube = (o: { chains: string[] }) => o.chains.some((c) => c.startsWith('KUBE-'));
    if (kube(l) && !kube(n)) return 'legacy';
    if (kube(n)) return 'nft';
    return l.rules > n.rules ? 'legacy' : 'nft';
  }

  private async tryRun(cmd: string, args: string[]): Promise<string | null> {
    try {
      return (await exec(cmd, args, { netns: this.netns, timeoutMs: 60_000 })).stdout;
    } catch {
      return null;
    }
  }

  /** The binary for a tool: "" → iptables-nft, "-save" → iptables-nft-save, ... */
  async binary(suffix: '' | '-save' | '-restore'): Promise<string> {
    const base = this.family === 'IPv6' ? 'ip6tables' : 'iptables';
    return `${base}-${await this.backend()}${suffix}`;
  }

  /** Runs a tool, retrying while another program holds the xtables lock past our `-w` wait. */
  private async run(suffix: '' | '-save' | '-restore', args: string[], input?: string, okCodes?: number[]): Promise<ExecResult> {
    const bin = await this.binary(suffix);
    for (let attempt = 0; ; attempt++) {
      try {
        return await exec(bin, args, { netns: this.netns, input, okCodes, timeoutMs: 300_000 });
      } catch (err) {
        if (err instanceof CommandError && err.stderr.includes(LOCK_MESSAGE) && attempt < LOCK_RETRIES) {
          this.onLockWait?.(attempt + 1);
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Feeds `data` to iptables-restore on stdin. With noFlush, only the chains named in the input are
   * touched; without it every table in the input is replaced whole. Throws IptablesRestoreError naming the
   * failing line and its neighbours.
   */
  async restore(data: string, opts: RestoreOptions = {}): Promise<void> {
    const args = ['-w', this.wait];
    if (opts.noFlush) args.push('--noflush');
    if (opts.counters) args.push('--counters');
    try {
      await this.run('-restore', args, data);
    } catch (err) {
      const stderr = err instanceof CommandError ? err.stderr : errorMessage(err);
      const line = failedLineOf(stderr);
      const context = line ? extractLines(data, line) : '';
      const first = stderr.trim().split('\n').slice(0, 3).join(' | ');
      throw new IptablesRestoreError(
        `iptables-restore failed${line ? ` at line ${line}` : ''}: ${first}${context ? '\n' + context : ''}`, line, context, { cause: err });
    }
  }

  /**
   * generation: nf_tables' ruleset generation in this namespace. The kernel bumps it on every committed
   * nftables transaction (any table, any program), so an unchanged number proves nobody changed any rule.
   * undefined with the legacy backend or when it cannot be read.
   */
  async generation(): Promise<number | undefined> {
    try {
      if ((await this.backend()) !== 'nft') return undefined;
      return await nfGeneration(this.netns);
    } catch {
      return undefined;
    }
  }

  /** iptables-save of one table (or all tables). */
  async save(table?: IptablesTable): Promise<string> {
    return (await this.run('-save', table ? ['-t', table] : [])).stdout;
  }

  /** MASQUERADE --random-fully needs iptables >= 1.6.2 (kube-proxy checks the same version). */
  hasRandomFully(): Promise<boolean> {
    this.randomFullyP ??= (async () => {
      try {
        const out = (await this.run('', ['--version'])).stdout;
        const m = /v(\d+)\.(\d+)\.(\d+)/.exec(out);
        if (!m) return false;
        const [maj, min, pat] = [Number(m[1]), Number(m[2]), Number(m[3])];
        return maj > 1 || (maj === 1 && (min > 6 || (min === 6 && pat >= 2)));
      } catch {
        return false;
      }
    })();
    return this.randomFullyP;
  }

  async chainExists(table: IptablesTable, chain: string): Promise<boolean> {
    const res = await this.run('', ['-w', this.wait, '-t', table, '-S', chain], undefined, [0, 1]);
    return res.code === 0;
  }

  /** Creates a chain if missing; returns true when it already existed. */
  async ensureChain(table: IptablesTable, chain: string): Promise<boolean> {
    const res = await this.run('', ['-w', this.wait, '-t', table, '-N', chain], undefined, [0, 1]);
    if (res.code === 0) return false;
    if (/exists/i.test(res.stderr)) return true;
    throw new CommandError(`${await this.binary('')} -t ${table} -N ${chain}`, res.code, res.stderr);
  }

  /** Adds a rule unless an identical one exists (checked with -C); returns true when it existed. */
  async ensureRule(position: 'append' | 'prepend', table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean> {
    const check = await this.run('', ['-w', this.wait, '-t', table, '-C', chain, ...args], undefined, [0, 1, 2]);
    if (check.code === 0) return true;
    await this.run('', ['-w', this.wait, '-t', table, position === 'append' ? '-A' : '-I', chain, ...args]);
    return false;
  }

  /** Deletes a rule; a missing rule or chain is not an error. Returns true when a rule was deleted. */
  async deleteRule(table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean> {
    const res = await this.run('', ['-w', this.wait, '-t', table, '-D', chain, ...args], undefined, [0, 1, 2]);
    return res.code === 0;
  }

  /** Flushes a chain; a missing chain is not an error. */
  async flushChain(table: IptablesTable, chain: string): Promise<void> {
    await this.run('', ['-w', this.wait, '-t', table, '-F', chain], undefined, [0, 1]);
  }

  /** Deletes an (empty, unreferenced) chain; a missing chain is not an error. */
  async deleteChain(table: IptablesTable, chain: string): Promise<void> {
    await this.run('', ['-w', this.wait, '-t', table, '-X', chain], undefined, [0, 1]);
  }
}
