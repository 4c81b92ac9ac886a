/**
 * log.ts: one line an event, in the formats kube-proxy's component-base logging writes, so the klog and JSON
 * parsers of an operator's log pipeline read kpx's lines unchanged:
 * - text (the default, klog's header): `I1202 17:03:06.145123   12345 proxier.ts:123] "Message" key="value"`:
 *   level letter, MMDD, local time with microseconds, the pid as klog's thread id, the caller's file:line (the
 *   TypeScript source file under tsx, the .js file when built), the quoted message, then key=value pairs
 *   quoted as klog quotes them (strings quoted, numbers and booleans bare, multi-line strings as `key=<...>`).
 * - json (--logging-format=json): `{"ts":<epoch ms>,"caller":"sync/proxier.ts:123","msg":"Message","v":0,...}`;
 *   error lines have no "v" and put the error last as "err", as component-base's zap encoder does.
 * `-v N` raises detail: log.v(2).info(...) prints only at verbosity >= 2; `--vmodule pattern=N` raises it for
 * the loggers whose source file (without extension) or component/mode binding matches the glob pattern.
 * Child loggers carry bindings (mode, family) printed before the call's own fields.
 */
import { basename, dirname } from 'node:path';

export type Level = 'I' | 'W' | 'E';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that prints only when verbosity >= level. */
  v(level: number): Logger;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LogSink {
  /** One formatted line without its newline; level lets a sink split info and error streams. */
  write(line: string, level?: Level): void;
}

export interface VModuleRule {
  readonly pattern: string;
  readonly level: number;
  readonly match: RegExp;
}

export interface LogSettings {
  format: LogFormat;
  verbosity: number;
  vmodule: readonly VModuleRule[];
  /** --log-{text,json}-split-stream: info lines to stdout, errors to stderr. */
  splitStream: boolean;
}

const settings: LogSettings = { format: 'text', verbosity: 0, vmodule: [], splitStream: false };

const processSink: LogSink = {
  write: (line, level) => {
    if (settings.splitStream && level !== 'E') process.stdout.write(line + '\n');
    else process.stderr.write(line + '\n');
  },
};
let sink: LogSink = processSink;

export function setVerbosity(v: number): void {
  settings.verbosity = v;
}

/** configureLogging: the effective logging configuration (format, -v, --vmodule, split streams). */
export function configureLogging(next: Partial<LogSettings>): void {
  Object.assign(settings, next);
}

/** resetLogging: back to the defaults (tests). */
export function resetLogging(): void {
  configureLogging({ format: 'text', verbosity: 0, vmodule: [], splitStream: false });
}

/** Redirects every logger's output (tests capture lines with this). Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

/**
 * parseVModule: klog's --vmodule syntax, `pattern=N[,pattern=N...]`, glob patterns with * and ?.
 * Throws Error with a reason phrase for a malformed entry, as klog's flag does.
 */
export function parseVModule(text: string): VModuleRule[] {
  const rules: VModuleRule[] = [];
  if (text.trim() === '') return rules;
  for (const entry of text.split(',')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`syntax error: expect comma-separated list of filename=N, got ${JSON.stringify(entry)}`);
    const pattern = entry.slice(0, eq).trim();
    const levelText = entry.slice(eq + 1).trim();
    if (!/^\d+$/.test(levelText)) throw new Error(`syntax error: expect comma-separated list of filename=N, got ${JSON.stringify(entry)}`);
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    rules.push({ pattern, level: Number(levelText), match: new RegExp(`^${source}$`) });
  }
  return rules;
}

interface Caller { file: string; line: number }

const THIS_FILE = /[/\\]util[/\\]log\.[jt]s$/;

/** callerOf: the first stack frame outside this module; klog prints the caller's file:line. */
function callerOf(): Caller {
  const stack = new Error().stack ?? '';
  for (const frame of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!m) continue;
    const file = m[1].replace(/^file:\/\//, '');
    if (THIS_FILE.test(file) || file.startsWith('node:')) continue;
    return { file, line: Number(m[2]) };
  }
  return { file: '???', line: 1 };
}

function moduleName(file: string): string {
  return basename(file).replace(/\.[cm]?[jt]s$/, '');
}

function vmoduleLevel(bindings: Record<string, unknown>, caller: () => Caller): number | undefined {
  const names: string[] = [];
  for (const key of ['component', 'mode']) if (typeof bindings[key] === 'string') names.push(bindings[key] as string);
  let level: number | undefined;
  for (const rule of settings.vmodule) {
    if (names.some((n) => rule.match.test(n))) level = Math.max(level ?? 0, rule.level);
  }
  if (level !== undefined) return level;
  const file = moduleName(caller().file);
  for (const rule of settings.vmodule) if (rule.match.test(file)) return rule.level;
  return undefined;
}

/** goQuote: Go's strconv.Quote, which klog uses for messages and string values. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** A value as Go's %+v would show it for the kinds kpx logs; objects as JSON so they stay machine-readable. */
function bareText(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(bareText).join(' ')}]`;
  if (typeof v === 'object') return JSON.stringify(v, jsonReplacer) ?? String(v);
  return String(v);
}

/** klog's KVListFormat for one value: strings, errors and dates quoted (multi-line as `=<`), the rest bare. */
function klogValue(v: unknown): string {
  let text: string;
  let quoted = true;
  if (typeof v === 'string') text = v;
  else if (v instanceof Error) text = v.message;
  else if (v instanceof Date) text = v.toISOString();
  else {
    text = bareText(v);
    quoted = false;
  }
  if (!text.includes('\n')) return `=${quoted ? goQuote(text) : text}`;
  const lines = text.split('\n');
  const last = lines.pop()!;
  let out = '=<\n';
  for (const l of lines) out += `\t${l}\n`;
  return last === '' ? `${out} >` : `${out}\t${last}\n >`;
}

function jsonReplacer(_key: string, v: unknown): unknown {
  if (v instanceof Error) return v.message;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function pad(n: number, width: number, fill = '0'): string {
  return String(n).padStart(width, fill);
}

/** Wall time in microseconds since the epoch (klog prints microseconds). */
function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** errorField: the field a kpx error carries, which klog's ErrorS writes as `err`. */
function splitError(fields: Record<string, unknown>): { err: unknown; rest: Record<string, unknown> } | undefined {
  const key = 'err' in fields ? 'err' : 'error' in fields ? 'error' : undefined;
  if (key === undefined) return undefined;
  const { [key]: err, ...rest } = fields;
  return { err, rest };
}

export function formatText(level: Level, msg: string, kv: Record<string, unknown>, caller: Caller, micros: number, pid: number): string {
  const d = new Date(Math.floor(micros / 1000));
  const time = `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(micros % 1_000_000, 6)}`;
  let line = `${level}${pad(d.getMonth() + 1, 2)}${pad(d.getDate(), 2)} ${time} ${pad(pid, 7, ' ')} ${basename(caller.file)}:${caller.line}] ${goQuote(msg)}`;
  let pairs = kv;
  if (level === 'E') {
    const split = splitError(kv);
    if (split) {
      line += ` err${klogValue(split.err)}`;
      pairs = split.rest;
    }
  }
  for (const [k, v] of Object.entries(pairs)) line += ` ${k}${klogValue(v)}`;
  return line;
}

export function formatJson(level: Level, verbosity: number, msg: string, kv: Record<string, unknown>, caller: Caller, micros: number): string {
  const short = `${basename(dirname(caller.file))}/${basename(caller.file)}:${caller.line}`;
  const obj: Record<string, unknown> = { ts: micros / 1000, caller: short, msg };
  if (level === 'E') {
    const split = splitError(kv);
    Object.assign(obj, split ? split.rest : kv);
    if (split) obj.err = split.err;
  } else {
    obj.v = verbosity;
    Object.assign(obj, kv);
  }
  return JSON.stringify(obj, (k, v: unknown) => (v === undefined ? null : jsonReplacer(k, v)));
}

function make(bindings: Record<string, unknown>, minVerbosity: number): Logger {
  const enabled = (caller: () => Caller): boolean => {
    if (settings.verbosity >= minVerbosity) return true;
    if (settings.vmodule.length === 0) return false;
    const level = vmoduleLevel(bindings, caller);
    return level !== undefined && level >= minVerbosity;
  };
  const emit = (level: Level, msg: string, fields: Record<string, unknown> | undefined) => {
    let caller: Caller | undefined;
    const where = () => (caller ??= callerOf());
    if (level !== 'E' && !enabled(where)) return;
    const kv = fields ? { ...bindings, ...fields } : bindings;
    const micros = nowMicros();
    const line = settings.format === 'json'
      ? formatJson(level, minVerbosity, msg, kv, where(), micros)
      : formatText(level, msg, kv, where(), micros, process.pid);
    sink.write(line, level);
  };
  return {
    info: (msg, fields) => emit('I', msg, fields),
    warn: (msg, fields) => emit('W', msg, fields),
    error: (msg, fields) => emit('E', msg, fields),
    v: (level) => make(bindings, level),
    child: (more) => make({ ...bindings, ...more }, minVerbosity),
  };
}

export const log: Logger = make({}, 0);
