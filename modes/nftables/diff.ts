/**
 * diff.ts: the pure step from "what was last written" and "what is wanted" to one transaction.
 *
 * - full: everything (the first sync, ChangeSet.full, after a failure): the fixed chains and every service
 *   chain are added and flushed, the sets and maps flushed, then everything is written again, in one
 *   atomic transaction, so traffic never sees a half-written table.
 * - recreate: full, preceded by deleting the table (it was changed behind kpx's back or a write failed).
 * - partial: only the changed services: their new or changed chains, element add/delete in the shared sets
 *   and maps (never a rewrite of a whole map), affinity sets added or deleted.
 *
 * Removed chains are flushed, and deleted by a later transaction (staleChainsDue): with kernels before 6.2
 * a chain a just-deleted map element pointed to still counts as referenced for a short while. Within a
 * transaction the order is: add chains, flush chains, delete elements, delete sets, add sets, add rules,
 * add elements; so every reference is removed before what it points to goes, and every target exists before
 * anything points to it.
 */
import type { ServiceKey, ServicePortKey } from '../../src/model/types.js';
import type { NftTableSummary } from '../../src/net/nft.js';
import { NftTransaction, type NftObject } from '../../src/net/nft-transaction.js';
import { BASE_CHAINS, NODEPORT_IPS, TABLE, TABLE_COMMENT, isAffinitySetName, isServiceChainName } from './names.js';
import type { ElementSpec, RuleSpec, ServiceObjects, WantedRuleset } from './render.js';

export type SyncKind = 'full' | 'recreate' | 'partial';

interface WrittenElement {
  readonly spec: ElementSpec;
  readonly refs: number;
}

/** What kpx knows the table holds after its last successful transaction. */
export interface WrittenState {
  readonly staticSignature: string;
  readonly services: ReadonlyMap<ServicePortKey, ServiceObjects>;
  /** Every element kpx wrote, by container and key, with how many service ports want it. */
  readonly elements: ReadonlyMap<string, WrittenElement>;
  /** Every chain kpx holds (fixed, service and stale) -> its number of rules. */
  readonly chainRules: ReadonlyMap<string, number>;
  /** Flushed chains waiting to be deleted -> when they were flushed (ms). */
  readonly stale: ReadonlyMap<string, number>;
  /** Affinity set -> timeout. */
  readonly affinitySets: ReadonlyMap<string, number>;
  /** Sets and maps kpx wrote -> elements not counted in `elements` (the node-port addresses), 0 for the rest. */
  readonly containerSizes: ReadonlyMap<string, number>;
}

function containerSizes(w: WantedRuleset): Map<string, number> {
  const sizes = new Map<string, number>(w.containers.map((c) => [c.name, 0]));
  for (const e of w.staticElements) sizes.set(e.container, (sizes.get(e.container) ?? 0) + 1);
  return sizes;
}

export interface DiffInput {
  readonly wanted: WantedRuleset;
  readonly written: WrittenState | undefined;
  readonly kind: SyncKind;
  /** partial: the services that changed (namespace/name). */
  readonly changed?: ReadonlySet<ServiceKey>;
  /** full: what the table held before kpx wrote anything to it (a previous run's or kube-proxy's). */
  readonly existing?: NftTableSummary;
  readonly nowMs: number;
}

export interface DiffOutput {
  readonly tx: NftTransaction;
  readonly next: WrittenState;
  /** What the transaction does (for logs and tests). */
  readonly kind: SyncKind;
}

export function elementId(e: Pick<ElementSpec, 'container' | 'key'>): string {
  return `${e.container} ${e.key.join(' . ')}`;
}

function elementObject(e: ElementSpec): NftObject {
  return { kind: 'element', container: e.container, key: e.key, ...(e.value !== undefined ? { value: [e.value] } : {}), ...(e.comment !== undefined ? { comment: e.comment } : {}) };
}

function sameRules(a: readonly RuleSpec[] | undefined, b: readonly RuleSpec[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.rule !== b[i]!.rule || a[i]!.comment !== b[i]!.comment) return false;
  return true;
}

export function staticSignature(w: WantedRuleset): string {
  return JSON.stringify([w.staticChains, w.containers, w.staticElements]);
}

/** The phases of one transaction, concatenated in this order. */
class Phases {
  readonly addChains: NftObject[] = [];
  readonly flushChains: string[] = [];
  readonly deleteElements: ElementSpec[] = [];
  readonly deleteSets: string[] = [];
  readonly addSets: NftObject[] = [];
  readonly rules: NftObject[] = [];
  readonly addElements: ElementSpec[] = [];

  writeChain(name: string, rules: readonly RuleSpec[], isNew: boolean): void {
    if (isNew) this.addChains.push({ kind: 'chain', name });
    else this.flushChains.push(name);
    for (const r of rules) this.rules.push({ kind: 'rule', chain: name, rule: r.rule, ...(r.comment !== undefined ? { comment: r.comment } : {}) });
  }

  into(tx: NftTransaction): void {
    for (const o of this.addChains) tx.add(o);
    for (const name of this.flushChains) tx.flush({ kind: 'chain', name });
    for (const e of this.deleteElements) tx.delete({ kind: 'element', container: e.container, key: e.key });
    for (const name of this.deleteSets) tx.delete({ kind: 'set', name });
    for (const o of this.addSets) tx.add(o);
    for (const o of this.rules) tx.add(o);
    for (const e of this.addElements) tx.add(elementObject(e));
  }
}

/** A per-endpoint affinity set: client addresses, each forgotten after the service's affinity timeout. */
const affinitySet = (name: string, type: string, timeoutSeconds: number): NftObject =>
  ({ kind: 'set', name, type, flags: ['dynamic', 'timeout'], timeoutSeconds });

export function diff(input: DiffInput): DiffOutput {
  const { written } = input;
  if (input.kind === 'partial' && written && written.staticSignature === staticSignature(input.wanted)) {
    return partial(input, written);
  }
  return full(input, input.kind === 'partial' ? 'full' : input.kind);
}

function full(input: DiffInput, kind: 'full' | 'recreate'): DiffOutput {
  const { wanted } = input;
  const ipType = wanted.family === 'ip6' ? 'ipv6_addr' : 'ipv4_addr';
  const tx = new NftTransaction(wanted.family, TABLE);
  const recreate = kind === 'recreate';
  if (recreate) tx.add({ kind: 'table' }).delete({ kind: 'table' });
  tx.add({ kind: 'table', comment: TABLE_COMMENT });
  if (!recreate && !input.written && input.existing) {
    // A table kpx did not write this run (kube-proxy's, or a previous kpx's): its base chains may have other
    // priorities, which an add would refuse. Deleting them goes with their rules and references nothing.
    for (const bc of BASE_CHAINS) tx.add({ kind: 'chain', name: bc.name }).delete({ kind: 'chain', name: bc.name });
  }
  for (const { chain } of wanted.staticChains) tx.add(chain).flush({ kind: 'chain', name: chain.name });
  for (const c of wanted.containers) tx.add(c).flush({ kind: c.kind, name: c.name });
  // kube-proxy's way to say "no such set", whether or not it exists: add it here, delete it once the fixed
  // chains that could name it are flushed.
  if (wanted.noNodePortIPsSet) tx.add({ kind: 'set', name: NODEPORT_IPS, type: ipType });

  const p = new Phases();
  const chainRules = new Map<string, number>();
  const wantedChains = new Set<string>();
  const affinitySets = new Map<string, number>();
  for (const sc of wanted.staticChains) {
    chainRules.set(sc.chain.name, sc.rules.length);
    for (const r of sc.rules) p.rules.push({ kind: 'rule', chain: sc.chain.name, rule: r.rule, ...(r.comment !== undefined ? { comment: r.comment } : {}) });
  }
  for (const so of wanted.services.values()) {
    for (const [name, rules] of so.chains) {
      wantedChains.add(name);
      chainRules.set(name, rules.length);
      tx.add({ kind: 'chain', name });
      p.writeChain(name, rules, false);
    }
    for (const [name, t] of so.affinitySets) affinitySets.set(name, t);
  }

  // What the table may hold that is no longer wanted: flushed now, deleted later.
  const stale = new Map<string, number>();
  if (!recreate) {
    const known = new Set<string>([...(input.written?.chainRules.keys() ?? []), ...(input.existing?.chains.keys() ?? [])]);
    for (const name of known) {
      if (!isServiceChainName(name) || wantedChains.has(name)) continue;
      p.flushChains.push(name);
      stale.set(name, input.written?.stale.get(name) ?? input.nowMs);
      chainRules.set(name, 0);
    }
    const oldSets = new Map<string, number | undefined>([
      ...[...(input.existing?.sets ?? [])].map(([n, s]) => [n, s.timeoutSeconds] as const),
      ...(input.written?.affinitySets ?? []),
    ]);
    for (const [name, timeout] of oldSets) {
      if (!isAffinitySetName(name)) continue;
      if (!affinitySets.has(name) || affinitySets.get(name) !== timeout) p.deleteSets.push(name);
    }
  }
  for (const [name, t] of affinitySets) p.addSets.push(affinitySet(name, ipType, t));
  if (wanted.noNodePortIPsSet) p.deleteSets.push(NODEPORT_IPS);

  const elements = new Map<string, WrittenElement>();
  for (const e of wanted.staticElements) p.addElements.push(e);
  for (const so of wanted.services.values()) {
    for (const e of so.elements) {
      const id = elementId(e);
      const have = elements.get(id);
      if (have) elements.set(id, { spec: have.spec, refs: have.refs + 1 });
      else { elements.set(id, { spec: e, refs: 1 }); p.addElements.push(e); }
    }
  }
  p.into(tx);
  return {
    tx, kind,
    next: { staticSignature: staticSignature(wanted), services: wanted.services, elements, chainRules, stale, affinitySets, containerSizes: containerSizes(wanted) },
  };
}

function partial(input: DiffInput, written: WrittenState): DiffOutput {
  const { wanted } = input;
  const ipType = wanted.family === 'ip6' ? 'ipv6_addr' : 'ipv4_addr';
  const changed = input.changed ?? new Set<ServiceKey>();
  const p = new Phases();
  const services = new Map(written.services);
  const elements = new Map(written.elements);
  const chainRules = new Map(written.chainRules);
  const stale = new Map(written.stale);
  const affinitySets = new Map(written.affinitySets);

  const keys = new Set<ServicePortKey>();
  for (const [k, so] of wanted.services) if (changed.has(so.serviceKey)) keys.add(k);
  for (const [k, so] of written.services) if (changed.has(so.serviceKey)) keys.add(k);

  const removeElement = (e: ElementSpec) => {
    const id = elementId(e);
    const have = elements.get(id);
    if (!have) return;
    if (have.refs > 1) { elements.set(id, { spec: have.spec, refs: have.refs - 1 }); return; }
    elements.delete(id);
    p.deleteElements.push(have.spec);
  };
  const addElement = (e: ElementSpec) => {
    const id = elementId(e);
    const have = elements.get(id);
    if (have && have.spec.value === e.value) { elements.set(id, { spec: have.spec, refs: have.refs + 1 }); return; }
    if (have) p.deleteElements.push(have.spec);
    elements.set(id, { spec: e, refs: (have?.refs ?? 0) + 1 });
    p.addElements.push(e);
  };

  for (const k of [...keys].sort()) {
    const old = written.services.get(k);
    const neu = wanted.services.get(k);
    if (old === neu) continue;
    const oldChains = old?.chains ?? new Map<string, readonly RuleSpec[]>();
    const newChains = neu?.chains ?? new Map<string, readonly RuleSpec[]>();
    const oldSets = old?.affinitySets ?? new Map<string, number>();
    const newSets = neu?.affinitySets ?? new Map<string, number>();
    // A set whose timeout changed is deleted and added again: every chain naming it is rewritten first.
    let setsChanged = false;
    for (const [name, t] of oldSets) {
      if (newSets.get(name) === t) continue;
      setsChanged = true;
      p.deleteSets.push(name);
      affinitySets.delete(name);
    }
    for (const [name, t] of newSets) {
      if (oldSets.get(name) === t) continue;
      p.addSets.push(affinitySet(name, ipType, t));
      affinitySets.set(name, t);
    }
    for (const [name, rules] of newChains) {
      const exists = chainRules.has(name);
      stale.delete(name);
      chainRules.set(name, rules.length);
      if (exists && !setsChanged && sameRules(oldChains.get(name), rules)) continue;
      p.writeChain(name, rules, !exists);
    }
    for (const name of oldChains.keys()) {
      if (newChains.has(name)) continue;
      p.flushChains.push(name);
      chainRules.set(name, 0);
      stale.set(name, input.nowMs);
    }
    const oldIds = new Map((old?.elements ?? []).map((e) => [elementId(e), e]));
    const newIds = new Map((neu?.elements ?? []).map((e) => [elementId(e), e]));
    const kept = (e: ElementSpec, other: ElementSpec | undefined) => other !== undefined && other.value === e.value;
    for (const [id, e] of oldIds) if (!kept(e, newIds.get(id))) removeElement(e);
    for (const [id, e] of newIds) if (!kept(e, oldIds.get(id))) addElement(e);
    if (neu) services.set(k, neu);
    else services.delete(k);
  }
  const tx = new NftTransaction(wanted.family, TABLE);
  p.into(tx);
  return { tx, kind: 'partial', next: { ...written, services, elements, chainRules, stale, affinitySets } };
}

/** Stale chains flushed at least `agingMs` ago: a transaction deleting them, and the state once it ran. */
export function staleChainsDue(written: WrittenState, family: WantedRuleset['family'], nowMs: number, agingMs: number): { tx: NftTransaction; next: WrittenState } {
  const tx = new NftTransaction(family, TABLE);
  const stale = new Map(written.stale);
  const chainRules = new Map(written.chainRules);
  for (const [name, since] of written.stale) {
    if (nowMs - since < agingMs) continue;
    tx.delete({ kind: 'chain', name });
    stale.delete(name);
    chainRules.delete(name);
  }
  return { tx, next: { ...written, stale, chainRules } };
}
