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
