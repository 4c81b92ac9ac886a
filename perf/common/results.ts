/**
 * results.ts: where benchmark outputs go: perf/results/<kind>-<timestamp>.json and .md, plus
 * <kind>-latest.json (what the README and later comparisons read).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** 2026-11-21T08-30-00Z: sortable, and legal in file names everywhere. */
export function timestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function writeResults(kind: 'load' | 'sync', json: unknown, markdown: string, when = new Date()): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = timestamp(when);
  const files = [join(RESULTS_DIR, `${kind}-${stamp}.json`), join(RESULTS_DIR, `${kind}-${stamp}.md`), join(RESULTS_DIR, `${kind}-latest.json`)];
  const text = JSON.stringify(json, null, 2) + '\n';
  writeFileSync(files[0], text);
  writeFileSync(files[1], markdown.endsWith('\n') ? markdown : markdown + '\n');
  writeFileSync(files[2], text);
  return files.map((f) => relative(process.cwd(), f));
}

/** A Markdown table from a header and rows of cells. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The same table padded for a terminal. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
