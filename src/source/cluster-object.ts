/**
 * cluster-object.ts: an API object together with its kind, as a discriminated union, so a handler that
 * switches on `kind` gets the object's own type. clusterObject is the one place where an object a source
 * received (already checked to be of that kind: by the informer's collection or by manifest parsing)
 * becomes typed.
 */
import type { ApiEndpointSlice, ApiKind, ApiNode, ApiService } from '../model/api.js';

export type ClusterObject =
  | { readonly kind: 'Service'; readonly obj: ApiService }
  | { readonly kind: 'EndpointSlice'; readonly obj: ApiEndpointSlice }
  | { readonly kind: 'Node'; readonly obj: ApiNode };

/** clusterObject tags an object known to be of `kind`; sources call it where the object enters. */
export function clusterObject<K extends ApiKind>(kind: K, obj: object): Extract<ClusterObject, { kind: K }> {
  return { kind, obj } as Extract<ClusterObject, { kind: K }>;
}
