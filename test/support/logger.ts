/**
 * logger.ts (test support): a Logger that keeps its lines for assertions and prints nothing. A line is
 * "I|W|E message {bindings and fields as JSON}"; v(n) keeps every level, and children share the lines.
 */
import type { Logger } from '../../src/util/log.js';

export interface MemoryLogger extends Logger {
  readonly lines: string[];
  v(level: number): MemoryLogger;
  child(bindings: Record<string, unknown>): MemoryLogger;
}

export function memoryLogger(lines: string[] = []): MemoryLogger {
  const make = (b: Record<string, unknown>): MemoryLogger => ({
    lines,
    info: (m, f) => { lines.push(`I ${m} ${JSON.stringify({ ...b, ...f })}`); },
    warn: (m, f) => { lines.push(`W ${m} ${JSON.stringify({ ...b, ...f })}`); },
    error: (m, f) => { lines.push(`E ${m} ${JSON.stringify({ ...b, ...f })}`); },
    v: () => make(b),
    child: (more) => make({ ...b, ...more }),
  });
  return make({});
}
