import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFile } from '../../../src/config/config-watch.js';
import { pollUntil } from '../../support/poll-until.js';

function tempFile(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-config-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.conf');
  writeFileSync(file, 'mode: iptables\n');
  return file;
}

test('a write to the config file is reported once', async (t) => {
  const file = tempFile(t);
  const events: string[] = [];
  const w = watchConfigFile(file, (e) => events.push(e));
  t.after(() => w.close());
  writeFileSync(file, 'mode: ipvs\n');
  writeFileSync(file, 'mode: iptables\n');
  await pollUntil(() => events.length > 0);
  assert.equal(events.length, 1);
});

test('renaming the config file away (a ConfigMap symlink swap) is reported', async (t) => {
  const file = tempFile(t);
  const events: string[] = [];
  const w = watchConfigFile(file, (e) => events.push(e));
  t.after(() => w.close());
  renameSync(file, `${file}.old`);
  await pollUntil(() => events.length > 0);
  assert.equal(events[0], 'rename');
});
