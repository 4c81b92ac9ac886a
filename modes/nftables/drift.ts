/**
 * drift.ts: whether the table still holds what kpx last wrote (pure). Someone deleting the table, a chain,
 * a rule or an element, or adding one, changes a count; the next sync then rebuilds the table. Affinity
 * sets fill with client addresses as packets pass, so only their presence is compared.
 */
import type { NftTableSummary } from '../../src/net/nft.js';
import { isAffinitySetName } from './names.js';
import type { WrittenState } from './diff.js';

/** undefined when the table matches; otherwise what differs first (for the log). */
export function driftFrom(written: WrittenState, summary: NftTableSummary | undefined): string | undefined {
  if (!summary) return 'the table is gone';
  if (summary.chains.size !== written.chainRules.size) return `${summary.chains.size} chains, ${written.chainRules.size} written`;
  for (const [name, n] of written.chainRules) {
    const have = summary.chains.get(name);
    if (have === undefined) return `chain ${name} is gone`;
    if (have !== n) return `chain ${name} has ${have} rules, ${n} written`;
  }
  const elements = new Map<string, number>(written.containerSizes);
  for (const { spec } of written.elements.values()) elements.set(spec.container, (elements.get(spec.container) ?? 0) + 1);
  for (const [name, n] of elements) {
    const have = summary.sets.get(name)?.elements;
    if (have !== n) return `${name} has ${have ?? 'no'} elements, ${n} written`;
  }
  for (const name of written.affinitySets.keys()) if (!summary.sets.has(name)) return `set ${name} is gone`;
  for (const name of summary.sets.keys()) {
    if (isAffinitySetName(name) && !written.affinitySets.has(name)) return `set ${name} was added`;
  }
  return undefined;
}
