/**
 * help.ts: `kpx --help`, generated from the field table so every flag is listed with its default and a
 * one-line description, in kube-proxy's (pflag's) layout.
 */
import { COMPAT_FLAGS, FIELDS, defaultValue, formatValue, isZero } from '../config/fields.js';
import type { FieldSpec } from '../config/fields.js';

export const SUBCOMMANDS: readonly { name: string; usage: string; help: string }[] = [
  { name: 'trace', usage: 'kpx trace [flags]', help: "Trace a packet through this node's rules and show where it goes (kpx trace --help)." },
  { name: 'sandbox', usage: 'kpx sandbox [flags]', help: 'Build a small cluster out of network namespaces to try kpx in (kpx sandbox --help).' },
  { name: 'load', usage: 'kpx load [flags]', help: 'Send load to an address (a ClusterIP, from a pod) and print rate, latency and errors (kpx load --help).' },
];

function defaultText(spec: FieldSpec): string {
  const def = defaultValue(spec);
  if (def === false || isZero(def)) return '';
  return ` (default ${formatValue(spec, def)})`;
}

function flagColumn(spec: FieldSpec): string {
  const names = spec.short ? `-${spec.short}, --${spec.flag}` : `    --${spec.flag}`;
  return spec.metavar ? `${names} ${spec.metavar}` : names;
}

function table(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}   ${r}`);
}

export function helpText(): string {
  const lines: string[] = [
    'kpx: a drop-in replacement for kube-proxy (modes iptables, ipvs, userspace).',
    'It reflects Services and EndpointSlices, from the API server or a --manifests directory, into this',
    "node's kernel, with kube-proxy's flags, defaults, chain names and metrics.",
    '',
    'Usage:',
    '  kpx [flags]',
    ...SUBCOMMANDS.map((s) => `  ${s.usage}`),
    '',
    'Subcommands:',
    ...table(SUBCOMMANDS.map((s) => [s.name, s.help])),
    '',
    'Flags:',
  ];
  const rows: [string, string][] = FIELDS.filter((f) => f.flag).map((f) => [flagColumn(f), f.help + defaultText(f)]);
  rows.push(['-h, --help', 'Help for kpx.']);
  rows.push(['    --version', 'Print version information and quit.']);
  lines.push(...table(rows));
  lines.push('', 'Accepted for compatibility with kube-proxy and ignored (a warning names each one given):');
  lines.push(...table(COMPAT_FLAGS.map((c) => [`    --${c.flag}${c.kind === 'bool' ? '' : ` ${c.kind === 'number' ? 'float32' : c.kind === 'int' ? 'int32' : 'string'}`}`, c.help])));
  lines.push('', 'Durations take Go\'s form ("30s", "1m30s", "500ms"). Flags given on the command line override --config.');
  return lines.join('\n') + '\n';
}
