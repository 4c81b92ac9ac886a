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
