/**
 * object-equality.ts: decides whether an update is a no-op. The API server bumps resourceVersion (and
 * managedFields) on writes that change nothing kpx reads, informers replay unchanged objects on a relist,
 * and the manifests source delivers every object of a file it re-reads; treating those as changes would
 * queue syncs for nothing. This is the one no-op filter for both sources.
 */
import { isDeepStrictEqual } from 'node:util';

/** Metadata fields that change without changing the object's meaning. */
const VOLATILE_METADATA = new Set(['resourceVersion', 'managedFields', 'generation']);

function withoutVolatileMetadata(obj: unknown): unknown {
  if (!obj || typeof obj !== 'object') return obj;
  const rec = obj as Record<string, unknown>;
  const md = rec.metadata;
  if (!md || typeof md !== 'object') return obj;
  const cleaned: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
    if (!VOLATILE_METADATA.has(k) && v !== undefined) cleaned[k] = v;
  }
  return { ...rec, metadata: cleaned };
}

/**
 * sameObject: true when a and b differ at most in resourceVersion, managedFields and generation (and in
 * metadata fields that are undefined on one side and absent on the other).
 */
export function sameObject(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return isDeepStrictEqual(withoutVolatileMetadata(a), withoutVolatileMetadata(b));
}
