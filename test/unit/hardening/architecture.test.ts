/**
 * The arrows of DESIGN.md's "Which way dependencies point", enforced: this reads the imports of every source
 * file under src/ and modes/ (import/export-from lines and dynamic imports, by regex) and fails with the
 * offending file -> import pairs, rule by rule.
 *
 * Only kpx's own files count (relative specifiers); node: builtins and npm packages are not layers.
 * An arrow against the design that needs a design change first is listed in ALLOWED with its reason; an
 * entry that no longer matches any import fails too, so the list only shrinks.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../../src/sandbox/scripts.js';

interface Import {
  /** The importing file, relative to the package root ("src/model/node.ts"). */
  readonly from: string;
  /** The imported file, likewise ("src/util/ip.ts"). */
  readonly to: string;
  /** `import type` / `export type`: erased at build, no runtime arrow. */
  readonly typeOnly: boolean;
}

interface Rule {
  readonly name: string;
  readonly applies: (file: string) => boolean;
  readonly forbids: (imp: Import) => boolean;
}

const under = (...dirs: string[]) => (path: string) => dirs.some((d) => path === d || path.startsWith(`${d}/`));
const modeOf = (path: string) => path.split('/')[1];

const RULES: readonly Rule[] = [
  {
    name: 'src/model is pure: it imports no mode, source, sync loop, kernel wrapper, CLI or server',
    applies: under('src/model'),
    forbids: (i) => under('modes', 'src/source', 'src/sync', 'src/net', 'src/cli', 'src/server')(i.to),
  },
  {
    name: 'src/net is a library of kernel wrappers: it imports no mode, model or CLI',
    applies: under('src/net'),
    forbids: (i) => under('modes', 'src/model', 'src/cli')(i.to),
  },
  {
    name: 'a mode sees only ProxyState: it imports no source, CLI or sync loop',
    applies: under('modes'),
    forbids: (i) => under('src/source', 'src/cli', 'src/sync')(i.to),
  },
  {
    name: 'a mode reads the model only through its types (ProxyState), never API objects or model code',
    applies: under('modes'),
    forbids: (i) => under('src/model')(i.to) && i.to !== 'src/model/types.ts',
  },
  {
    name: 'modes never import each other',
    applies: under('modes'),
    forbids: (i) => under('modes')(i.to) && modeOf(i.to) !== modeOf(i.from),
  },
  {
    name: 'src/util is a leaf: it imports only src/util',
    applies: under('src/util'),
    forbids: (i) => !under('src/util')(i.to),
  },
  {
    name: 'a source never imports a mode or the kernel wrappers',
    applies: under('src/source'),
    forbids: (i) => under('modes', 'src/net')(i.to),
  },
];

/**
 * Arrows against the design, each waiting for a design change.
 *
 * src/net -> src/model/types.ts, type-only: the kernel wrappers name the address family and protocol with
 * the model's IPFamily ('IPv4' | 'IPv6', now defined in src/util/ip.ts and re-exported by the model) and
 * Protocol ('TCP' | 'UDP' | 'SCTP'). Both are plain string unions, erased at build; the arrow goes once
 * src/net imports IPFamily from src/util/ip.ts and Protocol moves to src/util.
 */
const ALLOWED: readonly { readonly from: string; readonly to: string; readonly typeOnly: true }[] = [
  { from: 'src/net/conntrack.ts', to: 'src/model/types.ts', typeOnly: true },
  { from: 'src/net/iptables.ts', to: 'src/model/types.ts', typeOnly: true },
  { from: 'src/net/ipvs/client.ts', to: 'src/model/types.ts', typeOnly: true },
  { from: 'src/net/ipvs/codec.ts', to: 'src/model/types.ts', typeOnly: true },
];

const root = packageRoot();

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|mjs)$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Source text without comments, so an import quoted in prose does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const STATIC = /\b(import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\s*from\s*)?['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The package-relative file a relative specifier names (a `.js` specifier names its `.ts` source). */
function resolve(fromRel: string, spec: string): string {
  const target = normalize(join(dirname(fromRel), spec));
  const ts = target.replace(/\.(m?)js$/, '.$1ts');
  return ts !== target && existsSync(join(root, ts)) ? ts : target;
}

function importsOf(fromRel: string, text: string): Import[] {
  const out: Import[] = [];
  const body = code(text);
  for (const m of body.matchAll(STATIC)) {
    if (m[3].startsWith('.')) out.push({ from: fromRel, to: resolve(fromRel, m[3]), typeOnly: m[2] !== undefined });
  }
  for (const m of body.matchAll(DYNAMIC)) {
    if (m[1].startsWith('.')) out.push({ from: fromRel, to: resolve(fromRel, m[1]), typeOnly: false });
  }
  return out;
}

const isAllowed = (i: Import) => ALLOWED.some((a) => a.from === i.from && a.to === i.to && (i.typeOnly || !a.typeOnly));
const show = (i: Import) => `${i.from} -> ${i.to}${i.typeOnly ? ' (type-only)' : ''}`;

describe('dependencies point the way DESIGN.md says', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'modes'))].map((f) => relative(root, f));
  const imports = files.flatMap((f) => importsOf(f, readFileSync(join(root, f), 'utf8')));

  it('reads the whole tree and its imports', () => {
    assert.ok(files.length > 100, `found ${files.length} source files`);
    assert.ok(imports.length > 300, `found ${imports.length} imports`);
    assert.ok(imports.some((i) => i.from === 'src/cli/mode-wiring.ts' && i.to === 'src/source/kube.ts'), 'a dynamic import counts');
  });

  it('the import reader sees every form and skips comments and packages', () => {
    const sample = [
      "import type { A } from '../model/types.js';",
      "import {\n  b,\n  type C,\n} from './b.js';",
      "import './side-effect.js';",
      "export { d } from '../util/d.js';",
      "export * from '../util/e.js';",
      "export type { F } from '../util/f.js';",
      "const g = await import('../net/g.js');",
      "// import { h } from '../cli/h.js';",
      "/* import { i } from '../cli/i.js'; */",
      "import { j } from 'node:fs';",
      "export function k(from: string) { return from; }",
    ].join('\n');
    assert.deepEqual(importsOf('src/x/a.ts', sample).map(show).sort(), [
      'src/x/a.ts -> src/model/types.ts (type-only)', // a .js specifier names its .ts source
      'src/x/a.ts -> src/net/g.js',
      'src/x/a.ts -> src/util/d.js',
      'src/x/a.ts -> src/util/e.js',
      'src/x/a.ts -> src/util/f.js (type-only)',
      'src/x/a.ts -> src/x/b.js',
      'src/x/a.ts -> src/x/side-effect.js',
    ]);
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const offending = imports.filter((i) => rule.applies(i.from) && rule.forbids(i) && !isAllowed(i)).map(show);
      assert.deepEqual(offending, [], `imports against "${rule.name}":\n  ${offending.join('\n  ')}`);
    });
  }

  it('every allowed exception still exists (delete the entry once its arrow is gone)', () => {
    const stale = ALLOWED.filter((a) => !imports.some((i) => i.from === a.from && i.to === a.to && isAllowed(i)));
    assert.deepEqual(stale.map((a) => `${a.from} -> ${a.to}`), []);
  });
});
