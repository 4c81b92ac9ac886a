/**
 * trace-command.ts: `kpx trace <src> <dst>:<port>[/tcp|udp|sctp]`: where would this packet go under the
 * node's live iptables rules (or a saved dump)? Prints the chain path, every reachable endpoint, the
 * verdict and whether the packet is masqueraded. kube-proxy has no such command; its tests have the
 * tracer this wraps (src/trace/tracer.ts).
 *
 * Exit status: 0 when the trace ran (whatever its answer), 2 for bad arguments, 1 when the rules could
 * not be read.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { exec as realExec, type ExecOptions, type ExecResult } from '../net/exec.js';
import { parseIptablesDump } from '../net/iptables-dump.js';
import { tracePacket, type TracePacketInput } from '../trace/tracer.js';
import { explainTrace } from '../trace/explain.js';
import { isLoopback, sameIP } from '../trace/ip-match.js';
import { errorMessage } from '../util/errors.js';

export const TRACE_USAGE = `usage: kpx trace <src> <dst>:<port>[/tcp|udp|sctp] [options]
  <src>                 source address of the packet
  <dst>:<port>          destination address and port ([v6addr]:port for IPv6); protocol defaults to tcp
options:
  --from-file FILE      trace against a saved iptables-save dump ("-" reads stdin) instead of the live rules
  --netns NAME          read the live rules (and node addresses) inside network namespace NAME
  --node-ip IP          an address of the node (repeatable, or comma-separated); default: the host's addresses
  --nat-chain CHAIN     nat chain the packet enters (default: OUTPUT for a source on the node, else PREROUTING)
  --json                print the result as JSON
`;

/** What the command touches outside itself; tests give their own streams and files. */
export interface TraceDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  exec: (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;
  readFile: (path: string) => Promise<string>;
  readStdin: () => Promise<string>;
  hostAddresses: () => string[];
}

export interface TraceArgs {
  packet: TracePacketInput;
  fromFile?: string;
  netns?: string;
  nodeIPs: string[];
  natChain?: string;
  json: boolean;
  help: boolean;
}

class UsageError extends Error {}

function stripZone(ip: string): string {
  const i = ip.indexOf('%');
  return i >= 0 ? ip.slice(0, i) : ip;
}

/** Parses "<dst>:<port>[/proto]" with IPv6 in brackets. */
function parseDestination(arg: string): { dst: string; dport: number; proto: string } {
  let rest = arg;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new UsageError(`protocol "${proto}" in "${arg}" is not tcp, udp or sctp`);
  }
  let host: string;
  let port: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') throw new UsageError(`"${arg}" is not [ipv6]:port`);
    host = rest.slice(1, end);
    port = rest.slice(end + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw new UsageError(`"${arg}" has no port: write <dst>:<port>`);
    host = rest.slice(0, colon);
    port = rest.slice(colon + 1);
    if (host.includes(':')) throw new UsageError(`"${arg}": write IPv6 destinations as [addr]:port`);
  }
  if (!isIP(host)) throw new UsageError(`"${host}" is not an IP address`);
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new UsageError(`port "${port}" is not 1-65535`);
  return { dst: host, dport: Number(port), proto };
}

/** Parses the command line (the words after `trace`). Throws UsageError with one clear line. */
export function parseTraceArgs(argv: readonly string[]): TraceArgs {
  const positional: string[] = [];
  const nodeIPs: string[] = [];
  let fromFile: string | undefined;
  let netns: string | undefined;
  let natChain: string | undefined;
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '-h':
      case '--help': help = true; break;
      case '--json': json = true; break;
      case '--from-file': fromFile = value(); break;
      case '--netns': netns = value(); break;
      case '--nat-chain': natChain = value(); break;
      case '--node-ip':
        for (const ip of value().split(',').map((s) => s.trim()).filter(Boolean)) {
          if (!isIP(stripZone(ip))) throw new UsageError(`--node-ip "${ip}" is not an IP address`);
          nodeIPs.push(stripZone(ip));
        }
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        positional.push(argv[i]);
    }
  }
  if (help) return { packet: { src: '', proto: 'tcp', dst: '', dport: 0 }, nodeIPs, json, help, fromFile, netns, natChain };
  if (positional.length !== 2) throw new UsageError(`expected <src> and <dst>:<port>, got ${positional.length} argument(s)`);
  const src = positional[0];
  if (!isIP(src)) throw new UsageError(`source "${src}" is not an IP address`);
  const { dst, dport, proto } = parseDestination(positional[1]);
  if (isIP(src) !== isIP(dst)) throw new UsageError(`source ${src} and destination ${dst} are of different IP families`);
  if (fromFile !== undefined && netns !== undefined) throw new UsageError('--from-file and --netns exclude each other');
  return { packet: { src, proto, dst, dport }, fromFile, netns, nodeIPs, natChain, json, help };
}

/** The addresses of a namespace's interfaces, from `ip -j addr show`. */
async function netnsAddresses(deps: TraceDeps, netns: string): Promise<string[]> {
  const res = await deps.exec('ip', ['-j', 'addr', 'show'], { netns, timeoutMs: 10_000 });
  const links = JSON.parse(res.stdout) as { addr_info?: { local?: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? '')).filter((ip) => isIP(ip));
}

const defaultDeps: TraceDeps = {
  stdout: process.stdout,
  stderr: process.stderr,
  exec: realExec,
  readFile: (path) => readFile(path, 'utf8'),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  },
  hostAddresses: () => Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => stripZone(a.address))),
};

/** Entry point: resolves with the exit status. */
export async function runTrace(argv: string[], deps: Partial<TraceDeps> = {}): Promise<number> {
  const d: TraceDeps = { ...defaultDeps, ...deps };
  let args: TraceArgs;
  try {
    args = parseTraceArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    d.stderr.write(`kpx trace: ${err.message} (see kpx trace --help)\n`);
    return 2;
  }
  if (args.help) {
    d.stdout.write(TRACE_USAGE);
    return 0;
  }
  const v6 = isIP(args.packet.dst) === 6;
  let text: string;
  let nodeIPs = args.nodeIPs;
  try {
    if (args.fromFile === '-') text = await d.readStdin();
    else if (args.fromFile !== undefined) text = await d.readFile(args.fromFile);
    else {
      const res = await d.exec(v6 ? 'ip6tables-save' : 'iptables-save', [], { netns: args.netns, timeoutMs: 60_000 });
      text = res.stdout;
    }
    if (nodeIPs.length === 0) nodeIPs = args.netns ? await netnsAddresses(d, args.netns) : d.hostAddresses();
  } catch (err) {
    d.stderr.write(`kpx trace: cannot read the rules: ${errorMessage(err).split('\n')[0]}\n`);
    return 1;
  }
  const dump = parseIptablesDump(text);
  if (!dump.tables.some((t) => t.name === 'nat')) {
    d.stderr.write(`kpx trace: the rules have no nat table${args.fromFile ? ` (is ${args.fromFile} iptables-save output?)` : ''}\n`);
    return 1;
  }
  const fromNode = isLoopback(args.packet.src) || nodeIPs.some((ip) => sameIP(ip, args.packet.src));
  const natChain = args.natChain ?? (fromNode ? 'OUTPUT' : 'PREROUTING');
  const result = tracePacket(dump, args.packet, nodeIPs, { natChain });
  if (args.json) {
    d.stdout.write(JSON.stringify({
      packet: args.packet,
      natChain,
      nodeIPs,
      output: result.output,
      endpoints: result.endpoints,
      verdicts: result.verdicts,
      masquerade: result.masq,
      rewrittenDst: result.rewrittenDst,
      steps: result.steps,
      notes: [...result.notes, ...dump.warnings.map((w) => `dump: ${w}`)],
    }, null, 2) + '\n');
  } else {
    d.stdout.write(explainTrace(args.packet, result, natChain));
    if (dump.warnings.length) d.stdout.write(`note: ${dump.warnings.length} line(s) of the dump were not understood (first: ${dump.warnings[0]})\n`);
  }
  return 0;
}
