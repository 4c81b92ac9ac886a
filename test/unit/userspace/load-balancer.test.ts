import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILURE_PENALTY_MS, LoadBalancer } from '../../../modes/userspace/load-balancer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { endpoint } from './fixtures.js';

const A = endpoint('10.0.0.1', 80);
const B = endpoint('10.0.0.2', 80);
const C = endpoint('10.0.0.3', 80);

test('round robin hands out every endpoint in turn', () => {
  const lb = new LoadBalancer();
  lb.update('svc', [A, B, C], 0);
  const got = Array.from({ length: 6 }, () => lb.nextEndpoint('svc', '1.1.1.1', false)?.key);
  assert.deepEqual(got, [A.key, B.key, C.key, A.key, B.key, C.key]);
});

test('a balancer without endpoints (or unknown) gives nothing', () => {
  const lb = new LoadBalancer();
  lb.update('svc', [], 0);
  assert.equal(lb.nextEndpoint('svc', '1.1.1.1', false), undefined);
  assert.equal(lb.nextEndpoint('nope', '1.1.1.1', false), undefined);
});

test('ClientIP affinity holds a client on one endpoint while it keeps coming back within the timeout', () => {
  const clock = new FakeClock();
  const lb = new LoadBalancer({ clock });
  lb.update('svc', [A, B, C], 10);
  const first = lb.nextEndpoint('svc', '1.1.1.1', false)!;
  for (let i = 0; i < 5; i++) {
    clock.advance(9_000); // each use refreshes the entry, so the client stays longer than one timeout in total
    assert.equal(lb.nextEndpoint('svc', '1.1.1.1', false)?.key, first.key);
  }
  // Another client is rotated independently.
  assert.notEqual(lb.nextEndpoint('svc', '2.2.2.2', false)?.key, first.key);
});

test('ClientIP affinity expires after the timeout without use', () => {
  const clock = new FakeClock();
  const lb = new LoadBalancer({ clock });
  lb.update('svc', [A, B], 10);
  const first = lb.nextEndpoint('svc', '1.1.1.1', false)!;
  clock.advance(10_000);
  const after = lb.nextEndpoint('svc', '1.1.1.1', false)!;
  assert.notEqual(after.key, first.key, 'the expired client is rotated to the next endpoint');
  assert.equal(lb.nextEndpoint('svc', '1.1.1.1', false)?.key, after.key, 'and sticks there');
});

test('resetting affinity after a failed dial moves the client off the failed endpoint', () => {
  const lb = new LoadBalancer({ clock: new FakeClock() });
  lb.update('svc', [A, B], 10800);
  const first = lb.nextEndpoint('svc', '1.1.1.1', false)!;
  // Rotation would hand out `first` again next for another pair of calls; reset must avoid it.
  lb.nextEndpoint('svc', '9.9.9.9', false);
  const moved = lb.nextEndpoint('svc', '1.1.1.1', true)!;
  assert.notEqual(moved.key, first.key);
  assert.equal(lb.nextEndpoint('svc', '1.1.1.1', false)?.key, moved.key);
});

test('an endpoint update keeps affinity to endpoints that remain and drops it for removed ones', () => {
  const lb = new LoadBalancer({ clock: new FakeClock() });
  lb.update('svc', [A, B], 10800);
  const c1 = lb.nextEndpoint('svc', '1.1.1.1', false)!; // A
  const c2 = lb.nextEndpoint('svc', '2.2.2.2', false)!; // B
  assert.deepEqual([c1.key, c2.key], [A.key, B.key]);
  lb.update('svc', [A, C], 10800);
  assert.equal(lb.nextEndpoint('svc', '1.1.1.1', false)?.key, A.key);
  assert.notEqual(lb.nextEndpoint('svc', '2.2.2.2', false)?.key, B.key);
});

test('turning affinity off forgets every client', () => {
  const lb = new LoadBalancer({ clock: new FakeClock() });
  lb.update('svc', [A, B], 10800);
  lb.nextEndpoint('svc', '1.1.1.1', false);
  lb.update('svc', [A, B], 0);
  const got = [lb.nextEndpoint('svc', '1.1.1.1', false)?.key, lb.nextEndpoint('svc', '1.1.1.1', false)?.key];
  assert.notEqual(got[0], got[1]);
});

test('balancers are independent per id and removable', () => {
  const lb = new LoadBalancer();
  lb.update('a', [A], 0);
  lb.update('b', [B], 0);
  assert.equal(lb.nextEndpoint('a', 'x', false)?.key, A.key);
  assert.equal(lb.nextEndpoint('b', 'x', false)?.key, B.key);
  lb.remove('a');
  assert.equal(lb.has('a'), false);
  assert.equal(lb.endpointCount('b'), 1);
});

test('a failed endpoint is kept out of rotation for the penalty, then tried again', () => {
  const clock = new FakeClock();
  const lb = new LoadBalancer({ clock });
  lb.update('svc', [A, B, C], 0);
  lb.failed('svc', A.key);
  const during = Array.from({ length: 6 }, () => lb.nextEndpoint('svc', 'x', false)?.key);
  assert.ok(!during.includes(A.key), `A skipped: ${during}`);
  assert.deepEqual(new Set(during), new Set([B.key, C.key]));
  clock.advance(FAILURE_PENALTY_MS);
  const after = Array.from({ length: 3 }, () => lb.nextEndpoint('svc', 'x', false)?.key);
  assert.ok(after.includes(A.key), `A is back: ${after}`);
});

test('when every endpoint is penalised, one is still handed out (something must be tried)', () => {
  const lb = new LoadBalancer({ clock: new FakeClock() });
  lb.update('svc', [A, B], 0);
  lb.failed('svc', A.key);
  lb.failed('svc', B.key);
  assert.ok(lb.nextEndpoint('svc', 'x', false));
});

