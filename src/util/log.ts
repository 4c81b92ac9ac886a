/**
 * log.ts: one line an event, klog-style levels. `-v N` raises detail: log.v(2).info(...) prints only at
 * verbosity >= 2. Child loggers carry bindings (mode, family) printed as key=value.
 */
export type Level = 'I' | 'W' | 'E';

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that prints only when verbosity >= level. */
  v(level: number): Logger;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LogSink {
  write(line: string): void;
}

let verbosity = 0;
let sink: LogSink = { write: (line) => process.stderr.write(line + '\n') };

export function setVerbosity(v: number): void {
  verbosity = v;
}

/** Redirects every logger's output (tests capture lines with this). Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  if (v === undefined) return 'undefined';
  return JSON.stringify(v) ?? String(v);
}

function format(level: Level, msg: string, bindings: Record<string, unknown>, fields?: Record<string, unknown>): string {
  const ts = new Date().toISOString();
  let line = `${level} ${ts} ${JSON.stringify(msg)}`;
  for (const [k, v] of Object.entries(bindings)) line += ` ${k}=${formatValue(v)}`;
  if (fields) for (const [k, v] of Object.entries(fields)) line += ` ${k}=${formatValue(v)}`;
  return line;
}

function make(bindings: Record<string, unknown>, minVerbosity: number): Logger {
  const enabled = () => verbosity >= minVerbosity;
  return {
    info: (msg, fields) => { if (enabled()) sink.write(format('I', msg, bindings, fields)); },
    warn: (msg, fields) => { if (enabled()) sink.write(format('W', msg, bindings, fields)); },
    error: (msg, fields) => { sink.write(format('E', msg, bindings, fields)); },
    v: (level) => make(bindings, level),
    child: (more) => make({ ...bindings, ...more }, minVerbosity),
  };
}

export const log: Logger = make({}, 0);
