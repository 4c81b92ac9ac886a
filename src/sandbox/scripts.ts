/**
 * scripts.ts: where the plain-JavaScript helpers the sandbox runs inside namespaces live.
 *
 * They are .mjs files beside this module, not compiled TypeScript, so they start in ~40 ms with no
 * loader. The TypeScript build does not copy them into dist/, so from dist/src/sandbox/ they are found
 * through the package root (src/ ships with the package).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The package root: the nearest directory above this module with a package.json. */
export function packageRoot(): string {
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find kpx's package root above ${here}`);
    dir = up;
  }
}

export type SandboxScript = 'pod-server.mjs' | 'traffic-client.mjs' | 'kpx-from-source.mjs';

export function scriptPath(name: SandboxScript): string {
  const beside = join(here, name);
  if (existsSync(beside)) return beside;
  const inSource = resolve(packageRoot(), 'src', 'sandbox', name);
  if (existsSync(inSource)) return inSource;
  throw new Error(`sandbox script ${name} not found beside ${here} nor in src/sandbox`);
}

/** Node 24: the binary running this process (system node may be older). */
export function nodeBinary(): string {
  return process.execPath;
}

/**
 * How much slower than a normal machine this one is: KPX_SLOW_FACTOR (the IPVS VM runs under software
 * emulation and sets it). Start-up timeouts are multiplied by it; nothing else changes.
 */
export function slowFactor(): number {
  const f = Number(process.env.KPX_SLOW_FACTOR ?? 1);
  return Number.isFinite(f) && f >= 1 ? f : 1;
}
