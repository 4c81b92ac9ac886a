/**
 * restore-input.ts: a render as iptables-restore text: all of it (a full sync with --noflush, --dry-run) or
 * only the chains a partial sync names.
 */
import type { IptablesTable } from '../../src/net/iptables.js';
import type { DispatchEdit } from './dispatch-edit.js';
import type { RenderedRules } from './render.js';

export interface RestoreInputParts {
  /** Include the *filter table (rendered whole). */
  readonly filter: boolean;
  /** nat dispatch chains to (re)write; the others are left as they are in the kernel. */
  readonly natDispatch: Iterable<string>;
  /** Per-service chains to delete (declared, which flushes them, then -X). */
  readonly deleteChains?: Iterable<string>;
  /** nat dispatch chains changed rule by rule (dispatch-edit.ts): not declared, so not flushed. */
  readonly natDispatchEdits?: ReadonlyMap<string, DispatchEdit>;
}

/**
 * toRestoreInput: the iptables-restore text for a render. A full sync passes every dispatch chain and
 * filter; a partial one only what changed. Chain declarations come before rules, as in kube-proxy.
 */
export function toRestoreInput(r: RenderedRules, parts: RestoreInputParts): string {
  return restoreInput(r, parts).text;
}

export interface RestoreInput {
  readonly text: string;
  /** The tables the text restores, in order: each is one commit (iptables-nft-restore, one transaction a table). */
  readonly tables: readonly IptablesTable[];
}

/** toRestoreInput, saying which tables the text holds. */
export function restoreInput(r: RenderedRules, parts: RestoreInputParts): RestoreInput {
  const lines: string[] = [];
  const tables: IptablesTable[] = [];
  if (parts.filter) {
    tables.push('filter');
    lines.push('*filter');
    for (const c of r.filterChains) lines.push(`:${c} - [0:0]`);
    for (const l of r.filterRules) lines.push(l);
    lines.push('COMMIT');
  }
  const dispatch = [...parts.natDispatch];
  const deletes = parts.deleteChains ? [...parts.deleteChains] : [];
  const edits = [...(parts.natDispatchEdits?.values() ?? [])];
  if (dispatch.length > 0 || r.serviceChains.length > 0 || deletes.length > 0 || edits.length > 0) {
    tables.push('nat');
    lines.push('*nat');
    for (const c of dispatch) lines.push(`:${c} - [0:0]`);
    for (const c of r.serviceChains) lines.push(`:${c} - [0:0]`);
    for (const c of deletes) lines.push(`:${c} - [0:0]`);
    for (const c of dispatch) for (const l of r.natDispatch.get(c) ?? []) lines.push(l);
    // Before the -X below: a rule still jumping to a chain keeps that chain from being deleted.
    for (const e of edits) for (const l of e.deletes) lines.push(l);
    for (const e of edits) for (const l of e.inserts) lines.push(l);
    for (const l of r.serviceRules) lines.push(l);
    for (const c of deletes) lines.push(`-X ${c}`);
    lines.push('COMMIT');
  }
  return { text: lines.length ? lines.join('\n') + '\n' : '', tables };
}
