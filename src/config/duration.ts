/**
 * duration.ts: Go's time.Duration text form ("30s", "1m30s", "500ms", "2h45m0s", "0"), because kube-proxy's
 * flags and KubeProxyConfiguration files use it and a drop-in must read and write the same strings.
 * kpx holds durations as milliseconds (KpxConfig); nanoseconds are computed in BigInt so parsing and formatting
 * are exact over Go's whole range.
 */

const NS = 1n;
const US = 1_000n;
const MS = 1_000_000n;
const S = 1_000_000_000n;
const M = 60n * S;
const H = 60n * M;
const MAX_NS = (1n << 63n) - 1n; // Go's Duration is an int64 of nanoseconds

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', NS],
  ['us', US],
  ['\u00b5s', US], // µ (micro sign), which Go accepts
  ['\u03bcs', US], // μ (Greek mu), which Go accepts
  ['ms', MS],
  ['s', S],
  ['m', M],
  ['h', H],
]);

/** DurationError: the text is not a Go duration; `reason` is a short phrase for a one-line message. */
export class DurationError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'DurationError';
    this.reason = reason;
  }
}

/** parseDurationNs parses Go's duration syntax into nanoseconds (may be negative), as time.ParseDuration does. */
export function parseDurationNs(text: string): bigint {
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new DurationError('not a duration');
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, intPart, fracPart] = m;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) throw new DurationError('not a duration');
    s = s.slice(whole.length);
    const unitMatch = /^[^\d.]*/.exec(s)!;
    const unitText = unitMatch[0];
    if (unitText === '') throw new DurationError('not a duration (missing unit: use ns, us, ms, s, m or h)');
    const unit = UNITS.get(unitText);
    if (unit === undefined) throw new DurationError(`not a duration (unknown unit "${unitText}": use ns, us, ms, s, m or h)`);
    s = s.slice(unitText.length);
    let v = (intPart === '' ? 0n : BigInt(intPart)) * unit;
    if (fracPart) {
      // Truncate toward zero like Go: the fraction contributes floor(frac * unit).
      const scale = 10n ** BigInt(fracPart.length);
      v += (BigInt(fracPart) * unit) / scale;
    }
    total += v;
    if (total > MAX_NS) throw new DurationError('not a duration (out of range)');
  }
  return neg ? -total : total;
}

/** parseDuration parses Go's duration syntax into milliseconds (fractions kept for sub-millisecond values). */
export function parseDuration(text: string): number {
  return nsToMs(parseDurationNs(text));
}

export function nsToMs(ns: bigint): number {
  const whole = ns / MS;
  const rest = ns % MS;
  return Number(whole) + Number(rest) / 1e6;
}

export function msToNs(ms: number): bigint {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite duration: ${ms}`);
  const whole = Math.trunc(ms);
  return BigInt(whole) * MS + BigInt(Math.round((ms - whole) * 1e6));
}

/** fractionText prints v / 10^prec as Go does: no trailing zeros and no point when the fraction is zero. */
function fractionText(v: bigint, prec: number): string {
  const scale = 10n ** BigInt(prec);
  const int = v / scale;
  let frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? int.toString() : `${int}.${frac}`;
}

/** formatDurationNs prints nanoseconds exactly as Go's Duration.String() does ("1h0m0s", "1.5s", "250ms"). */
export function formatDurationNs(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const u = ns < 0n ? -ns : ns;
  if (u < S) {
    if (u < US) return `${sign}${u}ns`;
    if (u < MS) return `${sign}${fractionText(u, 3)}\u00b5s`;
    return `${sign}${fractionText(u, 6)}ms`;
  }
  const seconds = fractionText(u % M, 9) + 's';
  const totalMinutes = u / M;
  if (totalMinutes === 0n) return sign + seconds;
  const minutes = `${totalMinutes % 60n}m`;
  const hours = totalMinutes / 60n;
  return sign + (hours === 0n ? '' : `${hours}h`) + minutes + seconds;
}

/** formatDuration prints milliseconds in Go's form. */
export function formatDuration(ms: number): string {
  return formatDurationNs(msToNs(ms));
}
