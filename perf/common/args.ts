/** args.ts: the few command-line options the benchmarks take (`--name value`), with clear errors. */
export function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

export function numberList(argv: readonly string[], name: string, dflt: readonly number[]): number[] {
  const v = option(argv, name);
  if (v === undefined) return [...dflt];
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name} must be a comma-separated list of positive integers, got "${v}"`);
  return out;
}

export function numberOption(argv: readonly string[], name: string, dflt: number): number {
  const v = option(argv, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${v}"`);
  return n;
}

export function flag(argv: readonly string[], name: string): boolean {
  return argv.includes(`--${name}`);
}

/**
 * rejectUnknown: throws on an option the benchmark does not take, so a typo (`--rep 9`) or a flag of another
 * benchmark is an error rather than a long run with the defaults. `options` take a value, `flags` do not.
 */
export function rejectUnknown(argv: readonly string[], known: { options?: readonly string[]; flags?: readonly string[] }): void {
  const options = new Set(known.options ?? []);
  const flags = new Set(known.flags ?? []);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && flags.has(name)) continue;
    if (name !== undefined && options.has(name)) {
      i++; // its value; option() reports a missing one
      continue;
    }
    const all = [...options, ...flags].map((n) => `--${n}`).join(', ');
    throw new Error(name === undefined ? `unexpected argument "${arg}" (options: ${all})` : `unknown option --${name} (options: ${all})`);
  }
}
