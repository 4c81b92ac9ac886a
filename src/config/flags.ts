/**
 * flags.ts: kube-proxy's command-line syntax (pflag's): `--flag value`, `--flag=value`, booleans as `--flag`
 * or `--flag=true|false`, `-v 2` / `-v=2` / `-v2`, `_` and `-` interchangeable in names, `--` ends flags, the last
 * occurrence of a flag wins. This only tokenizes and recognises names; values are converted by load.ts so every
 * problem is reported together.
 */
import { COMPAT_BY_FLAG, FIELD_BY_FLAG, FIELD_BY_SHORT } from './fields.js';
import type { CompatFlag, FieldSpec } from './fields.js';

export interface FlagOccurrence {
  readonly spec: FieldSpec;
  /** The flag as the user wrote its name (`--iptables-sync-period`, `-v`), used in messages. */
  readonly name: string;
  readonly raw: string;
}

export interface CompatOccurrence {
  readonly compat: CompatFlag;
  readonly name: string;
  readonly raw: string;
}

export interface ParsedFlags {
  readonly occurrences: FlagOccurrence[];
  readonly compat: CompatOccurrence[];
  readonly help: boolean;
  readonly version: boolean;
  /** One line each: unknown flags, missing arguments, stray arguments, bad --help/--version values. */
  readonly problems: string[];
}

type Target =
  | { t: 'field'; spec: FieldSpec }
  | { t: 'compat'; compat: CompatFlag }
  | { t: 'help' }
  | { t: 'version' };

function isBoolTarget(target: Target): boolean {
  if (target.t === 'help' || target.t === 'version') return true;
  if (target.t === 'compat') return target.compat.kind === 'bool';
  return target.spec.kind === 'bool';
}

function lookupLong(name: string): Target | undefined {
  const n = name.replace(/_/g, '-');
  if (n === 'help') return { t: 'help' };
  if (n === 'version') return { t: 'version' };
  const spec = FIELD_BY_FLAG.get(n);
  if (spec) return { t: 'field', spec };
  const compat = COMPAT_BY_FLAG.get(n);
  if (compat) return { t: 'compat', compat };
  return undefined;
}

function lookupShort(letter: string): Target | undefined {
  if (letter === 'h') return { t: 'help' };
  const spec = FIELD_BY_SHORT.get(letter);
  return spec ? { t: 'field', spec } : undefined;
}

const BOOL_WORDS = /^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$/;

export function parseFlags(argv: readonly string[]): ParsedFlags {
  const occurrences: FlagOccurrence[] = [];
  const compat: CompatOccurrence[] = [];
  const problems: string[] = [];
  let help = false;
  let version = false;

  const record = (target: Target, name: string, raw: string) => {
    switch (target.t) {
      case 'field':
        occurrences.push({ spec: target.spec, name, raw });
        return;
      case 'compat':
        compat.push({ compat: target.compat, name, raw });
        return;
      case 'help':
      case 'version': {
        if (!BOOL_WORDS.test(raw)) {
          problems.push(`invalid value ${JSON.stringify(raw)} for ${name}: not a boolean (true or false)`);
          return;
        }
        const on = /^(1|t|T|true|TRUE|True)$/.test(raw);
        if (target.t === 'help') help = on;
        else version = on;
      }
    }
  };

  let previousBoolFlag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const afterBool = previousBoolFlag;
    previousBoolFlag = undefined;

    if (arg === '--') {
      for (const rest of argv.slice(i + 1)) problems.push(`unexpected argument ${JSON.stringify(rest)}: kpx takes no arguments`);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (afterBool && BOOL_WORDS.test(arg)) {
        problems.push(`unexpected argument ${JSON.stringify(arg)}: write a boolean flag's value as ${afterBool}=${arg}`);
      } else {
        problems.push(`unexpected argument ${JSON.stringify(arg)}: kpx takes no arguments (subcommands: trace, sandbox, load)`);
      }
      continue;
    }

    let name: string;
    let target: Target | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      const eq = body.indexOf('=');
      const flagName = eq < 0 ? body : body.slice(0, eq);
      inline = eq < 0 ? undefined : body.slice(eq + 1);
      name = `--${flagName}`;
      target = lookupLong(flagName);
      if (!target) {
        problems.push(`unknown flag: ${name}`);
        continue;
      }
    } else {
      // Shorthand: -v 2, -v=2, -v2, -h.
      const letter = arg[1];
      name = `-${letter}`;
      target = lookupShort(letter);
      if (!target) {
        problems.push(`unknown shorthand flag: ${JSON.stringify(letter)} in ${arg}`);
        continue;
      }
      const rest = arg.slice(2);
      if (rest.startsWith('=')) inline = rest.slice(1);
      else if (rest !== '') {
        if (isBoolTarget(target)) {
          problems.push(`unknown shorthand flag: ${JSON.stringify(rest[0])} in ${arg}`);
          continue;
        }
        inline = rest;
      }
    }

    if (inline !== undefined) {
      record(target, name, inline);
      continue;
    }
    if (isBoolTarget(target)) {
      record(target, name, 'true');
      previousBoolFlag = name;
      continue;
    }
    const next = argv[i + 1];
    // pflag would take "--other-flag" as the value; kpx refuses, because that is always a forgotten value.
    if (next === undefined || next.startsWith('--')) {
      problems.push(`flag needs an argument: ${name}`);
      continue;
    }
    record(target, name, next);
    i++;
  }
  return { occurrences, compat, help, version, problems };
}
