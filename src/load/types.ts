/** types.ts: one load run's figures, whatever generated them. */
export type LoadMode = 'keepalive' | 'new-conn' | 'bulk';

export interface LoadResult {
  readonly mode: LoadMode;
  readonly target: string;
  readonly durationSeconds: number;
  readonly connections: number;
  /** requests/s (keepalive), connections/s (new-conn) or MB/s (bulk, 1 MB = 10^6 bytes). */
  readonly rate: number;
  readonly unit: 'req/s' | 'conn/s' | 'MB/s';
  readonly requests: number;
  readonly bytes: number;
  /** Milliseconds; for bulk, the time to the first byte of each connection. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly errors: number;
  readonly errorDetail: Readonly<Record<string, number>>;
}

export interface LoadOptions {
  readonly target: string; // host:port (IPv6: [addr]:port)
  readonly mode: LoadMode;
  readonly durationMs: number;
  readonly connections: number;
  readonly threads: number;
  /** HTTP path requested (keepalive, new-conn, and the request sent on each bulk connection). */
  readonly path: string;
  /** Called about once a second while the load runs. */
  readonly onProgress?: (elapsedMs: number) => void;
}
