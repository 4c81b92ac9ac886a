/**
 * show.ts: a user-supplied value as a short, safe string for warnings. Input from manifests can be
 * anything (objects without a prototype, huge strings); a warning about bad input must never throw or
 * flood the log itself.
 */
const MAX = 80;

export function show(v: unknown): string {
  let s: string;
  try {
    if (typeof v === 'string') s = v;
    else if (typeof v === 'bigint') s = `${v}`;
    else if (v === undefined) s = 'undefined';
    else s = JSON.stringify(v) ?? Object.prototype.toString.call(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > MAX ? s.slice(0, MAX) + '…' : s;
}

const SAFE = Symbol('kpx.model.safeWarn');

export type WarnFn = (msg: string, fields?: Record<string, unknown>) => void;

/** Wraps a warn callback so every field value is a number, boolean or short string (see show). */
export function safeWarn(warn: WarnFn): WarnFn {
  if ((warn as { [SAFE]?: boolean })[SAFE]) return warn;
  const wrapped: WarnFn = (msg, fields) => {
    if (!fields) { warn(msg); return; }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      out[k] = typeof v === 'number' || typeof v === 'boolean' ? v : Array.isArray(v) ? v.map(show) : show(v);
    }
    warn(msg, out);
  };
  (wrapped as { [SAFE]?: boolean })[SAFE] = true;
  return wrapped;
}
