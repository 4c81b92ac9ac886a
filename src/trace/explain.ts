/**
 * explain.ts: turns a TraceResult into the text an operator reads (`kpx trace`): the chain path with each
 * matched rule indented by jump depth, the reachable endpoints, the verdict and masquerading.
 */
import type { TracePacketInput, TraceResult, TraceStep } from './tracer.js';
import { joinHostPort } from '../util/ip.js';

/** One word for what happens to the packet. */
export function verdictOf(result: TraceResult): string {
  if (result.endpoints.length > 0) {
    const n = result.endpoints.length;
    const extra = result.verdicts.length ? ` then ${result.verdicts.join(', ')}` : '';
    return `DNAT to ${n === 1 ? 'one endpoint' : `one of ${n} endpoints`}${extra}`;
  }
  if (result.verdicts.length > 0) return result.verdicts.join(', ');
  return 'no kube-proxy rule matched (the packet is routed unchanged)';
}

function describe(step: TraceStep): string {
  switch (step.action) {
    case 'mark-masq': return 'mark for masquerade';
    case 'dnat': return `DNAT to ${step.target}`;
    case 'redirect': return `redirect to local port ${step.target.replace(/^REDIRECT:/, '')}`;
    case 'accept': return 'ACCEPT';
    case 'drop': return 'DROP';
    case 'reject': return 'REJECT';
    case 'return': return 'RETURN to the calling chain';
    case 'goto': return `goto ${step.target}`;
    case 'jump': return `${step.probabilistic ? 'random choice: ' : ''}jump to ${step.target}`;
    default: return step.target;
  }
}

/** The human-readable trace. */
export function explainTrace(packet: TracePacketInput, result: TraceResult, natChain = 'PREROUTING'): string {
  const lines: string[] = [];
  lines.push(`packet: ${packet.proto.toLowerCase()} ${packet.src} -> ${joinHostPort(packet.dst, packet.dport)} (enters nat ${natChain})`);
  lines.push('path:');
  if (result.steps.length === 0) lines.push('  (no rule matched)');
  let lastHeader = '';
  for (const s of result.steps) {
    const header = `${s.table}/${s.chain}`;
    const indent = '  '.repeat(s.depth + 1);
    if (header !== lastHeader) {
      lines.push(`${indent}${header}`);
      lastHeader = header;
    }
    lines.push(`${indent}  #${s.index} ${describe(s)}${s.comment ? `  (${s.comment})` : ''}`);
    lines.push(`${indent}     ${s.rule}`);
  }
  if (result.rewrittenDst !== packet.dst) lines.push(`filter chains saw destination ${result.rewrittenDst}`);
  lines.push(`endpoints: ${result.endpoints.length ? result.endpoints.join(', ') : '(none)'}`);
  lines.push(`verdict: ${verdictOf(result)}`);
  lines.push(`masquerade: ${result.masq ? 'yes (source NATed to the node on the way out)' : 'no (the endpoint sees the client address)'}`);
  for (const n of result.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}
