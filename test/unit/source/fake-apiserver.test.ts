/**
 * The in-test API server speaks list/watch as kube-apiserver does: checked here with plain HTTP, so
 * the kube source tests and the chaos suite can trust what it sends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { FakeApiServer, type JsonObject } from '../../support/fake-apiserver.js';
import { compileLabelSelector } from '../../support/label-selector.js';
import { pollUntil } from '../../support/poll-until.js';

async function getJson(url: string): Promise<{ status: number; body: JsonObject }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() as JsonObject };
}

/** openWatch reads a watch stream event by event (node:http, so the chunks are seen as they arrive). */
function openWatch(url: string): Promise<{ status: number; events: JsonObject[]; ended: () => boolean; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const events: JsonObject[] = [];
      let buf = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => { ended = true; });
      res.on('close', () => { ended = true; });
      res.on('error', () => { ended = true; });
      resolve({ status: res.statusCode ?? 0, events, ended: () => ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

const svc = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { clusterIP: '10.96.0.1' } });

describe('fake API server', () => {
  test('lists with resourceVersion, label and field selectors, and no kind on items', async (t) => {
    const fake = await FakeApiServer.start();
    t.after(() => fake.close());
    fake.upsert('Service', svc('a'));
    fake.upsert('Service', svc('b', { 'service.kubernetes.io/service-proxy-name': 'x' }));
    fake.upsert('Node', { metadata: { name: 'n1' } });
    fake.upsert('Node', { metadata: { name: 'n2' } });

    const all = await getJson(`${fake.url}/api/v1/services`);
    assert.equal(all.status, 200);
    assert.equal(all.body.kind, 'ServiceList');
    assert.equal(all.body.metadata.resourceVersion, fake.resourceVersion);
    assert.deepEqual(all.body.items.map((o: JsonObject) => o.metadata.name), ['a', 'b']);
    assert.equal(all.body.items[0].kind, undefined);

    const sel = encodeURIComponent('!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless');
    const filtered = await getJson(`${fake.url}/api/v1/services?labelSelector=${sel}`);
    assert.deepEqual(filtered.body.items.map((o: JsonObject) => o.metadata.name), ['a']);

    const node = await getJson(`${fake.url}/api/v1/nodes?fieldSelector=metadata.name%3Dn2`);
    assert.deepEqual(node.body.items.map((o: JsonObject) => o.metadata.name), ['n2']);
    assert.equal((await getJson(`${fake.url}/api/v1/nodes?fieldSelector=spec.foo%3Dx`)).status, 400);
    assert.equal((await getJson(`${fake.url}/api/v1/namespaces/default/services/a`)).body.metadata.name, 'a');
    assert.equal((await getJson(`${fake.url}/api/v1/pods`)).status, 404);
    assert.equal((await getJson(`${fake.url}/apis/discovery.k8s.io/v1/namespaces/other/endpointslices`)).body.items.length, 0);
  });

  test('watch streams ADDED/MODIFIED/DELETED, selector transitions and bookmarks', async (t) => {
    const fake = await FakeApiServer.start({ bookmarkIntervalMs: 50 });
    t.after(() => fake.close());
    fake.upsert('Service', svc('a'));
    const sel = encodeURIComponent('!service.kubernetes.io/service-proxy-name');
    const w = await openWatch(`${fake.url}/api/v1/services?watch=true&labelSelector=${sel}&allowWatchBookmarks=true`);
    t.after(() => w.close());
    assert.equal(w.status, 200);
    await pollUntil(() => w.events.length >= 1);
    assert.equal(w.events[0].type, 'ADDED'); // no resourceVersion: the current state first

    fake.upsert('Service', svc('a', { x: 'y' }));
    fake.upsert('Service', svc('a', { 'service.kubernetes.io/service-proxy-name': 'other' })); // leaves the selection
    fake.upsert('Service', svc('a')); // comes back
    fake.remove('Service', 'default', 'a');
    await pollUntil(() => w.events.filter((e) => e.type !== 'BOOKMARK').length >= 5);
    assert.deepEqual(w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED']);
    await pollUntil(() => w.events.some((e) => e.type === 'BOOKMARK'));
    const bm = w.events.find((e) => e.type === 'BOOKMARK')!;
    assert.equal(bm.object.kind, 'Service');
    assert.ok(Number(bm.object.metadata.resourceVersion) > 0);
  });

  test('a watch from a resourceVersion replays what happened since, or is refused with 410 once compacted', async (t) => {
    const fake = await FakeApiServer.start();
    t.after(() => fake.close());
    fake.upsert('Service', svc('a'));
    const rv = fake.resourceVersion;
    fake.upsert('Service', svc('b'));
    fake.remove('Service', 'default', 'a');

    const replay = await openWatch(`${fake.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
    t.after(() => replay.close());
    await pollUntil(() => replay.events.length >= 2);
    assert.deepEqual(replay.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED b', 'DELETED a']);

    fake.compact();
    await pollUntil(() => replay.ended());
    assert.equal(replay.events.at(-1)!.type, 'ERROR', 'open watches are told they expired');
    assert.equal(replay.events.at(-1)!.object.code, 410);

    const gone = await openWatch(`${fake.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
    await pollUntil(() => gone.ended());
    assert.equal(gone.events[0].type, 'ERROR');
    assert.equal(gone.events[0].object.code, 410);

    const fakeStatus = await FakeApiServer.start({ goneAs: 'status' });
    t.after(() => fakeStatus.close());
    fakeStatus.upsert('Service', svc('a'));
    fakeStatus.compact();
    assert.equal((await getJson(`${fakeStatus.url}/api/v1/services?watch=true&resourceVersion=1`)).status, 410);
  });

  test('faults: failWith answers errors for a while, dropWatches ends streams, stop/restart keep the port and objects', async (t) => {
    const fake = await FakeApiServer.start();
    t.after(() => fake.close());
    fake.upsert('Service', svc('a'));
    const w = await openWatch(`${fake.url}/api/v1/services?watch=true`);
    await pollUntil(() => fake.openWatches('Service') === 1);
    assert.equal(fake.dropWatches(), 1);
    await pollUntil(() => w.ended());

    fake.failWith(503, 200);
    const failed = await getJson(`${fake.url}/api/v1/services`);
    assert.equal(failed.status, 503);
    assert.equal(failed.body.kind, 'Status');
    await pollUntil(async () => (await getJson(`${fake.url}/api/v1/services`)).status === 200);

    const port = fake.port;
    await fake.stop();
    await assert.rejects(fetch(`${fake.url}/api/v1/services`));
    fake.upsert('Service', svc('b')); // changes while down are kept, like etcd's
    await fake.restart();
    assert.equal(fake.port, port);
    const after = await getJson(`${fake.url}/api/v1/services`);
    assert.deepEqual(after.body.items.map((o: JsonObject) => o.metadata.name), ['a', 'b']);
    assert.match(fake.kubeconfigFile(), /kubeconfig$/);
  });

  test('label selectors: the forms the API server accepts', () => {
    const obj = { metadata: { labels: { app: 'web', tier: 'front', empty: '' } } };
    const m = (s: string) => compileLabelSelector(s)(obj);
    assert.equal(m(''), true);
    assert.equal(m('app'), true);
    assert.equal(m('!app'), false);
    assert.equal(m('!missing'), true);
    assert.equal(m('app=web'), true);
    assert.equal(m('app==web'), true);
    assert.equal(m('app!=web'), false);
    assert.equal(m('missing!=x'), true);
    assert.equal(m('app in (db, web)'), true);
    assert.equal(m('app notin (db,web)'), false);
    assert.equal(m('app=web,tier=back'), false);
    assert.equal(m('empty'), true);
    assert.throws(() => compileLabelSelector('app=(x'));
  });
});
