import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TAINT_TO_BE_DELETED } from '../../../src/model/api.js';
import { ProxyHealth } from '../../../src/server/proxy-health.js';
import { FakeClock } from '../../support/fake-clock.js';
import { nodeEvents } from './helpers.js';

const TIMEOUT = 60_000; // 2 x the default 30s sync period

test('a proxy that has not synced yet is healthy, even with changes queued', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  assert.equal(h.status().healthy, true);
  h.queuedUpdate('IPv4');
  clock.advance(10 * TIMEOUT);
  assert.equal(h.isHealthy(), true);
});

test('a synced proxy stays healthy however long nothing changes', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  h.updated('IPv4');
  const syncedAt = clock.now();
  clock.advance(10 * TIMEOUT);
  const st = h.status();
  assert.equal(st.healthy, true);
  assert.equal(st.lastUpdated.getTime(), syncedAt);
  assert.equal(st.currentTime.getTime(), clock.now());
});

test('a queued change that waited the health timeout makes the proxy unhealthy until a sync', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  h.updated('IPv4');
  const syncedAt = clock.now();
  clock.advance(1_000);
  h.queuedUpdate('IPv4');
  clock.advance(TIMEOUT - 1);
  assert.equal(h.isHealthy(), true, 'just before the timeout');
  clock.advance(1);
  const st = h.status();
  assert.equal(st.healthy, false, 'at the timeout');
  assert.equal(st.lastUpdated.getTime(), syncedAt);
  h.updated('IPv4');
  assert.equal(h.isHealthy(), true);
});

test('only the oldest queued change counts: later ones do not reset the wait', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  h.updated('IPv4');
  h.queuedUpdate('IPv4');
  clock.advance(TIMEOUT / 2);
  h.queuedUpdate('IPv4');
  clock.advance(TIMEOUT / 2);
  assert.equal(h.isHealthy(), false);
});

test('each IP family is judged on its own: one late family makes the proxy unhealthy', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  h.updated('IPv4');
  h.updated('IPv6');
  h.queuedUpdate('IPv6');
  clock.advance(TIMEOUT / 2);
  h.updated('IPv4');
  const v4SyncedAt = clock.now();
  clock.advance(TIMEOUT / 2);
  const st = h.status();
  assert.equal(st.healthy, false);
  assert.ok(st.lastUpdated.getTime() < v4SyncedAt, 'reports the late family\'s last sync');
  h.updated('IPv6');
  assert.equal(h.isHealthy(), true);
});

test('node eligibility is true until a Node says it is being deleted or tainted for deletion', () => {
  const clock = new FakeClock();
  const h = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  const deliver = nodeEvents(h, clock);
  assert.equal(h.status().nodeEligible, true);
  deliver({ metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } });
  assert.equal(h.status().nodeEligible, false);
  deliver({ metadata: {}, spec: { taints: [{ key: 'other' }] } });
  assert.equal(h.status().nodeEligible, true);
  deliver({ spec: { taints: [{ key: TAINT_TO_BE_DELETED }] } });
  assert.equal(h.status().nodeEligible, false);
  assert.equal(h.isHealthy(), true, 'the node does not affect the proxy\'s own health');
  h.setNodeEligible(true);
  assert.equal(h.status().nodeEligible, true);
  deliver({ spec: { taints: [{ key: TAINT_TO_BE_DELETED }] } });
  deliver({});
  assert.equal(h.status().nodeEligible, true, 'a Node with neither deletion nor taint is eligible');
});
