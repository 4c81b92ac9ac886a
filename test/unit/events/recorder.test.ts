import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEventRecorder, type EventBody } from '../../../src/events/recorder.js';
import { log, setLogSink } from '../../../src/util/log.js';
import { FakeClock } from '../../support/fake-clock.js';

function recording() {
  const posted: { ns: string; body: EventBody }[] = [];
  return { posted, sink: { create: async (ns: string, body: EventBody) => { posted.push({ ns, body }); } } };
}

test('an event is logged and posted as an events.k8s.io/v1 Event about the object', async () => {
  const lines: string[] = [];
  const prev = setLogSink({ write: (l) => lines.push(l) });
  try {
    const { posted, sink } = recording();
    const rec = createEventRecorder({ sink, nodeName: 'n1', clock: new FakeClock(1_000_000), log });
    rec.event({ kind: 'Service', namespace: 'ns1', name: 'web' }, 'Warning', 'FailedToStartServiceHealthcheck', 'port 30000 in use');
    await new Promise((r) => setImmediate(r));
    assert.equal(posted.length, 1);
    assert.equal(posted[0].ns, 'ns1');
    assert.equal(posted[0].body.reason, 'FailedToStartServiceHealthcheck');
    assert.deepEqual(posted[0].body.regarding, { apiVersion: 'v1', kind: 'Service', namespace: 'ns1', name: 'web', uid: undefined });
    assert.equal(posted[0].body.reportingInstance, 'kpx.io/kpx-n1');
    // A MicroTime, as the API server parses it (six fractional digits).
    assert.equal(posted[0].body.eventTime, '1970-01-01T00:16:40.000000Z');
    assert.ok(lines.some((l) => /^W\d{4} /.test(l) && l.includes('port 30000 in use')));
  } finally {
    setLogSink(prev);
  }
});

test('the same reason about the same object is posted once per interval, however often it recurs', async () => {
  const prev = setLogSink({ write: () => {} });
  try {
    const { posted, sink } = recording();
    const clock = new FakeClock(0);
    const rec = createEventRecorder({ sink, nodeName: 'n1', clock, log, perKeyIntervalMs: 60_000 });
    for (let i = 0; i < 100; i++) { rec.event({ kind: 'Node', namespace: '', name: 'n1' }, 'Warning', 'SyncFailed', 'x'); clock.advance(100); }
    assert.equal(posted.length, 1);
    clock.advance(60_001 - clock.now());
    rec.event({ kind: 'Node', namespace: '', name: 'n1' }, 'Warning', 'SyncFailed', 'x');
    assert.equal(posted.length, 2);
    assert.equal(posted[1].ns, 'default');
  } finally {
    setLogSink(prev);
  }
});

test('a burst of distinct events is capped by the token bucket and refills over time', () => {
  const prev = setLogSink({ write: () => {} });
  try {
    const { posted, sink } = recording();
    const clock = new FakeClock(0);
    const rec = createEventRecorder({ sink, nodeName: 'n1', clock, log, burst: 5, refillMs: 1000 });
    for (let i = 0; i < 20; i++) rec.event({ kind: 'Service', namespace: 'a', name: `s${i}` }, 'Warning', 'R', 'x');
    assert.equal(posted.length, 5);
    clock.advance(2500);
    for (let i = 20; i < 30; i++) rec.event({ kind: 'Service', namespace: 'a', name: `s${i}` }, 'Warning', 'R', 'x');
    assert.equal(posted.length, 7);
  } finally {
    setLogSink(prev);
  }
});

test('without a sink (manifests source) events are only logged', () => {
  const lines: string[] = [];
  const prev = setLogSink({ write: (l) => lines.push(l) });
  try {
    const rec = createEventRecorder({ sink: null, nodeName: 'n1', clock: new FakeClock(0), log });
    rec.event({ kind: 'Service', namespace: 'a', name: 's' }, 'Normal', 'Synced', 'fine');
    assert.equal(lines.length, 1);
  } finally {
    setLogSink(prev);
  }
});
