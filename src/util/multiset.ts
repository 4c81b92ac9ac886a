/** multiset.ts: list differences that count repeats (a line present twice in `a` and once in `b` is left once). */

/** multisetMinus: the items of `a` not matched one for one in `b`, in `a`'s order. */
export function multisetMinus<T>(a: readonly T[], b: readonly T[]): T[] {
  const counts = new Map<T, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  const out: T[] = [];
  for (const x of a) {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    else out.push(x);
  }
  return out;
}
