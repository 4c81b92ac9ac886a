#!/usr/bin/env node
// Runs the test suites with node's test runner on TypeScript (tsx). Usage: run-tests.mjs [unit|e2e|ipvs|chaos]...
// With no argument every suite runs, in one runner invocation so CI sees one summary.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suites = {
  unit: ['test/unit'],
  e2e: ['test/e2e'],
  ipvs: ['test/ipvs'],
  chaos: ['test/chaos'],
};

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(collect(p));
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(suites);
const files = names.flatMap((n) => {
  if (!suites[n]) { console.error(`unknown suite ${n}; known: ${Object.keys(suites).join(', ')}`); process.exit(2); }
  return suites[n].flatMap(collect);
});
if (files.length === 0) { console.error('no test files found'); process.exit(1); }

// Kernel tests build namespaces and saturate the 2 cores; two files at a time keeps them from starving.
const concurrency = process.env.KPX_TEST_CONCURRENCY ?? '2';
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
  '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
