/**
 * types.ts: what a cluster-state source delivers. Both sources (kube API informers, manifests directory)
 * speak this interface; the proxier keeps its own last-seen copy of every object because client-node's
 * informer gives no old object on update.
 */
import type { ApiKind } from '../model/api.js';
import type { ClusterObject } from './cluster-object.js';

export type { ClusterObject } from './cluster-object.js';

export interface SourceHandler {
  /** An object was added or changed. */
  upsert(event: ClusterObject): void;
  /** An object was deleted (obj is the last known state). */
  remove(event: ClusterObject): void;
  /** The first complete list of this kind has been delivered; called once per kind. */
  synced(kind: ApiKind): void;
}

export interface ClusterSource {
  readonly name: string;
  /** Starts delivering events; resolves once watching has begun (not necessarily synced). */
  start(handler: SourceHandler): Promise<void>;
  stop(): Promise<void>;
}
