/**
 * problems.ts: configuration errors are collected, not thrown one at a time, so a user with three typos sees
 * three lines at once. Each problem is one line naming the flag or field; the CLI prints them and exits 1.
 */
import { ConfigError } from '../util/errors.js';

export class ConfigProblems extends ConfigError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigProblems';
    this.problems = problems;
  }
}

/** quote: a value as it appears in a message ("abc", 30, ["a","b"]). */
export function quote(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return String(v);
  return JSON.stringify(v) ?? String(v);
}

/** invalidValue: the one-line message for a bad value: `invalid value "abc" for --x: not a duration`. */
export function invalidValue(value: unknown, where: string, reason: string): string {
  return `invalid value ${quote(value)} for ${where}: ${reason}`;
}
