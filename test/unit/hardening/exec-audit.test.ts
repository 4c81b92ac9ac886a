/**
 * Nothing user-controlled reaches a shell: every external command kpx runs goes through src/net/exec.ts,
 * which spawns an argument vector. This reads every source file of src/ and modes/ and fails on any
 * other use of child_process, on `shell: true`, and on the string forms exec/execSync/execFile.
 *
 * Allowed besides exec.ts (each for a stated reason):
 *  - src/sandbox/background.ts: the sandbox's long-running processes (pod servers, kpx under test), with
 *    exec.ts's own argument vector (commandVector);
 *  - src/sandbox/exit-cleanup.ts: `ip netns del` from a synchronous 'exit' handler (spawnSync with an
 *    argument vector; names checked to carry the kpx- prefix).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../../src/sandbox/scripts.js';

const root = packageRoot();
const ALLOWED = new Map<string, RegExp>([
  ['src/net/exec.ts', /^import \{ spawn \} from 'node:child_process';$/m],
  ['src/sandbox/background.ts', /^import \{ spawn, type ChildProcess \} from 'node:child_process';$/m],
  ['src/sandbox/exit-cleanup.ts', /^import \{ spawnSync \} from 'node:child_process';$/m],
]);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|js|mjs|cjs)$/.test(e)) out.push(p);
  }
  return out;
}

/** Source text without comments, so prose about child_process does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

describe('every external command goes through src/net/exec.ts', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'modes'))].map((f) => ({ rel: relative(root, f), text: code(readFileSync(f, 'utf8')) }));

  it('reads the whole tree', () => {
    assert.ok(files.length > 50, `found ${files.length} source files`);
  });

  it('no module but the allowed ones touches child_process', () => {
    const users = files.filter((f) => /child_process/.test(f.text)).map((f) => f.rel).sort();
    const unexpected = users.filter((u) => !ALLOWED.has(u));
    assert.deepEqual(unexpected, [], `child_process used outside exec.ts: ${unexpected.join(', ')}`);
    process.stdout.write(`# child_process users: ${users.join(', ')}\n`);
  });

  it('the allowed ones import only argument-vector spawners, never exec/execSync/execFile', () => {
    for (const [rel, importLine] of ALLOWED) {
      const f = files.find((x) => x.rel === rel);
      if (!f) continue;
      assert.match(f.text, importLine, `${rel} imports exactly what it should`);
      assert.doesNotMatch(f.text, /\b(execSync|execFileSync|execFile)\b|\bexec\s*\(\s*['"`]/, `${rel} uses a string command`);
    }
  });

  it('nothing asks for a shell', () => {
    const bad = files.filter((f) => /shell\s*:\s*(true|['"`])/.test(f.text)).map((f) => f.rel);
    assert.deepEqual(bad, []);
  });

  it('nothing loads child_process dynamically or through require', () => {
    const bad = files.filter((f) => /(require|import)\s*\(\s*['"`](node:)?child_process['"`]\s*\)|process\.binding\s*\(\s*['"`]spawn/.test(f.text)).map((f) => f.rel);
    assert.deepEqual(bad, []);
  });

  it('exec.ts spawns the argument vector it built, with no shell', () => {
    const f = files.find((x) => x.rel === 'src/net/exec.ts')!;
    assert.match(f.text, /spawn\(file, argv, \{/);
    assert.doesNotMatch(f.text, /shell/);
  });
});
