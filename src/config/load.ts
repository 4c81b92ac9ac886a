/**
 * load.ts: builds the effective KpxConfig as kube-proxy does: defaults, then the --config file, then the flags
 * that were explicitly given (flags win), then the derived defaults (IPv6 healthz/metrics addresses), then the
 * cross-field checks. Every problem found on the way is collected and thrown together as ConfigProblems.
 */
import { readFileSync } from 'node:fs';
import type { KpxConfig } from './types.js';
import { defaultConfig } from './types.js';
import { parseFlags } from './flags.js';
import type { ParsedFlags } from './flags.js';
import { parseConfigFile } from './config-file.js';
import { parseBool, parseFlagText, parseInt32, setValue, isZero, defaultValue } from './fields.js';
import { ConfigProblems, invalidValue } from './problems.js';
import { validateConfig } from './validate.js';
import { ipFamily } from './addresses.js';
import { HEALTHZ_PORT, METRICS_PORT } from './fields.js';

export interface LoadOptions {
  /** Reads the --config file; defaults to fs.readFileSync (UTF-8). Relative paths are the caller's cwd. */
  readFile?: (path: string) => string;
}

export type LoadResult =
  | { readonly action: 'help' }
  | { readonly action: 'version' }
  | {
      readonly action: 'run';
      readonly config: KpxConfig;
      /** One line each, for the log: compatibility flags that were ignored. */
      readonly warnings: string[];
      /** The config file's strict decoding error when it was read leniently (unknown fields, duplicate keys). */
      readonly strictError?: string;
      /** Field id → where its value came from; absent means the default. */
      readonly origins: ReadonlyMap<string, string>;
    };

/** loadConfig: argv (without node and script) → effective configuration. Throws ConfigProblems. */
export function loadConfig(argv: readonly string[], opts: LoadOptions = {}): LoadResult {
  const flags = parseFlags(argv);
  if (flags.help) return { action: 'help' };
  if (flags.version) return { action: 'version' };
  return resolveConfig(flags, opts);
}

function readConfigText(path: string, opts: LoadOptions): string {
  return opts.readFile ? opts.readFile(path) : readFileSync(path, 'utf8');
}

export function resolveConfig(flags: ParsedFlags, opts: LoadOptions = {}): LoadResult {
  const problems = [...flags.problems];
  const warnings: string[] = [];
  const origins = new Map<string, string>();
  const config = defaultConfig();
  let strictError: string | undefined;

  // The file first, so explicitly given flags override it. The last --config given names the file.
  const configFlag = flags.occurrences.filter((o) => o.spec.id === 'kpx.config').at(-1);
  if (configFlag && configFlag.raw !== '') {
    let text: string | undefined;
    try {
      text = readConfigText(configFlag.raw, opts);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`cannot read config file ${configFlag.raw}: ${e.code ? `${e.code}: ` : ''}${describeError(e)}`);
    }
    if (text !== undefined) {
      const parsed = parseConfigFile(text, configFlag.raw);
      problems.push(...parsed.problems);
      strictError = parsed.strictError;
      for (const fv of parsed.values) {
        setValue(config, fv.spec, fv.value);
        origins.set(fv.spec.id, fv.where);
      }
    }
  }

  for (const occ of flags.occurrences) {
    const { spec, name, raw } = occ;
    let value;
    try {
      value = parseFlagText(spec, raw);
    } catch (err) {
      problems.push(invalidValue(raw, name, (err as Error).message));
      continue;
    }
    if (spec.blankIsDefault && isZero(value)) value = defaultValue(spec);
    if (spec.normalize) value = spec.normalize(value);
    const reason = spec.check?.(value);
    if (reason) {
      problems.push(invalidValue(raw, name, reason));
      continue;
    }
    setValue(config, spec, value);
    origins.set(spec.id, name);
  }

  for (const occ of flags.compat) {
    try {
      if (occ.compat.kind === 'bool') parseBool(occ.raw);
      else if (occ.compat.kind === 'int') parseInt32(occ.raw);
      else if (occ.compat.kind === 'number' && (occ.raw.trim() === '' || !Number.isFinite(Number(occ.raw)))) throw new Error('not a number');
      warnings.push(`flag ${occ.name} is accepted for compatibility with kube-proxy and ignored`);
    } catch (err) {
      problems.push(invalidValue(occ.raw, occ.name, (err as Error).message));
    }
  }

  // kube-proxy: with an IPv6 bindAddress, the healthz and metrics defaults are IPv6 too.
  if (ipFamily(config.bindAddress) === 6) {
    if (!origins.has('healthzBindAddress')) config.healthzBindAddress = `[::]:${HEALTHZ_PORT}`;
    if (!origins.has('metricsBindAddress')) config.metricsBindAddress = `[::1]:${METRICS_PORT}`;
  }

  // Cross-field checks only make sense once every single value is valid.
  if (problems.length === 0) problems.push(...validateConfig(config, origins));
  if (problems.length > 0) throw new ConfigProblems(problems);
  return { action: 'run', config, warnings, origins, ...(strictError ? { strictError } : {}) };
}

function describeError(e: NodeJS.ErrnoException): string {
  // Node's fs messages repeat the code and path ("ENOENT: no such file or directory, open 'x'"); keep the words.
  const m = /^[A-Z]+: (.*?)(?:, \w+ '.*')?$/.exec(e.message);
  return m ? m[1] : e.message;
}
