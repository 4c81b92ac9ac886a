/**
 * change-metrics.ts: the part of ProxyMetrics the change trackers write (pending and total changes), so a
 * tracker can be built in a test with or without a registry.
 */
import type { ProxyMetrics } from '../server/metrics.js';

export type ChangeMetrics = Pick<ProxyMetrics,
  'serviceChangesPending' | 'serviceChangesTotal' | 'endpointChangesPending' | 'endpointChangesTotal'>;
