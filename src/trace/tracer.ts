/**
 * tracer.ts: walks a parsed iptables dump for one packet and says where it goes, with kube-proxy's
 * tracePacket semantics (pkg/proxy/iptables/proxier_test.go), so flow tables written for kube-proxy
 * mean the same here:
 *
 *  1. nat PREROUTING runs first (kube-proxy's tracer does this even for packets from the node itself;
 *     `natChain: 'OUTPUT'` runs the node's own output hook instead). Jumps are followed recursively.
 *  2. A jump to KUBE-MARK-MASQ sets `masq` and the chain goes on. DNAT records `ip:port` and ends the
 *     chain; ACCEPT, DROP and REJECT are terminal too; RETURN leaves the current chain.
 *  3. A jump that carries `-m statistic --probability` does not end the calling chain even when the
 *     sub-chain ended, so every endpoint a random choice could pick is collected.
 *  4. A rule matches when -s/-d (CIDR, `!`), -p, --dport and --src-type/--dst-type LOCAL (node IPs plus
 *     loopback, 127.0.0.0/8 included) all match, and --sport when the packet has a source port. A rule that
 *     checks history (`-m recent --rcheck/--update`, `-m mark`, conntrack state) never matches, so
 *     affinity and ctstate are not simulated. Anything else (interfaces, comments, nfacct, ...) is assumed
 *     to match, except `-m set` (ipset contents are not in a dump: such rules match only against
 *     `opts.ipsets`, and otherwise never).
 *  5. After nat, the destination becomes the first DNAT target; then the filter chains KUBE-SERVICES,
 *     KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL (kube-proxy's order) and KUBE-FORWARD run.
 *     POSTROUTING is implied by `masq`.
 *
 * Output: the comma-joined endpoints ("10.180.0.4:80, 10.180.0.5:80"), or ACCEPT / DROP / REJECT,
 * or "" when nothing matched.
 */
import type { IptablesChain, IptablesDump, IptablesRule, MatchValue } from '../net/iptables-dump.js';
import { BUILTIN_TARGETS, getChain } from '../net/iptables-dump.js';
import { addressInSpec, isLoopback, parsePacketIP, portInSpec, sameIP, splitHostPort } from './ip-match.js';

export interface TracePacketInput {
  /** Source address. */
  readonly src: string;
  /** tcp, udp or sctp (any case). */
  readonly proto: string;
  /** Destination address. */
  readonly dst: string;
  readonly dport: number;
  /** Source port; without it, rules testing --sport are assumed to match (as kube-proxy's tracer does). */
  readonly sport?: number;
}

export interface TraceOptions {
  /** The nat chain the packet enters: PREROUTING (kube-proxy's tracer, the default) or OUTPUT (sent by the node). */
  readonly natChain?: string;
  /** Filter chains run after nat, in order (default: kube-proxy's list plus KUBE-FORWARD). */
  readonly filterChains?: readonly string[];
  /** The chain that marks for masquerade (default KUBE-MARK-MASQ). */
  readonly markMasqChain?: string;
  /** ipset contents by set name, for `-m set --match-set` rules; sets not given never match. */
  readonly ipsets?: ReadonlyMap<string, readonly string[]>;
}

/** One rule the packet matched, where it was, and what it did. */
export interface TraceStep {
  readonly table: string;
  readonly chain: string;
  /** 1-based position of the rule in its chain. */
  readonly index: number;
  /** Nesting depth (0 for the entry chain). */
  readonly depth: number;
  readonly rule: string;
  readonly comment?: string;
  /** What the match did: a jump, masquerade mark, DNAT, a verdict, RETURN, or another built-in target. */
  readonly action: 'jump' | 'goto' | 'mark-masq' | 'dnat' | 'redirect' | 'accept' | 'drop' | 'reject' | 'return' | 'other';
  /** The jump carried a --probability: later rules of the same chain still run. */
  readonly probabilistic: boolean;
  /** The target (chain name, DNAT destination, verdict). */
  readonly target: string;
}

export interface TraceResult {
  /** Raw text of every matched rule, in order (kube-proxy's `matches`). */
  readonly matched: string[];
  /** Comma-joined endpoints or verdicts; "" when nothing matched. */
  readonly output: string;
  /** The packet was marked for masquerade. */
  readonly masq: boolean;
  /** Every DNAT destination collected (all of them, for random choices). */
  readonly endpoints: string[];
  /** ACCEPT / DROP / REJECT when a filter or nat verdict was reached. */
  readonly verdicts: string[];
  /** The destination the filter chains saw (the first DNAT target's address, or the original). */
  readonly rewrittenDst: string;
  readonly steps: TraceStep[];
  /** Things the tracer could not evaluate (unknown ipsets, jump loops, missing tables). */
  readonly notes: string[];
}

export const DEFAULT_FILTER_CHAINS: readonly string[] = [
  'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FORWARD',
];

const MAX_DEPTH = 64;

const PROTOCOL_NUMBERS: Record<string, string> = { '6': 'tcp', '17': 'udp', '132': 'sctp', '1': 'icmp', '58': 'ipv6-icmp' };

interface Packet {
  src: string;
  proto: string;
  dst: string;
  dport: number;
  sport?: number;
}

class Tracer {
  readonly matched: string[] = [];
  readonly outputs: string[] = [];
  readonly endpoints: string[] = [];
  readonly verdicts: string[] = [];
  readonly steps: TraceStep[] = [];
  readonly notes: string[] = [];
  masq = false;

  constructor(
    private readonly dump: IptablesDump,
    private readonly localIPs: readonly string[],
    private readonly opts: TraceOptions,
  ) {}

  private isLocal(ip: string): boolean {
    return isLoopback(ip) || this.localIPs.some((l) => sameIP(l, ip));
  }

  private note(msg: string): void {
    if (!this.notes.includes(msg)) this.notes.push(msg);
  }

  private valueMatches(v: MatchValue | undefined, test: (value: string) => boolean): boolean {
    if (!v) return true;
    const hit = test(v.value);
    return v.negated ? !hit : hit;
  }

  private addressMatches(v: MatchValue | undefined, ip: string): boolean {
    return this.valueMatches(v, (spec) => spec.split(',').some((s) => addressInSpec(ip, s)));
  }

  private typeMatches(v: MatchValue | undefined, ip: string): boolean {
    return this.valueMatches(v, (spec) => {
      const types = spec.split(',');
      if (types.includes('LOCAL') && this.isLocal(ip)) return true;
      // Only LOCAL is modelled; UNICAST is assumed for any non-local, non-multicast address.
      if (types.includes('UNICAST') && !this.isLocal(ip)) return true;
      return false;
    });
  }

  private protoMatches(v: MatchValue | undefined, proto: string): boolean {
    return this.valueMatches(v, (spec) => {
      const p = PROTOCOL_NUMBERS[spec] ?? spec;
      return p === 'all' || p === '0' || p === proto;
    });
  }

  private setMatches(rule: IptablesRule, p: Packet): boolean {
    const ms = rule.matchSet;
    if (!ms) return true;
    const members = this.opts.ipsets?.get(ms.name);
    if (!members) {
      this.note(`ipset ${ms.name} contents unknown: rules matching it were treated as not matching`);
      return false;
    }
    const flags = ms.flags.split(',');
    const hit = members.some((entry) => {
      const parts = entry.split(',');
      return flags.every((f, i) => {
        const part = parts[i];
        if (part === undefined) return true;
        const ip = f === 'src' ? p.src : p.dst;
        if (i === 0 || parsePacketIP(part.split('/')[0]) || part.includes('/')) return addressInSpec(ip, part);
        // "tcp:80" / "udp:53" port entries.
        const [proto, port] = part.includes(':') ? part.split(':') : ['tcp', part];
        return proto === p.proto && Number(port) === (f === 'src' ? p.sport : p.dport);
      });
    });
    return ms.negated ? !hit : hit;
  }

  /** kube-proxy's ruleMatches: every sub-match must hold; history checks never do. */
  ruleMatches(rule: IptablesRule, p: Packet): boolean {
    if (!this.addressMatches(rule.source, p.src)) return false;
    if (!this.typeMatches(rule.sourceType, p.src)) return false;
    if (!this.protoMatches(rule.protocol, p.proto)) return false;
    if (!this.addressMatches(rule.destination, p.dst)) return false;
    if (!this.typeMatches(rule.destinationType, p.dst)) return false;
    if (rule.destinationPort && !this.valueMatches(rule.destinationPort, (s) => portInSpec(p.dport, s))) return false;
    if (rule.sourcePort) {
      // Like any sub-match kube-proxy's tracer does not model, a source-port test is assumed to match when
      // the packet has no source port.
      if (p.sport === undefined) this.note('rules testing the source port were assumed to match (no source port given)');
      else if (!this.valueMatches(rule.sourcePort, (s) => portInSpec(p.sport!, s))) return false;
    }
    // History: affinity checks, marks and conntrack state are not simulated, so these never match.
    if (rule.recent && (rule.recent.rcheck || rule.recent.update)) return false;
    if (rule.mark || rule.ctstate) return false;
    if (!this.setMatches(rule, p)) return false;
    return true;
  }

  /** Runs a chain; true when it reached a terminal target (DNAT or a verdict). */
  runChain(table: string, chainName: string, p: Packet, depth: number): boolean {
    const chain: IptablesChain | undefined = getChain(this.dump, table, chainName);
    if (!chain) return false;
    if (depth > MAX_DEPTH) {
      this.note(`jump depth above ${MAX_DEPTH} at ${table}/${chainName}: stopped (a jump loop?)`);
      return false;
    }
    const markMasq = this.opts.markMasqChain ?? 'KUBE-MARK-MASQ';
    for (let i = 0; i < chain.rules.length; i++) {
      const rule = chain.rules[i];
      if (!rule.jump) continue;
      if (!this.ruleMatches(rule, p)) continue;
      this.matched.push(rule.raw);
      const probabilistic = rule.statistic?.probability !== undefined;
      const step = (action: TraceStep['action'], target: string): void => {
        this.steps.push({ table, chain: chainName, index: i + 1, depth, rule: rule.raw, comment: rule.comment, action, probabilistic, target });
      };
      const target = rule.jump;
      if (target === markMasq) {
        this.masq = true;
        step('mark-masq', target);
        continue;
      }
      switch (target) {
        case 'ACCEPT':
        case 'DROP':
        case 'REJECT':
          step(target.toLowerCase() as 'accept' | 'drop' | 'reject', target);
          this.outputs.push(target);
          this.verdicts.push(target);
          return true;
        case 'DNAT': {
          const dest = rule.dnatDestination ?? '';
          step('dnat', dest);
          this.outputs.push(dest);
          this.endpoints.push(dest);
          return true;
        }
        case 'REDIRECT': {
          const dest = `REDIRECT:${rule.redirectPorts ?? ''}`;
          step('redirect', dest);
          this.outputs.push(dest);
          this.endpoints.push(dest);
          return true;
        }
        case 'RETURN':
          step('return', target);
          return false;
        default:
          break;
      }
      if (BUILTIN_TARGETS.has(target)) {
        // MARK, LOG, MASQUERADE, ...: no effect on where the packet goes.
        step('other', target);
        continue;
      }
      step(rule.goto ? 'goto' : 'jump', target);
      const terminated = this.runChain(table, target, p, depth + 1);
      if (rule.goto) return terminated;
      // A terminal sub-chain ends this chain too, unless the jump was a random choice: then later rules
      // (the other endpoints) are still collected.
      if (terminated && !probabilistic) return true;
    }
    return false;
  }
}

/** The host part of a DNAT destination ("ip:port", "[ip6]:port", "a-b:ports") as an address. */
function dnatHost(dest: string): string {
  const { host } = splitHostPort(dest);
  return host.split('-')[0];
}

/**
 * tracePacket: what happens to a packet with these addresses under this dump. `nodeIPs` are the node's
 * own addresses (for `--src-type/--dst-type LOCAL`; loopback is always local).
 */
export function tracePacket(dump: IptablesDump, packet: TracePacketInput, nodeIPs: readonly string[], opts: TraceOptions = {}): TraceResult {
  const tracer = new Tracer(dump, nodeIPs, opts);
  const p: Packet = { src: packet.src, proto: packet.proto.toLowerCase(), dst: packet.dst, dport: packet.dport, sport: packet.sport };
  if (!dump.tables.some((t) => t.name === 'nat')) tracer.notes.push('the dump has no nat table');
  tracer.runChain('nat', opts.natChain ?? 'PREROUTING', p, 0);
  // Pending DNAT rewrites the destination the filter rules see.
  if (tracer.endpoints.length > 0) {
    const host = dnatHost(tracer.endpoints[0]);
    if (parsePacketIP(host)) p.dst = host;
  }
  for (const chain of opts.filterChains ?? DEFAULT_FILTER_CHAINS) tracer.runChain('filter', chain, p, 0);
  return {
    matched: tracer.matched,
    output: tracer.outputs.join(', '),
    masq: tracer.masq,
    endpoints: tracer.endpoints,
    verdicts: tracer.verdicts,
    rewrittenDst: p.dst,
    steps: tracer.steps,
    notes: tracer.notes,
  };
}
