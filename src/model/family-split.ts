/**
 * family-split.ts: an API field's list of IPs or CIDRs split by family, normalised the way kube-proxy reads
 * them, with the entries that did not parse kept (shown safely) for a warning.
 */
import { parseCIDR, parseIP, type IPFamily } from '../util/ip.js';
import { show } from './show.js';

export interface FamilySplit<T> {
  readonly IPv4: T[];
  readonly IPv6: T[];
  /** Inputs that did not parse, as given. */
  readonly invalid: string[];
}

/** Splits IP strings by family, normalised and de-duplicated (first occurrence kept). */
export function splitIPsByFamily(ips: readonly unknown[] | undefined): FamilySplit<string> {
  return splitByFamily(ips, parseIP);
}

/** Splits CIDR strings by family, normalised to their networks and de-duplicated. */
export function splitCIDRsByFamily(cidrs: readonly unknown[] | undefined): FamilySplit<string> {
  return splitByFamily(cidrs, parseCIDR);
}

function splitByFamily(
  values: readonly unknown[] | undefined,
  parse: (s: string) => { readonly family: IPFamily; readonly text: string } | null,
): FamilySplit<string> {
  const out: FamilySplit<string> = { IPv4: [], IPv6: [], invalid: [] };
  if (!Array.isArray(values)) return out;
  const seen = new Set<string>();
  for (const raw of values) {
    const p = typeof raw === 'string' ? parse(raw) : null;
    if (!p) { out.invalid.push(show(raw)); continue; }
    if (seen.has(p.text)) continue;
    seen.add(p.text);
    out[p.family].push(p.text);
  }
  return out;
}
