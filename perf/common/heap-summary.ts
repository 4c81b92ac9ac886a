/**
 * heap-summary.ts: what fills a V8 heap snapshot (`node --heapsnapshot-signal`), as self size per node type
 * and constructor name, heaviest first. For the README's "where the memory goes" when the RSS target is missed.
 *
 *   node --import tsx perf/common/heap-summary.ts FILE.heapsnapshot [--top 25] [--strings]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeap(snap: Snapshot, top: number, byStringPrefix = false): string {
  const f = snap.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const by = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]] ?? '?';
    const size = snap.nodes[i + iSize];
    total += size;
    // Strings are grouped by type only: their "name" is their content.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : snap.strings[snap.nodes[i + iName]] ?? '?';
    // With --strings, flat strings are grouped by their first characters, which say what they are
    // ("-A KUBE-SEP-…" rule text, '{"apiVersion"…' JSON, "10.…" addresses).
    const prefix = byStringPrefix && type === 'string' ? ` "${(snap.strings[snap.nodes[i + iName]] ?? '').slice(0, 14).replace(/\s+/g, ' ')}…"` : '';
    const key = `${type}${name ? ` ${name.slice(0, 60)}` : ''}${prefix}`;
    const e = by.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count++;
    by.set(key, e);
  }
  const rows = [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)
    .map(([k, e]) => `  ${(e.bytes / 2 ** 20).toFixed(1).padStart(7)} MiB ${((100 * e.bytes) / total).toFixed(1).padStart(5)}%  ${String(e.count).padStart(8)}×  ${k}`);
  return `heap snapshot: ${(total / 2 ** 20).toFixed(1)} MiB in live objects\n${rows.join('\n')}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: heap-summary.ts FILE.heapsnapshot [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  console.log(summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot, i > 0 ? Number(process.argv[i + 1]) : 25, process.argv.includes('--strings')));
}
