/**
 * main.ts: kpx's entry point. Dispatches the subcommands (trace, sandbox, load), answers --help and --version,
 * builds the effective configuration, writes it for --write-config-to, and otherwise hands it to runProxy.
 * Subcommands and the proxy are imported lazily: a broken subcommand module can never stop the proxy (or
 * --help) from starting. Configuration problems print one line each, "kpx: ...", and exit with status 1.
 */
import { readFileSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, errorMessage } from '../util/errors.js';
import { configureLogging, log, parseVModule } from '../util/log.js';
import type { KpxConfig } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { ConfigProblems } from '../config/problems.js';
import { renderConfigFile } from '../config/write-config.js';
import { helpText, SUBCOMMANDS } from './help.js';

/** Exit status for a bad flag, value, config field or file: component-base's cli.Run exits 1 on every error. */
export const EXIT_CONFIG_ERROR = 1;

export interface MainIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads the --config file (tests pass their own). */
  readFile?: (path: string) => string;
}

const processIO: MainIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

type SubcommandRunner = (argv: string[]) => Promise<number>;

async function loadSubcommand(name: string): Promise<SubcommandRunner> {
  switch (name) {
    case 'trace':
      return (await import('./trace-command.js')).runTrace;
    case 'sandbox':
      return (await import('./sandbox-command.js')).runSandbox;
    case 'load':
      return (await import('./load-command.js')).runLoad;
    default:
      throw new Error(`unknown subcommand ${name}`);
  }
}

/** packageVersion: the version in kpx's package.json, found from this module (src/ under tsx, dist/ built). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kpx' && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

function printProblems(err: ConfigError, io: MainIO): number {
  const lines = err instanceof ConfigProblems ? err.problems : err.message.split('\n');
  for (const line of lines) io.stderr(`kpx: ${line}\n`);
  return EXIT_CONFIG_ERROR;
}

/** applyLogging: component-base's logging configuration, applied before the first line is written. */
export function applyLogging(config: KpxConfig): void {
  const json = config.logging.format === 'json';
  configureLogging({
    format: json ? 'json' : 'text',
    verbosity: config.verbosity,
    vmodule: parseVModule(config.logging.vmodule),
    splitStream: json ? config.logging.json.splitStream : config.logging.text.splitStream,
  });
}

export async function main(argv: string[], io: MainIO = processIO): Promise<number> {
  const first = argv[0];
  if (first !== undefined && SUBCOMMANDS.some((s) => s.name === first)) {
    let run: SubcommandRunner;
    try {
      run = await loadSubcommand(first);
    } catch (err) {
      io.stderr(`kpx: the ${first} subcommand cannot be loaded: ${errorMessage(err)}\n`);
      return 1;
    }
    try {
      return await run(argv.slice(1));
    } catch (err) {
      if (err instanceof ConfigError) return printProblems(err, io);
      throw err;
    }
  }

  let result;
  try {
    result = loadConfig(argv, { readFile: io.readFile });
  } catch (err) {
    if (err instanceof ConfigError) return printProblems(err, io);
    throw err;
  }
  if (result.action === 'help') {
    io.stdout(helpText());
    return 0;
  }
  if (result.action === 'version') {
    io.stdout(`kpx v${packageVersion()}\n`);
    return 0;
  }

  const { config, warnings, strictError } = result;
  applyLogging(config);
  // kube-proxy's own words (and level), so an alert or a grep written for it finds kpx's line too.
  if (strictError) log.info('Using lenient decoding as strict decoding failed', { err: strictError });
  for (const w of warnings) log.warn(w);

  if (config.writeConfigTo !== '') {
    const rendered = renderConfigFile(config);
    for (const w of rendered.warnings) log.warn(w);
    try {
      await writeFile(config.writeConfigTo, rendered.text);
    } catch (err) {
      io.stderr(`kpx: cannot write the configuration to ${config.writeConfigTo}: ${errorMessage(err)}\n`);
      return 1;
    }
    log.v(1).info('Wrote the effective configuration', { file: config.writeConfigTo });
    return 0;
  }

  const { runProxy } = await import('./run.js');
  try {
    return await runProxy(config);
  } catch (err) {
    if (err instanceof ConfigError) return printProblems(err, io);
    throw err;
  }
}
