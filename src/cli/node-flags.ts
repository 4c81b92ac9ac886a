/**
 * node-flags.ts: the V8 flags every kpx process starts with.
 *
 * Under the allocation burst of a full sync at scale, Node 24's V8 grows the young generation to its
 * default ceiling (two 64 MiB semi-spaces) and keeps it committed: with 10,000 services kpx's RSS was
 * ~310 MiB with the default and ~200 MiB with 8 MiB semi-spaces, its first sync no slower
 * (perf/sync/kpx-memory.ts). V8 sizes the heap when it creates it, so `v8.setFlagsFromString` at run time
 * has no effect: the flags must be on node's command line. The image's ENTRYPOINT, bin/kpx.js's `#!` line
 * and the sandbox's command (kpxCommand) carry them; test/unit/deploy/node-flags.test.ts keeps them in step.
 */
export const KPX_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
