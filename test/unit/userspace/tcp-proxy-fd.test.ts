import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../../support/poll-until.js';
import { nameEchoServer, readNameWithRetries } from './fixtures.js';

const helper = fileURLToPath(new URL('./emfile-proxy.ts', import.meta.url));

test('out of file descriptors, the proxy pauses accepting, never crashes, and serves again once descriptors free up', async (t) => {
  const backend = await nameEchoServer('pod-a');
  t.after(() => backend.close());
  // The helper starts with ~36 descriptors in use; 70 leaves room for about 15 proxied connections.
  const child = spawn('prlimit', ['--nofile=70:70', process.execPath, '--import', 'tsx', helper, String(backend.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d.toString(); });
  const lines = createInterface({ input: child.stdout });
  const next = (prefix: string) => new Promise<string>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`helper exited ${code}: ${stderr}`));
    const on = (l: string) => { if (l.startsWith(prefix)) { lines.off('line', on); child.off('exit', exited); resolve(l); } };
    lines.on('line', on);
    child.once('exit', exited);
  });
  const port = Number((await next('PORT ')).split(' ')[1]);
  const step = (m: string) => { if (process.env.KPX_DEBUG_FD) process.stderr.write(`fd-test: ${m}\n`); };
  /** The helper's counts: [pauses, open connections, paused (1) or accepting (0)]. */
  const stat = async (): Promise<number[]> => {
    child.stdin.write('stat\n');
    return (await next('STAT ')).split(' ').slice(1).map(Number);
  };

  const clients: net.Socket[] = [];
  let served = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 60 }, () => new Promise<void>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    clients.push(s);
    const timer = setTimeout(() => resolve(), 3000);
    s.on('data', () => { served++; clearTimeout(timer); resolve(); });
    s.on('error', () => {});
    s.on('close', () => { refused++; clearTimeout(timer); resolve(); });
  })));
  step(`flood: served ${served} refused ${refused}`);
  assert.ok(served > 0, 'some connections were served');
  assert.ok(served < 60, `the descriptor limit was actually reached (served ${served}, refused ${refused})`);
  assert.equal(served + refused, 60, 'every client over the limit was refused at once, none left hanging');
  for (const s of clients) s.destroy();
  // The proxy sees every flood client go, and lives on.
  await pollUntil(async () => (await stat())[1] === 0, { intervalMs: 50 });
  assert.equal(child.exitCode, null, `the proxy is still running: ${stderr}`);
  // Once descriptors are free again, a new client is served.
  assert.equal(await readNameWithRetries(port, 20, 200), 'pod-a');

  // Deterministic: one descriptor left, so the next client is accepted and its dial fails with EMFILE.
  // First every flood connection must be gone, or its descriptors would free up after the fill, and the
  // listener must be accepting (a connection is released only after both its sockets closed).
  await pollUntil(async () => { const [, open, paused] = await stat(); return open === 0 && paused === 0; }, { intervalMs: 50 });
  child.stdin.write('fill\n');
  step((await next('FILLED ')));
  const refusedClient = await new Promise<string>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    s.on('data', (d) => { got += d.toString(); s.destroy(); });
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
  step('refused client closed');
  assert.equal(refusedClient, '', 'the client whose dial had no descriptor is closed at once');
  const paused = await stat();
  assert.ok(paused[0]! >= 1 && paused[2] === 1, `accepting is paused (${paused.join(' ')})`);
  child.stdin.write('release\n');
  await next('RELEASED');
  step('released');
  assert.equal(await readNameWithRetries(port, 40, 100), 'pod-a', 'after the shortage it listens and serves again');
  assert.equal((await stat())[2], 0, 'accepting again');
  assert.equal(child.exitCode, null);
});
