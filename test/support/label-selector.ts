/**
 * label-selector.ts: Kubernetes label and field selector matching, as the API server applies them to
 * `?labelSelector=` and `?fieldSelector=`. Used by the fake API server so tests see the same filtering
 * a real cluster does (kpx asks for `!service.kubernetes.io/service-proxy-name,...` and
 * `metadata.name=<node>`).
 *
 * Label forms: `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`;
 * terms are joined by commas (AND). Field forms: `path=value`, `path==value`, `path!=value` on dotted paths
 * such as `metadata.name`.
 */

export type Labels = Readonly<Record<string, string>> | undefined;

/** A compiled selector: returns true when an object's labels (or fields) match. */
export type Matcher = (obj: unknown) => boolean;

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

/** splitTerms splits on commas that are not inside `( )`, since `in (a,b)` holds commas itself. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  terms.push(cur);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function labelsOf(obj: unknown): Record<string, string> {
  const meta = (obj as { metadata?: { labels?: unknown } } | null)?.metadata;
  const labels = meta?.labels;
  return labels && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

/** compileLabelSelector throws SelectorError for a term it cannot parse (the API server answers 400). */
export function compileLabelSelector(selector: string | undefined | null): Matcher {
  if (!selector) return () => true;
  const tests: ((labels: Record<string, string>) => boolean)[] = [];
  for (const term of splitTerms(selector)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^!\s*([\w./-]+)$/))) {
      const key = m[1];
      tests.push((l) => !Object.hasOwn(l, key));
    } else if ((m = term.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m;
      const values = new Set(list.split(',').map((v) => v.trim()));
      tests.push(op === 'in'
        ? (l) => Object.hasOwn(l, key) && values.has(l[key])
        : (l) => !Object.hasOwn(l, key) || !values.has(l[key]));
    } else if ((m = term.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      const [, key, op, value] = m;
      tests.push(op === '!='
        ? (l) => l[key] !== value
        : (l) => Object.hasOwn(l, key) && l[key] === value);
    } else if ((m = term.match(/^([\w./-]+)$/))) {
      const key = m[1];
      tests.push((l) => Object.hasOwn(l, key));
    } else {
      throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
    }
  }
  return (obj) => {
    const labels = labelsOf(obj);
    return tests.every((t) => t(labels));
  };
}

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/**
 * compileFieldSelector: `allowed` lists the field paths the resource supports (the real API server
 * rejects others with 400 "field label not supported").
 */
export function compileFieldSelector(selector: string | undefined | null, allowed: readonly string[]): Matcher {
  if (!selector) return () => true;
  const tests: ((obj: unknown) => boolean)[] = [];
  for (const term of splitTerms(selector)) {
    const m = term.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new SelectorError(`invalid field selector term: ${JSON.stringify(term)}`);
    const [, path, op, value] = m;
    if (!allowed.includes(path)) throw new SelectorError(`field label not supported: ${path}`);
    tests.push(op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value);
  }
  return (obj) => tests.every((t) => t(obj));
}
