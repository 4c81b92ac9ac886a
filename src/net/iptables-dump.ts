/**
 * iptables-dump.ts: parses `iptables-save` output and `iptables-restore` input into typed tables, chains and
 * rules (the shape of kube-proxy's `testing/parse.go`), and prints rules back.
 *
 * Why typed fields and not regexes at each use: the tracer, the golden-test helpers and the modes all ask
 * the same questions of a rule ("which destination?", "is it probabilistic?", "where does it DNAT?"), and
 * one parser answers them the same way everywhere.
 *
 * Robustness: parsing never throws. An option the parser does not know is kept verbatim in `unknown`
 * (and the rule's `args` always hold every token), and a line it cannot place is recorded in `warnings`.
 * `ruleToString(rule)` prints the rule from its tokens, so `parse → print` round-trips (quoting is
 * normalised: a token is quoted exactly when it needs to be).
 */

/** A parameter value and whether it was negated with `!`. */
export interface MatchValue {
  readonly value: string;
  readonly negated: boolean;
}

/** `-m recent` options. `set` records the source; `rcheck`/`update` test history (never true in a trace). */
export interface RecentMatch {
  name?: string;
  set?: boolean;
  rcheck?: boolean;
  update?: boolean;
  remove?: boolean;
  /** The test (rcheck/update/remove/set) was negated with `!`. */
  negated?: boolean;
  seconds?: number;
  hitcount?: number;
  reap?: boolean;
  mask?: string;
  rsource?: boolean;
  rdest?: boolean;
}

/** `-m statistic`. */
export interface StatisticMatch {
  mode?: string;
  /** `--probability` as written (kube-proxy writes ten decimals). */
  probability?: string;
  every?: number;
  packet?: number;
}

/** `-j MARK` actions. */
export interface MarkAction {
  readonly op: 'set-mark' | 'set-xmark' | 'or-mark' | 'and-mark' | 'xor-mark';
  readonly value: string;
}

export interface IptablesRule {
  /** The chain the rule belongs to. */
  chain: string;
  /** How the line added it: `-A` appends, `-I` inserts (at `position`, 1-based, default 1). */
  op: '-A' | '-I';
  position?: number;
  /** The line as it was read (without a leading `[p:b]` counter), e.g. `-A KUBE-SERVICES -d ... -j ...`. */
  raw: string;
  /** Every token after the chain name (and the -I position), unquoted, in order. The source of truth. */
  args: string[];
  /** `[packets:bytes]` prefix from `iptables-save -c`, if any. */
  counters?: string;

  /** `-m` modules in order of appearance. */
  modules: string[];
  protocol?: MatchValue;
  source?: MatchValue;
  destination?: MatchValue;
  inInterface?: MatchValue;
  outInterface?: MatchValue;
  sourcePort?: MatchValue;
  /** `--dport` or multiport `--dports` (a comma list). */
  destinationPort?: MatchValue;
  /** `-m addrtype --src-type` (e.g. LOCAL). */
  sourceType?: MatchValue;
  /** `-m addrtype --dst-type` (e.g. LOCAL). */
  destinationType?: MatchValue;
  /** `-m mark --mark value[/mask]`: a check of the packet's mark. */
  mark?: MatchValue;
  /** `-m conntrack --ctstate` or `-m state --state`. */
  ctstate?: MatchValue;
  recent?: RecentMatch;
  statistic?: StatisticMatch;
  /** `-m set --match-set NAME FLAGS`. */
  matchSet?: { readonly name: string; readonly flags: string; readonly negated: boolean };
  comment?: string;

  /** Target: a built-in (ACCEPT, DROP, REJECT, RETURN, DNAT, SNAT, MASQUERADE, MARK, REDIRECT, ...) or a chain. */
  jump?: string;
  /** The target was given with `-g` (goto) instead of `-j`. */
  goto?: boolean;
  /** Tokens after the target name that belong to it, verbatim. */
  targetArgs: string[];
  dnatDestination?: string;
  snatSource?: string;
  redirectPorts?: string;
  markAction?: MarkAction;
  randomFully?: boolean;
  random?: boolean;
  rejectWith?: string;

  /** Options the parser does not model, each with its arguments, verbatim (negation kept as `!`). */
  unknown: string[];
}

export interface IptablesChain {
  name: string;
  /** `ACCEPT`/`DROP` for built-in chains, `-` for user chains. */
  policy: string;
  packets: number;
  bytes: number;
  /** Declared with a `:NAME` line (restore input creates or flushes it). False when only referenced by -A/-I/-F. */
  declared: boolean;
  /** The input had `-X NAME`. */
  deleted: boolean;
  /** The input had `-F NAME` (or `-F` for the whole table). */
  flushed: boolean;
  rules: IptablesRule[];
}

export interface IptablesTable {
  name: string;
  /** In order of first appearance. */
  chains: IptablesChain[];
  /** The table ended with COMMIT. */
  committed: boolean;
}

export interface IptablesDump {
  tables: IptablesTable[];
  /** Lines the parser could not place, with their line numbers. Never fatal. */
  warnings: string[];
}

/** Targets iptables provides itself; a jump to anything else is a jump to a chain. */
export const BUILTIN_TARGETS: ReadonlySet<string> = new Set([
  'ACCEPT', 'DROP', 'REJECT', 'RETURN', 'QUEUE', 'NFQUEUE', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'MARK',
  'CONNMARK', 'LOG', 'NFLOG', 'TRACE', 'CT', 'NOTRACK', 'TPROXY', 'CHECKSUM', 'TCPMSS', 'CLASSIFY', 'DSCP', 'TOS',
  'TTL', 'HL', 'SET', 'AUDIT', 'NETMAP', 'ULOG',
]);

/** Built-in chains of every table (their declarations carry a policy instead of `-`). */
export const BUILTIN_CHAINS: ReadonlySet<string> = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

// ---------------------------------------------------------------------------------------------------------
// Tokenising

/**
 * Splits a line into words the way iptables-restore does: whitespace separates, double (or single) quotes
 * group, a backslash inside quotes escapes the next character. Never throws: an unterminated quote
 * ends at the end of the line.
 */
export function tokenize(line: string): string[] {
  if (!line.includes('"') && !line.includes("'")) return line.split(/\s+/).filter((w) => w !== '');
  const out: string[] = [];
  const n = line.length;
  const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(line.charCodeAt(i))) i++;
    if (i >= n) break;
    let word = '';
    let quoted = false;
    let start = i;
    while (i < n && !isSpace(line.charCodeAt(i))) {
      const c = line.charCodeAt(i);
      if (c !== 34 && c !== 39) {
        i++;
        continue;
      }
      // A quote: take the plain run before it, then the quoted part (backslash escapes the quote or itself).
      word += line.slice(start, i);
      quoted = true;
      i++;
      let part = '';
      let runStart = i;
      while (i < n && line.charCodeAt(i) !== c) {
        if (line.charCodeAt(i) === 92 && i + 1 < n && (line.charCodeAt(i + 1) === c || line.charCodeAt(i + 1) === 92)) {
          part += line.slice(runStart, i);
          runStart = i + 1;
          i += 2;
          continue;
        }
        i++;
      }
      part += line.slice(runStart, i);
      word += part;
      i++; // the closing quote (or past the end)
      start = i;
    }
    word += line.slice(start, Math.min(i, n));
    if (word !== '' || quoted) out.push(word);
  }
  return out;
}

/** Quotes a token for an iptables-restore line when (and only when) it needs it. */
export function quoteToken(token: string): string {
  if (token !== '' && !/[\s"'\\]/.test(token)) return token;
  return '"' + token.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// ---------------------------------------------------------------------------------------------------------
// Line classification

/**
 * What one line of iptables-save output or restore input is, told without tokenising the rule: the
 * dump parser below, the line-preserving table merge of the iptables mode and the backend probes all
 * read the text through this one function.
 */
export type DumpLine =
  | { readonly type: 'blank' }
  /** `incompatibleTable`: iptables-save's note that it cannot print that table (nft objects it does not know). */
  | { readonly type: 'comment'; readonly incompatibleTable?: string }
  | { readonly type: 'table'; readonly name: string }
  | { readonly type: 'commit' }
  /** `:NAME [POLICY] [[p:b]]`; name is '' when the declaration is malformed. */
  | { readonly type: 'chain'; readonly name: string; readonly policy?: string; readonly packets?: number; readonly bytes?: number }
  /** `-A`/`-I` (optionally after `[p:b]`): the chain it adds to; parseRule reads the rest. */
  | { readonly type: 'rule'; readonly chain: string }
  /** Anything else (`-F`, `-X`, `-N`, or not understood). */
  | { readonly type: 'command' };

const CHAIN_LINE = /^:(\S+)(?:\s+(\S+))?(?:\s+\[(\d+):(\d+)\])?/;
const RULE_HEAD = /^(?:\[\d+:\d+\]\s+)?(?:-A|--append|-I|--insert)\s+(\S+)/;
const INCOMPATIBLE = /Table `(\w+)' is incompatible/;

/** classifyLine: `line` without its line break; surrounding whitespace is the caller's to trim. */
export function classifyLine(line: string): DumpLine {
  if (line === '') return { type: 'blank' };
  switch (line.charCodeAt(0)) {
    case 35: { // #
      const m = INCOMPATIBLE.exec(line);
      return m ? { type: 'comment', incompatibleTable: m[1] } : { type: 'comment' };
    }
    case 42: // *
      return { type: 'table', name: line.slice(1).trim() };
    case 58: { // :
      const m = CHAIN_LINE.exec(line);
      if (!m) return { type: 'chain', name: '' };
      return { type: 'chain', name: m[1], policy: m[2], packets: m[3] ? Number(m[3]) : undefined, bytes: m[4] ? Number(m[4]) : undefined };
    }
  }
  if (line === 'COMMIT') return { type: 'commit' };
  // The shape iptables-save prints, hundreds of thousands of times at scale: no regex for it.
  if (line.startsWith('-A ')) {
    const end = line.indexOf(' ', 3);
    const chain = line.slice(3, end < 0 ? undefined : end);
    if (chain !== '') return { type: 'rule', chain };
  }
  const m = RULE_HEAD.exec(line);
  return m ? { type: 'rule', chain: m[1] } : { type: 'command' };
}

/** The chains a save declares and how many rules it holds, across tables, without parsing the rules. */
export function saveOutline(text: string): { chains: string[]; rules: number } {
  const chains: string[] = [];
  let rules = 0;
  for (const raw of text.split('\n')) {
    const kind = classifyLine(raw.trim());
    if (kind.type === 'chain' && kind.name) chains.push(kind.name);
    else if (kind.type === 'rule') rules++;
  }
  return { chains, rules };
}

// ---------------------------------------------------------------------------------------------------------
// Rule parsing

interface Kind {
  arity: 0 | 1 | 2;
  set: (r: IptablesRule, vals: string[], negated: boolean) => void;
  /** An option of the -j target (kept in targetArgs too). */
  target?: boolean;
  /** Only meaningful after `-m <module>`; elsewhere the option is kept as unknown. */
  module?: string;
}

const mv = (value: string, negated: boolean): MatchValue => ({ value, negated });

function recentOf(r: IptablesRule): RecentMatch {
  r.recent ??= {};
  return r.recent;
}

function statisticOf(r: IptablesRule): StatisticMatch {
  r.statistic ??= {};
  return r.statistic;
}

function toInt(s: string): number | undefined {
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** Options the parser models: arity and where the value goes. `target` marks options of the -j target. */
const OPTIONS: Record<string, Kind> = {
  '-p': { arity: 1, set: (r, [v], n) => { r.protocol = mv(v.toLowerCase(), n); } },
  '-s': { arity: 1, set: (r, [v], n) => { r.source = mv(v, n); } },
  '-d': { arity: 1, set: (r, [v], n) => { r.destination = mv(v, n); } },
  '-i': { arity: 1, set: (r, [v], n) => { r.inInterface = mv(v, n); } },
  '-o': { arity: 1, set: (r, [v], n) => { r.outInterface = mv(v, n); } },
  '--sport': { arity: 1, set: (r, [v], n) => { r.sourcePort = mv(v, n); } },
  '--dport': { arity: 1, set: (r, [v], n) => { r.destinationPort = mv(v, n); } },
  '--sports': { arity: 1, set: (r, [v], n) => { r.sourcePort = mv(v, n); } },
  '--dports': { arity: 1, set: (r, [v], n) => { r.destinationPort = mv(v, n); } },
  '--src-type': { arity: 1, set: (r, [v], n) => { r.sourceType = mv(v, n); } },
  '--dst-type': { arity: 1, set: (r, [v], n) => { r.destinationType = mv(v, n); } },
  '--mark': { arity: 1, set: (r, [v], n) => { r.mark = mv(v, n); } },
  '--ctstate': { arity: 1, set: (r, [v], n) => { r.ctstate = mv(v, n); } },
  '--state': { arity: 1, set: (r, [v], n) => { r.ctstate = mv(v, n); } },
  '--comment': { arity: 1, set: (r, [v]) => { r.comment = v; } },
  '--set': { module: 'recent', arity: 0, set: (r, _v, n) => { Object.assign(recentOf(r), { set: true }, n ? { negated: true } : {}); } },
  '--rcheck': { module: 'recent', arity: 0, set: (r, _v, n) => { Object.assign(recentOf(r), { rcheck: true }, n ? { negated: true } : {}); } },
  '--update': { module: 'recent', arity: 0, set: (r, _v, n) => { Object.assign(recentOf(r), { update: true }, n ? { negated: true } : {}); } },
  '--remove': { module: 'recent', arity: 0, set: (r, _v, n) => { Object.assign(recentOf(r), { remove: true }, n ? { negated: true } : {}); } },
  '--name': { module: 'recent', arity: 1, set: (r, [v]) => { recentOf(r).name = v; } },
  '--seconds': { module: 'recent', arity: 1, set: (r, [v]) => { recentOf(r).seconds = toInt(v); } },
  '--hitcount': { module: 'recent', arity: 1, set: (r, [v]) => { recentOf(r).hitcount = toInt(v); } },
  '--reap': { module: 'recent', arity: 0, set: (r) => { recentOf(r).reap = true; } },
  '--mask': { module: 'recent', arity: 1, set: (r, [v]) => { recentOf(r).mask = v; } },
  '--rsource': { module: 'recent', arity: 0, set: (r) => { recentOf(r).rsource = true; } },
  '--rdest': { module: 'recent', arity: 0, set: (r) => { recentOf(r).rdest = true; } },
  '--mode': { arity: 1, set: (r, [v]) => { statisticOf(r).mode = v; } },
  '--probability': { arity: 1, set: (r, [v]) => { statisticOf(r).probability = v; } },
  '--every': { arity: 1, set: (r, [v]) => { statisticOf(r).every = toInt(v); } },
  '--packet': { arity: 1, set: (r, [v]) => { statisticOf(r).packet = toInt(v); } },
  '--match-set': { arity: 2, set: (r, [name, flags], n) => { r.matchSet = { name, flags, negated: n }; } },
  // Target options.
  '--to-destination': { arity: 1, target: true, set: (r, [v]) => { r.dnatDestination = v; } },
  '--to-source': { arity: 1, target: true, set: (r, [v]) => { r.snatSource = v; } },
  '--to-ports': { arity: 1, target: true, set: (r, [v]) => { r.redirectPorts = v; } },
  '--set-mark': { arity: 1, target: true, set: (r, [v]) => { r.markAction = { op: 'set-mark', value: v }; } },
  '--set-xmark': { arity: 1, target: true, set: (r, [v]) => { r.markAction = { op: 'set-xmark', value: v }; } },
  '--or-mark': { arity: 1, target: true, set: (r, [v]) => { r.markAction = { op: 'or-mark', value: v }; } },
  '--and-mark': { arity: 1, target: true, set: (r, [v]) => { r.markAction = { op: 'and-mark', value: v }; } },
  '--xor-mark': { arity: 1, target: true, set: (r, [v]) => { r.markAction = { op: 'xor-mark', value: v }; } },
  '--random-fully': { arity: 0, target: true, set: (r) => { r.randomFully = true; } },
  '--random': { arity: 0, target: true, set: (r) => { r.random = true; } },
  '--reject-with': { arity: 1, target: true, set: (r, [v]) => { r.rejectWith = v; } },
};

/** Long spellings iptables accepts for the short options above. */
const ALIASES: Record<string, string> = {
  '--protocol': '-p', '--source': '-s', '--src': '-s', '--destination': '-d', '--dst': '-d',
  '--in-interface': '-i', '--out-interface': '-o', '--source-port': '--sport', '--destination-port': '--dport',
  '--source-ports': '--sports', '--destination-ports': '--dports',
};

function emptyRule(chain: string, op: '-A' | '-I', raw: string): IptablesRule {
  return { chain, op, raw, args: [], modules: [], targetArgs: [], unknown: [] };
}

/**
 * Fills a rule's typed fields from its argument tokens (everything after the chain name). Unknown options
 * take the tokens after them that do not look like options, and are kept in `unknown`.
 */
function fillRule(rule: IptablesRule, args: string[]): void {
  rule.args = args;
  let negated = false;
  let inTarget = false;
  for (let w = 0; w < args.length;) {
    const tok = args[w];
    if (tok === '!') {
      negated = true;
      w++;
      continue;
    }
    if (tok === '-m' || tok === '--match') {
      if (w + 1 < args.length) rule.modules.push(args[w + 1]);
      w += 2;
      negated = false;
      continue;
    }
    if (tok === '-j' || tok === '--jump' || tok === '-g' || tok === '--goto') {
      if (w + 1 < args.length) {
        rule.jump = args[w + 1];
        if (tok === '-g' || tok === '--goto') rule.goto = true;
      }
      inTarget = true;
      w += 2;
      negated = false;
      continue;
    }
    const name = ALIASES[tok] ?? tok;
    const kind = OPTIONS[name];
    if (kind && (!kind.module || rule.modules.includes(kind.module))) {
      // Old-style negation after the option ("-s ! 1.2.3.4").
      let start = w + 1;
      if (kind.arity > 0 && args[start] === '!') {
        negated = true;
        start++;
      }
      const vals = args.slice(start, start + kind.arity);
      if (vals.length < kind.arity) {
        rule.unknown.push(...(negated ? ['!'] : []), ...args.slice(w));
        break;
      }
      kind.set(rule, vals, negated);
      if (inTarget && kind.target) rule.targetArgs.push(...args.slice(w, start + kind.arity));
      w = start + kind.arity;
      negated = false;
      continue;
    }
    // Anything else: an option with the following non-option tokens as its arguments.
    let end = w + 1;
    if (tok.startsWith('-')) while (end < args.length && !args[end].startsWith('-') && args[end] !== '!') end++;
    const chunk = args.slice(w, end);
    if (inTarget) rule.targetArgs.push(...chunk);
    else rule.unknown.push(...(negated ? ['!'] : []), ...chunk);
    w = end;
    negated = false;
  }
}

/**
 * Parses one rule line (`-A CHAIN ...` or `-I CHAIN [n] ...`, optionally prefixed with `[p:b]`).
 * Returns undefined when the line is not a rule at all.
 */
export function parseRule(line: string): IptablesRule | undefined {
  let text = line.trim();
  let counters: string | undefined;
  const m = /^\[(\d+:\d+)\]\s+/.exec(text);
  if (m) {
    counters = m[1];
    text = text.slice(m[0].length);
  }
  const tokens = tokenize(text);
  const op = tokens[0] === '-A' || tokens[0] === '--append' ? '-A' : tokens[0] === '-I' || tokens[0] === '--insert' ? '-I' : undefined;
  if (!op || tokens.length < 2) return undefined;
  const rule = emptyRule(tokens[1], op, text);
  if (counters) rule.counters = counters;
  let rest = tokens.slice(2);
  if (op === '-I' && rest.length > 0 && /^\d+$/.test(rest[0])) {
    rule.position = Number(rest[0]);
    rest = rest.slice(1);
  }
  fillRule(rule, rest);
  return rule;
}

/** Prints a rule as an iptables-restore line; `parseRule(ruleToString(r))` gives back the same rule. */
export function ruleToString(rule: IptablesRule): string {
  const head = rule.op === '-I' && rule.position !== undefined ? `-I ${rule.chain} ${rule.position}` : `${rule.op} ${rule.chain}`;
  return rule.args.length ? `${head} ${rule.args.map(quoteToken).join(' ')}` : head;
}

// ---------------------------------------------------------------------------------------------------------
// Dump parsing

/**
 * Name → chain index per table, so lookups stay O(1) on dumps with tens of thousands of chains. Rebuilt
 * when the chain list changed length (callers may add or drop chains); order changes need no rebuild.
 */
const chainIndex = new WeakMap<IptablesTable, { size: number; byName: Map<string, IptablesChain> }>();

function indexOf(table: IptablesTable): Map<string, IptablesChain> {
  let idx = chainIndex.get(table);
  if (!idx || idx.size !== table.chains.length) {
    idx = { size: table.chains.length, byName: new Map(table.chains.map((c) => [c.name, c])) };
    chainIndex.set(table, idx);
  }
  return idx.byName;
}

function chainIn(table: IptablesTable, name: string): IptablesChain {
  const byName = indexOf(table);
  let c = byName.get(name);
  if (!c) {
    c = { name, policy: BUILTIN_CHAINS.has(name) ? 'ACCEPT' : '-', packets: 0, bytes: 0, declared: false, deleted: false, flushed: false, rules: [] };
    table.chains.push(c);
    byName.set(name, c);
    chainIndex.get(table)!.size = table.chains.length;
  }
  return c;
}

/**
 * Parses iptables-save output or iptables-restore input. Comments, blank lines and counters are
 * understood; `-A`/`-I` add rules, `-F` flushes (a chain or the table), `-X` marks a chain deleted,
 * `-N` declares one. Anything else is kept as a warning; parsing never throws.
 */
export function parseIptablesDump(text: string): IptablesDump {
  const dump: IptablesDump = { tables: [], warnings: [] };
  let table: IptablesTable | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const at = `line ${i + 1}`;
    const kind = classifyLine(line);
    if (kind.type === 'blank' || kind.type === 'comment') continue;
    if (kind.type === 'table') {
      if (table && !table.committed) dump.warnings.push(`${at}: table ${table.name} has no COMMIT before ${line}`);
      const name = kind.name;
      table = dump.tables.find((t) => t.name === name);
      if (table) table.committed = false;
      else {
        table = { name, chains: [], committed: false };
        dump.tables.push(table);
      }
      continue;
    }
    if (!table) {
      dump.warnings.push(`${at}: outside any table: ${line}`);
      continue;
    }
    if (kind.type === 'commit') {
      table.committed = true;
      continue;
    }
    if (kind.type === 'chain') {
      if (kind.name === '') {
        dump.warnings.push(`${at}: bad chain declaration: ${line}`);
        continue;
      }
      const c = chainIn(table, kind.name);
      c.declared = true;
      c.policy = kind.policy ?? (BUILTIN_CHAINS.has(kind.name) ? 'ACCEPT' : '-');
      c.packets = kind.packets ?? 0;
      c.bytes = kind.bytes ?? 0;
      continue;
    }
    const rule = kind.type === 'rule' ? parseRule(line) : undefined;
    if (rule) {
      const c = chainIn(table, rule.chain);
      if (c.deleted) dump.warnings.push(`${at}: rule added to deleted chain ${c.name}`);
      if (rule.op === '-I') {
        const idx = Math.min(Math.max((rule.position ?? 1) - 1, 0), c.rules.length);
        c.rules.splice(idx, 0, rule);
      } else c.rules.push(rule);
      continue;
    }
    const tokens = tokenize(line);
    const cmd = tokens[0];
    if (cmd === '-F' || cmd === '--flush') {
      const targets = tokens[1] ? [chainIn(table, tokens[1])] : table.chains;
      for (const c of targets) {
        c.rules = [];
        c.flushed = true;
      }
      continue;
    }
    if (cmd === '-X' || cmd === '--delete-chain') {
      if (tokens[1]) {
        const c = chainIn(table, tokens[1]);
        if (c.rules.length) dump.warnings.push(`${at}: chain ${c.name} deleted after rules were added to it`);
        c.deleted = true;
      } else for (const c of table.chains) if (!BUILTIN_CHAINS.has(c.name)) c.deleted = true;
      continue;
    }
    if ((cmd === '-N' || cmd === '--new-chain') && tokens[1]) {
      chainIn(table, tokens[1]).declared = true;
      continue;
    }
    dump.warnings.push(`${at}: not understood: ${line}`);
  }
  if (table && !table.committed) dump.warnings.push(`table ${table.name} has no COMMIT`);
  return dump;
}

export function getTable(dump: IptablesDump, name: string): IptablesTable | undefined {
  return dump.tables.find((t) => t.name === name);
}

export function getChain(dump: IptablesDump, table: string, chain: string): IptablesChain | undefined {
  const t = getTable(dump, table);
  return t ? indexOf(t).get(chain) : undefined;
}

/**
 * Prints a dump in kube-proxy's canonical order: per table, the chain declarations, then every chain's
 * rules in declaration order, then the `-X` lines. (Chains only referenced, never declared, get no
 * declaration line, so restore input with `--noflush` round-trips.)
 */
export function dumpToString(dump: IptablesDump): string {
  let out = '';
  for (const t of dump.tables) {
    out += `*${t.name}\n`;
    for (const c of t.chains) if (c.declared) out += `:${c.name} ${c.policy} [${c.packets}:${c.bytes}]\n`;
    for (const c of t.chains) for (const r of c.rules) out += `${ruleToString(r)}\n`;
    for (const c of t.chains) if (c.deleted) out += `-X ${c.name}\n`;
    out += 'COMMIT\n';
  }
  return out;
}
