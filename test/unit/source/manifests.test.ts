/**
 * The manifests source on a real temporary directory: initial load, file changes delivered as
 * differences, and broken files reported and skipped without tearing anything down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManifestsSource, type ManifestsSourceOptions } from '../../../src/source/manifests.js';
import type { ClusterSource, SourceHandler } from '../../../src/source/types.js';
import { ClusterCache } from '../../../src/sync/cluster-cache.js';
import { systemClock } from '../../../src/util/clock.js';
import { log, setLogSink, type LogSink } from '../../../src/util/log.js';
import { ConfigError } from '../../../src/util/errors.js';
import { RecordingHandler } from '../../support/recording-handler.js';
import { delay, pollUntil } from '../../support/poll-until.js';

const logLines: string[] = [];
let prevSink: LogSink;
before(() => {
  prevSink = setLogSink({ write: (line) => logLines.push(line) });
});
after(() => setLogSink(prevSink));

function svcYaml(name: string, ip: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: demo${extra}
spec:
  clusterIP: ${ip}
  ports:
  - name: http
    port: 80
    targetPort: 8080
`;
}

function sliceYaml(name: string, service: string, ips: string[]): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: demo
  labels:
    kubernetes.io/service-name: ${service}
addressType: IPv4
ports:
- name: http
  port: 8080
endpoints:
${ips.map((ip) => `- addresses: ["${ip}"]\n  conditions: {ready: true}`).join('\n')}
`;
}

interface Harness {
  dir: string;
  source: ClusterSource;
  handler: RecordingHandler;
  /** What a ClusterCache fed by the same source counts as changes, by kind. */
  changes: string[];
  write(name: string, text: string): void;
  remove(name: string): void;
}

async function harness(t: { after(fn: () => unknown): void }, files: Record<string, string>, opts: ManifestsSourceOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-manifests-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const source = createManifestsSource(dir, log, { debounceMs: 20, rescanMs: 200, ...opts });
  const handler = new RecordingHandler();
  const changes: string[] = [];
  const cache = new ClusterCache({ nodeName: 'node-a', clock: systemClock, log, onChange: (kind) => changes.push(kind) });
  const both: SourceHandler = {
    upsert: (e) => { handler.upsert(e); cache.upsert(e); },
    remove: (e) => { handler.remove(e); cache.remove(e); },
    synced: (kind) => { handler.synced(kind); cache.synced(kind); },
  };
  t.after(async () => {
    await source.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await source.start(both);
  return {
    dir, source, handler, changes,
    write: (name, text) => writeFileSync(join(dir, name), text),
    remove: (name) => unlinkSync(join(dir, name)),
  };
}

const warningsAbout = (file: string) => logLines.filter((l) => /^W\d{4} /.test(l) && l.includes(`file="${file}"`));

describe('manifests source', () => {
  test('initial load: multi-document YAML, JSON List and Nodes, then synced for all three kinds', async (t) => {
    const h = await harness(t, {
      'web.yaml': `${svcYaml('web', '10.96.0.10')}---\n${sliceYaml('web-1', 'web', ['10.244.0.11', '10.244.0.12'])}---\n`
        + 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\n',
      'list.json': JSON.stringify({
        apiVersion: 'v1', kind: 'List', items: [
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: '10.96.0.11', ports: [{ port: 5432 }] } },
          { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } },
        ],
      }),
      'svc-list.yml': `apiVersion: v1\nkind: ServiceList\nitems:\n- ${svcYaml('cache', '10.96.0.12').trimEnd().split('\n').join('\n  ')}\n`,
      'README.md': 'not a manifest',
      '.hidden.yaml': svcYaml('hidden', '10.96.0.99'),
    });
    assert.deepEqual(h.handler.keys(), [
      'EndpointSlice/demo/web-1', 'Node//node-a', 'Service/default/db', 'Service/demo/cache', 'Service/demo/web',
    ]);
    const kinds = h.handler.ops('synced').map((c) => c.kind);
    assert.deepEqual(kinds, ['Service', 'EndpointSlice', 'Node']);
    const firstSynced = h.handler.calls.findIndex((c) => c.op === 'synced');
    assert.equal(firstSynced, 5, 'every object is delivered before synced');
    const web = h.handler.get('Service', 'demo', 'web')!;
    assert.equal(web.kind, 'Service');
    assert.equal((web as { spec: { clusterIP: string } }).spec.clusterIP, '10.96.0.10');
  });

  test('Node is synced even when no file holds one', async (t) => {
    const h = await harness(t, { 'web.yaml': svcYaml('web', '10.96.0.10') });
    assert.ok(h.handler.syncedKinds.has('Node'));
    assert.deepEqual(h.handler.keys('Node'), []);
  });

  test('an empty directory syncs with no objects', async (t) => {
    const h = await harness(t, {});
    assert.equal(h.handler.syncedKinds.size, 3);
    assert.equal(h.handler.state.size, 0);
  });

  test('a missing directory is a ConfigError at start', async () => {
    const source = createManifestsSource('/nonexistent/kpx-manifests', log);
    await assert.rejects(source.start(new RecordingHandler()), (err: unknown) => err instanceof ConfigError && /--manifests/.test(err.message));
  });

  test('adding, changing and deleting files: only the differences are changes', async (t) => {
    const h = await harness(t, { 'web.yaml': `${svcYaml('web', '10.96.0.10')}---\n${sliceYaml('web-1', 'web', ['10.244.0.11'])}` });
    const base = h.handler.calls.length;

    h.write('db.yaml', svcYaml('db', '10.96.0.11'));
    await pollUntil(() => h.handler.get('Service', 'demo', 'db') !== undefined);
    assert.deepEqual(h.handler.calls.slice(base).map((c) => `${c.op} ${c.op !== 'synced' ? c.key : ''}`), ['upsert Service/demo/db']);

    // Change the slice, drop nothing else: the file's objects are delivered again, and only the slice is a
    // change (the unchanged Service is dropped by the change tracker, the one place that compares).
    const mark = h.handler.calls.length;
    const changesMark = h.changes.length;
    h.write('web.yaml', `${svcYaml('web', '10.96.0.10')}---\n${sliceYaml('web-1', 'web', ['10.244.0.11', '10.244.0.12'])}`);
    await pollUntil(() => (h.handler.get('EndpointSlice', 'demo', 'web-1') as { endpoints: unknown[] }).endpoints.length === 2);
    await delay(60);
    assert.deepEqual(h.handler.calls.slice(mark).map((c) => `${c.op} ${c.op !== 'synced' ? c.key : ''}`),
      ['upsert Service/demo/web', 'upsert EndpointSlice/demo/web-1']);
    assert.deepEqual(h.changes.slice(changesMark), ['EndpointSlice'], 'the unchanged Service is no change');

    // An object removed from a file is removed.
    const mark2 = h.handler.calls.length;
    const changesMark2 = h.changes.length;
    h.write('web.yaml', svcYaml('web', '10.96.0.10'));
    await pollUntil(() => h.handler.get('EndpointSlice', 'demo', 'web-1') === undefined);
    assert.deepEqual(h.handler.calls.slice(mark2).map((c) => `${c.op} ${c.op !== 'synced' ? c.key : ''}`),
      ['upsert Service/demo/web', 'remove EndpointSlice/demo/web-1']);
    assert.deepEqual(h.changes.slice(changesMark2), ['EndpointSlice']);

    // Deleting a file removes its objects.
    h.remove('db.yaml');
    await pollUntil(() => h.handler.get('Service', 'demo', 'db') === undefined);
    assert.deepEqual(h.handler.keys(), ['Service/demo/web']);
    assert.equal(h.handler.ops('synced').length, 3, 'synced only once per kind');
  });

  test('a broken file is warned about with its name and document, and the other files still apply', async (t) => {
    const mark = logLines.length;
    const h = await harness(t, {
      'good.yaml': svcYaml('good', '10.96.0.10'),
      'bad-yaml.yaml': `${svcYaml('one', '10.96.0.20')}---\nkind: Service\nmetadata: {name: two\n`,
      'no-name.yaml': `${svcYaml('three', '10.96.0.21')}---\napiVersion: v1\nkind: Service\nmetadata:\n  namespace: demo\n`,
      'no-kind.json': JSON.stringify({ apiVersion: 'v1', metadata: { name: 'x' } }),
      'bad.json': '{"kind": "Service",',
    });
    assert.deepEqual(h.handler.keys(), ['Service/demo/good']);
    assert.equal(h.handler.syncedKinds.size, 3);
    const lines = logLines.slice(mark);
    const about = (file: string) => lines.filter((l) => /^W\d{4} /.test(l) && l.includes(`file="${file}"`));
    assert.ok(about('bad-yaml.yaml').some((l) => l.includes('document=1') && l.includes('invalid YAML')), lines.join('\n'));
    assert.ok(about('no-name.yaml').some((l) => l.includes('document=1') && l.includes('without metadata.name')));
    assert.ok(about('no-kind.json').some((l) => l.includes('missing kind')));
    assert.ok(about('bad.json').some((l) => l.includes('invalid JSON')));
    assert.equal(about('good.yaml').length, 0);

    // Fixing a broken file applies it.
    h.write('no-name.yaml', svcYaml('three', '10.96.0.21'));
    await pollUntil(() => h.handler.get('Service', 'demo', 'three') !== undefined);
  });

  test('a file that becomes broken keeps its objects until it is valid again', async (t) => {
    const h = await harness(t, {
      'web.yaml': `${svcYaml('web', '10.96.0.10')}---\n${sliceYaml('web-1', 'web', ['10.244.0.11'])}`,
      'other.yaml': svcYaml('other', '10.96.0.11'),
    });
    const mark = h.handler.calls.length;
    const warnedBefore = warningsAbout('web.yaml').length;

    h.write('web.yaml', `${svcYaml('web', '10.96.0.10')}---\nkind: EndpointSlice\n  metadata: [\n`);
    h.write('other.yaml', svcYaml('other', '10.96.0.12'));
    await pollUntil(() => (h.handler.get('Service', 'demo', 'other') as { spec: { clusterIP: string } }).spec.clusterIP === '10.96.0.12');
    await pollUntil(() => warningsAbout('web.yaml').length > warnedBefore);
    await delay(300); // past a periodic rescan: the broken file is not re-reported or torn down
    assert.equal(h.handler.ops('remove').length, 0, 'nothing removed while the file is broken');
    assert.ok(h.handler.get('EndpointSlice', 'demo', 'web-1'));
    assert.ok(warningsAbout('web.yaml').some((l) => l.includes('keeping its last valid objects') && l.includes('kept=2')));
    assert.equal(warningsAbout('web.yaml').length, warnedBefore + 1, 'reported once, not on every rescan');
    assert.deepEqual(h.handler.calls.slice(mark).map((c) => c.op), ['upsert']);

    // Valid again, now without the slice: the difference is applied.
    h.write('web.yaml', svcYaml('web', '10.96.0.10'));
    await pollUntil(() => h.handler.get('EndpointSlice', 'demo', 'web-1') === undefined);
    assert.deepEqual(h.handler.keys(), ['Service/demo/other', 'Service/demo/web']);
    assert.ok(logLines.some((l) => l.includes('manifest file is valid again') && l.includes('file="web.yaml"')));
  });

  test('Services for another proxy and headless EndpointSlices are ignored', async (t) => {
    const h = await harness(t, {
      'a.yaml': `${svcYaml('mine', '10.96.0.10')}---\n`
        + `${svcYaml('theirs', '10.96.0.11', '\n  labels:\n    service.kubernetes.io/service-proxy-name: other')}---\n`
        + sliceYaml('hl-1', 'hl', ['10.244.0.5']).replace('labels:\n', 'labels:\n    service.kubernetes.io/headless: ""\n'),
      'knative.yaml': 'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: fn\n',
    });
    assert.deepEqual(h.handler.keys(), ['Service/demo/mine']);
  });

  test('the same object in two files: the later file wins, and removing it restores the earlier one', async (t) => {
    const h = await harness(t, {
      '10-base.yaml': svcYaml('web', '10.96.0.10'),
      '20-override.yaml': svcYaml('web', '10.96.0.20'),
    });
    const ip = () => (h.handler.get('Service', 'demo', 'web') as { spec: { clusterIP: string } } | undefined)?.spec.clusterIP;
    assert.equal(ip(), '10.96.0.20');
    assert.ok(logLines.some((l) => l.includes('object defined in two files')));
    h.remove('20-override.yaml');
    await pollUntil(() => ip() === '10.96.0.10');
    assert.equal(h.handler.ops('remove').length, 0);
  });

  test('the periodic rescan picks up changes even when no change event is acted on', async (t) => {
    // A debounce far longer than the test means fs.watch events never lead to a scan here.
    const h = await harness(t, { 'web.yaml': svcYaml('web', '10.96.0.10') }, { debounceMs: 60_000, rescanMs: 50 });
    h.write('db.yaml', svcYaml('db', '10.96.0.11'));
    await pollUntil(() => h.handler.get('Service', 'demo', 'db') !== undefined, { timeoutMs: 3000 });
  });

  test('stop stops watching', async (t) => {
    const h = await harness(t, { 'web.yaml': svcYaml('web', '10.96.0.10') });
    await h.source.stop();
    const n = h.handler.calls.length;
    h.write('db.yaml', svcYaml('db', '10.96.0.11'));
    await delay(300);
    assert.equal(h.handler.calls.length, n);
  });

  test('periodic rescans of an unchanged directory deliver and report nothing new', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kpx-manifests-test-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'a.yaml'), svcYaml('web', '10.96.0.10'));
    writeFileSync(join(dir, 'b.yaml'), svcYaml('web', '10.96.0.20'));
    writeFileSync(join(dir, 'c.yaml'), 'kind: [');
    const source = createManifestsSource(dir, log, { debounceMs: 20, rescanMs: 30 });
    const handler = new RecordingHandler();
    const mark = logLines.length;
    t.after(() => source.stop());
    await source.start(handler);
    const n = handler.calls.length;
    await delay(250);
    assert.equal(handler.calls.length, n);
    const warnings = logLines.slice(mark).filter((l) => /^W\d{4} /.test(l));
    assert.equal(warnings.length, 2, warnings.join('\n')); // one duplicate, one broken file: each said once
  });
  test('a directory that disappears keeps every object, and changes apply once it is back', async (t) => {
    const h = await harness(t, { 'web.yaml': svcYaml('web', '10.96.0.10') }, { rescanMs: 50 });
    rmSync(h.dir, { recursive: true, force: true });
    await pollUntil(() => logLines.some((l) => l.includes('cannot read the manifests directory') && l.includes(h.dir)));
    assert.deepEqual(h.handler.keys(), ['Service/demo/web']);
    assert.equal(h.handler.ops('remove').length, 0);
    mkdirSync(h.dir);
    h.write('db.yaml', svcYaml('db', '10.96.0.11'));
    await pollUntil(() => h.handler.get('Service', 'demo', 'web') === undefined && h.handler.get('Service', 'demo', 'db') !== undefined);
    // The fresh watcher sees edits again without waiting for a rescan.
    h.write('db.yaml', svcYaml('db', '10.96.0.12'));
    await pollUntil(() => (h.handler.get('Service', 'demo', 'db') as { spec: { clusterIP: string } }).spec.clusterIP === '10.96.0.12');
  });
});
