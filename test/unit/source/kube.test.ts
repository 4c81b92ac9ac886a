/**
 * The kube source over real HTTP against the in-test API server (test/support/fake-apiserver.ts):
 * client-node informers list and watch it exactly as they would a cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKubeSource } from '../../../src/source/kube.js';
import type { ClusterSource } from '../../../src/source/types.js';
import { log, setLogSink, type LogSink } from '../../../src/util/log.js';
import { ConfigError } from '../../../src/util/errors.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import { clusterIPService, endpointSliceFor, node } from '../../support/api-objects.js';
import { FakeApiServer, type FakeApiServerOptions, type JsonObject } from '../../support/fake-apiserver.js';
import { RecordingHandler } from '../../support/recording-handler.js';
import { delay, pollUntil } from '../../support/poll-until.js';

const NODE = 'node-a';
const logLines: string[] = [];
let prevSink: LogSink;

before(() => {
  prevSink = setLogSink({ write: (line) => logLines.push(line) });
});
after(() => {
  setLogSink(prevSink);
});

/** A ClusterIP service as a user writes it; the fake API server fills in the rest. */
function service(name: string, clusterIP: string, opts: { labels?: Record<string, string> } = {}): ApiService {
  return clusterIPService(name, clusterIP, opts);
}

/** A slice of ready endpoints on this node. */
function slice(name: string, service: string, ips: string[], labels: Record<string, string> = {}): ApiEndpointSlice {
  return endpointSliceFor(service, name, ips.map((ip) => ({ ip, node: NODE })), { labels });
}

interface Harness {
  fake: FakeApiServer;
  source: ClusterSource;
  handler: RecordingHandler;
  close(): Promise<void>;
}

async function harness(seed: (fake: FakeApiServer) => void = () => {}, opts: FakeApiServerOptions = {}): Promise<Harness> {
  const fake = await FakeApiServer.start({ bookmarkIntervalMs: 200, ...opts });
  seed(fake);
  const source = createKubeSource({
    kubeconfig: fake.kubeconfigFile(), master: '', nodeName: NODE, log, backoff: { initialMs: 20, maxMs: 200 },
  });
  const handler = new RecordingHandler();
  return {
    fake, source, handler,
    async close() {
      await source.stop();
      await fake.close();
    },
  };
}

async function startAndSync(h: Harness): Promise<void> {
  await h.source.start(h.handler);
  await pollUntil(() => h.handler.syncedKinds.size === 3, { message: () => `synced: ${[...h.handler.syncedKinds]}` });
  await pollUntil(() => h.fake.openWatches() === 3, { message: 'three watches open' });
}

function seedBasic(fake: FakeApiServer): void {
  fake.upsert('Service', service('web', '10.96.0.10'));
  fake.upsert('Service', service('db', '10.96.0.11'));
  fake.upsert('EndpointSlice', slice('web-abc', 'web', ['10.244.0.11', '10.244.0.12']));
  fake.upsert('EndpointSlice', slice('db-abc', 'db', ['10.244.0.21']));
  fake.upsert('Node', node(NODE));
}

describe('kube source', () => {
  test('initial sync delivers every object and then synced for each kind, filtered as kube-proxy does', async (t) => {
    const h = await harness((fake) => {
      seedBasic(fake);
      fake.upsert('Service', service('other-proxy', '10.96.0.50', { labels: { 'service.kubernetes.io/service-proxy-name': 'x' } }));
      fake.upsert('EndpointSlice', slice('headless-abc', 'headless', ['10.244.0.99'], { 'service.kubernetes.io/headless': '' }));
      fake.upsert('Node', node('node-b'));
    });
    t.after(() => h.close());
    await startAndSync(h);

    assert.deepEqual(h.handler.keys(), [
      'EndpointSlice/default/db-abc', 'EndpointSlice/default/web-abc', 'Node//node-a', 'Service/default/db', 'Service/default/web',
    ]);
    for (const kind of ['Service', 'EndpointSlice', 'Node'] as const) {
      const syncedAt = h.handler.calls.findIndex((c) => c.op === 'synced' && c.kind === kind);
      const lastUpsert = h.handler.calls.findLastIndex((c) => c.op === 'upsert' && c.kind === kind);
      assert.ok(syncedAt > lastUpsert, `${kind}: synced (${syncedAt}) after its objects (${lastUpsert})`);
      assert.equal(h.handler.ops('synced', kind).length, 1, `${kind} synced once`);
    }
    // Objects are plain API JSON: timestamps stay strings, kind/apiVersion are filled in on list items.
    const web = h.handler.get('Service', 'default', 'web') as JsonObject;
    assert.equal(typeof web.metadata.creationTimestamp, 'string');
    assert.equal(web.kind, 'Service');
    assert.equal(web.apiVersion, 'v1');
    assert.equal((h.handler.get('EndpointSlice', 'default', 'web-abc') as JsonObject).apiVersion, 'discovery.k8s.io/v1');
    assert.deepEqual(JSON.parse(JSON.stringify(web)), web);
    // The selectors kube-proxy uses reached the server.
    const svcList = h.fake.requests.find((r) => r.kind === 'Service' && !r.watch)!;
    assert.equal(svcList.query.labelSelector, '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless');
    const nodeWatch = h.fake.requests.find((r) => r.kind === 'Node' && r.watch)!;
    assert.equal(nodeWatch.query.fieldSelector, 'metadata.name=node-a');
    assert.equal(nodeWatch.query.allowWatchBookmarks, 'true');
  });

  test('objects arrive exactly as the API server sent them, fields client-node does not model included', async (t) => {
    const h = await harness((fake) => {
      fake.upsert('Service', { ...service('web', '10.96.0.10'), status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipMode: 'Proxy', futureField: 7 }] } } });
    });
    t.after(() => h.close());
    await startAndSync(h);
    const listed = h.handler.get('Service', 'default', 'web') as JsonObject;
    assert.deepEqual(listed.status.loadBalancer.ingress, [{ ip: '1.2.3.4', ipMode: 'Proxy', futureField: 7 }]);
    assert.equal(listed.metadata.creationTimestamp, h.fake.get('Service', 'default', 'web')!.metadata.creationTimestamp);
    h.fake.upsert('Service', { ...service('web', '10.96.0.10'), spec: { ...service('web', '10.96.0.10').spec, newSpecField: 'x' } });
    await pollUntil(() => (h.handler.get('Service', 'default', 'web') as JsonObject).spec.newSpecField === 'x');
  });

  test('Node is synced even when this node has no Node object', async (t) => {
    const h = await harness((fake) => fake.upsert('Node', node('someone-else')));
    t.after(() => h.close());
    await startAndSync(h);
    assert.deepEqual(h.handler.keys('Node'), []);
  });

  test('synced is not reported while the lists fail, and is once they succeed', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    h.fake.failWith(500, 1500);
    await h.source.start(h.handler); // resolves although every list failed
    assert.equal(h.handler.calls.length, 0);
    await pollUntil(() => h.fake.requests.filter((r) => r.status === 500).length >= 6); // retried
    assert.equal(h.handler.syncedKinds.size, 0, 'nothing synced during the failure');
    await pollUntil(() => h.handler.syncedKinds.size === 3);
    assert.equal(h.handler.state.size, 5);
    assert.ok(logLines.some((l) => /^W\d{4} /.test(l) && l.includes('list/watch failed') && l.includes('status=500')));
  });

  test('start resolves while the API server is unreachable, and syncs once it is up', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    await h.fake.stop();
    await h.source.start(h.handler);
    await delay(100);
    assert.equal(h.handler.calls.length, 0);
    await h.fake.restart();
    await pollUntil(() => h.handler.syncedKinds.size === 3);
    assert.equal(h.handler.state.size, 5);
  });

  test('updates and deletes are delivered; an object leaving the label selection is removed', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    await startAndSync(h);

    h.fake.upsert('EndpointSlice', slice('web-abc', 'web', ['10.244.0.11']));
    await pollUntil(() => ((h.handler.get('EndpointSlice', 'default', 'web-abc') as JsonObject).endpoints.length === 1));

    h.fake.upsert('Service', service('new', '10.96.0.12'));
    await pollUntil(() => h.handler.get('Service', 'default', 'new') !== undefined);

    h.fake.remove('Service', 'default', 'db');
    await pollUntil(() => h.handler.get('Service', 'default', 'db') === undefined);
    const removed = h.handler.ops('remove', 'Service');
    assert.equal(removed.length, 1);
    assert.equal(removed[0].op === 'remove' && removed[0].key, 'Service/default/db');

    h.fake.upsert('Service', service('web', '10.96.0.10', { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }));
    await pollUntil(() => h.handler.get('Service', 'default', 'web') === undefined);

    h.fake.upsert('Node', { ...node(NODE), spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] } });
    await pollUntil(() => ((h.handler.get('Node', '', NODE) as JsonObject).spec?.taints?.length === 1));
    h.fake.upsert('Node', { ...node('node-b'), spec: { podCIDR: '10.244.1.0/24' } });
    await delay(50);
    assert.equal(h.handler.get('Node', '', 'node-b'), undefined, 'other nodes are not watched');
  });

  for (const goneAs of ['event', 'status'] as const) {
    test(`after 410 Gone (${goneAs}) it relists and reports objects that vanished meanwhile as deleted`, async (t) => {
      const h = await harness(seedBasic, { goneAs });
      t.after(() => h.close());
      await startAndSync(h);
      const listsBefore = h.fake.requests.filter((r) => !r.watch).length;

      await h.fake.stop();
      h.fake.remove('Service', 'default', 'db');
      h.fake.remove('EndpointSlice', 'default', 'db-abc');
      h.fake.upsert('Service', service('added', '10.96.0.20'));
      h.fake.upsert('EndpointSlice', slice('web-abc', 'web', ['10.244.0.13']));
      h.fake.compact({ expireWatches: false });
      await h.fake.restart();

      await pollUntil(() => h.handler.get('Service', 'default', 'db') === undefined
        && h.handler.get('EndpointSlice', 'default', 'db-abc') === undefined
        && h.handler.get('Service', 'default', 'added') !== undefined, { message: () => h.handler.keys().join(' ') });
      assert.deepEqual((h.handler.get('EndpointSlice', 'default', 'web-abc') as JsonObject).endpoints.map((e: JsonObject) => e.addresses[0]), ['10.244.0.13']);
      assert.ok(h.fake.requests.filter((r) => !r.watch).length > listsBefore, 'relisted');
      assert.ok(h.fake.requests.some((r) => r.watch && r.status === 410), 'watch was refused');
      // Only the vanished objects were removed: nothing else was forgotten.
      assert.deepEqual(h.handler.ops('remove').map((c) => c.op !== 'synced' && c.key).sort(), ['EndpointSlice/default/db-abc', 'Service/default/db']);
      assert.equal(h.handler.ops('synced').length, 3, 'synced is reported once per kind, not again after a relist');
      await pollUntil(() => h.fake.openWatches() === 3);
    });
  }

  test('a compaction seen by open watches triggers a relist without losing anything', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    await startAndSync(h);
    const lists = () => h.fake.requests.filter((r) => !r.watch).length;
    const before = lists();
    h.fake.compact();
    await pollUntil(() => lists() >= before + 3 && h.fake.openWatches() === 3);
    h.fake.upsert('Service', service('after', '10.96.0.30'));
    await pollUntil(() => h.handler.get('Service', 'default', 'after') !== undefined);
    assert.equal(h.handler.ops('remove').length, 0);
    assert.equal(h.handler.state.size, 6);
  });

  for (const abrupt of [false, true]) {
    test(`reconnects after ${abrupt ? 'an abruptly dropped' : 'a closed'} watch with no state lost`, async (t) => {
      const h = await harness(seedBasic);
      t.after(() => h.close());
      await startAndSync(h);
      const watchesBefore = h.fake.requests.filter((r) => r.watch).length;

      assert.equal(h.fake.dropWatches({ abrupt }), 3);
      h.fake.upsert('Service', service('during', '10.96.0.40'));
      h.fake.remove('EndpointSlice', 'default', 'db-abc');

      await pollUntil(() => h.handler.get('Service', 'default', 'during') !== undefined
        && h.handler.get('EndpointSlice', 'default', 'db-abc') === undefined);
      await pollUntil(() => h.fake.openWatches() === 3);
      assert.ok(h.fake.requests.filter((r) => r.watch).length > watchesBefore, 're-watched');
      assert.deepEqual(h.handler.ops('remove').map((c) => c.op !== 'synced' && c.key), ['EndpointSlice/default/db-abc']);
      assert.equal(h.handler.state.size, 5);

      h.fake.upsert('Service', service('later', '10.96.0.41'));
      await pollUntil(() => h.handler.get('Service', 'default', 'later') !== undefined);
    });
  }

  test('a restarted API server: known objects are kept during the outage and changes made meanwhile arrive', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    await startAndSync(h);

    await h.fake.stop();
    await delay(300); // several failed retries
    assert.equal(h.handler.ops('remove').length, 0, 'nothing is forgotten because the API went away');
    assert.equal(h.handler.state.size, 5);
    h.fake.upsert('Service', service('meanwhile', '10.96.0.60'));
    h.fake.remove('Service', 'default', 'db');
    await h.fake.restart();

    await pollUntil(() => h.handler.get('Service', 'default', 'meanwhile') !== undefined
      && h.handler.get('Service', 'default', 'db') === undefined);
    await pollUntil(() => h.fake.openWatches() === 3);
    assert.deepEqual(h.handler.ops('remove').map((c) => c.op !== 'synced' && c.key), ['Service/default/db']);
    assert.ok(logLines.some((l) => l.includes('list/watch failed')), 'the outage was logged');
  });

  test('500s for a while: known objects are kept, and it recovers and catches up', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.close());
    await startAndSync(h);

    h.fake.failWith(500, 1500);
    h.fake.upsert('EndpointSlice', slice('web-abc', 'web', ['10.244.0.11', '10.244.0.12', '10.244.0.14']));
    await pollUntil(() => h.fake.requests.filter((r) => r.status === 500).length >= 3); // they met the failure
    assert.equal(h.handler.ops('remove').length, 0);
    assert.equal((h.handler.get('EndpointSlice', 'default', 'web-abc') as JsonObject).endpoints.length, 2);

    await pollUntil(() => (h.handler.get('EndpointSlice', 'default', 'web-abc') as JsonObject).endpoints.length === 3);
    await pollUntil(() => h.fake.openWatches() === 3);
    assert.equal(h.handler.ops('remove').length, 0);
  });

  test('a list the API server never answers is abandoned after listTimeoutMs and retried', async (t) => {
    const fake = await FakeApiServer.start();
    t.after(() => fake.close());
    seedBasic(fake);
    fake.hang(1000);
    const source = createKubeSource({
      kubeconfig: fake.kubeconfigFile(), master: '', nodeName: NODE, log, backoff: { initialMs: 20, maxMs: 200 }, listTimeoutMs: 200,
    });
    t.after(() => source.stop());
    const handler = new RecordingHandler();
    await source.start(handler);
    await pollUntil(() => handler.syncedKinds.size === 3);
    assert.equal(handler.state.size, 5);
    assert.ok(fake.requests.filter((r) => r.status === 0 && !r.watch).length >= 3, 'the first lists hung');
  });

  test('stop ends every watch and delivers nothing more', async (t) => {
    const h = await harness(seedBasic);
    t.after(() => h.fake.close());
    await startAndSync(h);
    await h.source.stop();
    await pollUntil(() => h.fake.openWatches() === 0);
    const n = h.handler.calls.length;
    h.fake.upsert('Service', service('late', '10.96.0.70'));
    await delay(100);
    assert.equal(h.handler.calls.length, n);
    assert.equal(h.fake.openWatches(), 0);
  });

  test('a bad kubeconfig or --master is a one-line ConfigError', () => {
    assert.throws(() => createKubeSource({ kubeconfig: '/nonexistent/kubeconfig', master: '', nodeName: NODE, log }),
      (err: unknown) => err instanceof ConfigError && /--kubeconfig \/nonexistent\/kubeconfig/.test(err.message));
    assert.throws(() => createKubeSource({ kubeconfig: '', master: 'not a url', nodeName: NODE, log }),
      (err: unknown) => err instanceof ConfigError && /--master/.test(err.message));
  });

  test('--master alone reaches a plain-http API server', async (t) => {
    const fake = await FakeApiServer.start();
    t.after(() => fake.close());
    seedBasic(fake);
    const source = createKubeSource({ kubeconfig: '', master: fake.url, nodeName: NODE, log, backoff: { initialMs: 20, maxMs: 200 } });
    t.after(() => source.stop());
    const handler = new RecordingHandler();
    await source.start(handler);
    await pollUntil(() => handler.syncedKinds.size === 3);
    assert.equal(handler.state.size, 5);
  });
});
