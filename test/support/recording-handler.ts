/**
 * recording-handler.ts: a SourceHandler for source tests. It records every call in order and keeps the
 * state a consumer would hold (kind/namespace/name → last object), so tests assert both "what arrived"
 * and "what the proxy would believe now".
 */
import type { ApiKind, ApiObject } from '../../src/model/api.js';
import type { ClusterObject, SourceHandler } from '../../src/source/types.js';

export type RecordedCall =
  | { op: 'upsert'; kind: ApiKind; key: string; obj: ApiObject }
  | { op: 'remove'; kind: ApiKind; key: string; obj: ApiObject }
  | { op: 'synced'; kind: ApiKind };

export function objectKeyOf(kind: ApiKind, obj: ApiObject): string {
  return `${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export class RecordingHandler implements SourceHandler {
  readonly calls: RecordedCall[] = [];
  readonly state = new Map<string, ApiObject>();
  readonly syncedKinds = new Set<ApiKind>();

  upsert({ kind, obj }: ClusterObject): void {
    const key = objectKeyOf(kind, obj);
    this.calls.push({ op: 'upsert', kind, key, obj });
    this.state.set(key, obj);
  }

  remove({ kind, obj }: ClusterObject): void {
    const key = objectKeyOf(kind, obj);
    this.calls.push({ op: 'remove', kind, key, obj });
    this.state.delete(key);
  }

  synced(kind: ApiKind): void {
    this.calls.push({ op: 'synced', kind });
    this.syncedKinds.add(kind);
  }

  /** The keys of the current state, sorted: `Kind/namespace/name`. */
  keys(kind?: ApiKind): string[] {
    return [...this.state.keys()].filter((k) => kind === undefined || k.startsWith(`${kind}/`)).sort();
  }

  get(kind: ApiKind, namespace: string, name: string): ApiObject | undefined {
    return this.state.get(`${kind}/${namespace}/${name}`);
  }

  /** Calls of one op (and kind), e.g. every remove seen so far. */
  ops(op: RecordedCall['op'], kind?: ApiKind): RecordedCall[] {
    return this.calls.filter((c) => c.op === op && (kind === undefined || c.kind === kind));
  }
}
