import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conntrackSysctls } from '../../../src/cli/conntrack-settings.js';
import { defaultConfig } from '../../../src/config/types.js';

test('kube-proxy’s conntrack defaults become nf_conntrack_max = max(perCore × cpus, min) and the TCP timeouts', () => {
  assert.deepEqual(conntrackSysctls(defaultConfig().conntrack, 2), [
    ['net.netfilter.nf_conntrack_max', 131072],
    ['net.netfilter.nf_conntrack_tcp_timeout_established', 86400],
    ['net.netfilter.nf_conntrack_tcp_timeout_close_wait', 3600],
  ]);
  assert.equal(conntrackSysctls(defaultConfig().conntrack, 8)[0]![1], 262144);
});

test('zero leaves a conntrack value alone; liberal mode and UDP timeouts are set only when asked', () => {
  const c = { ...defaultConfig().conntrack, maxPerCore: 0, tcpEstablishedTimeoutMs: 0, tcpCloseWaitTimeoutMs: 0 };
  assert.deepEqual(conntrackSysctls(c, 2), []);
  assert.deepEqual(conntrackSysctls({ ...c, tcpBeLiberal: true, udpTimeoutMs: 30_000, udpStreamTimeoutMs: 120_000 }, 2), [
    ['net.netfilter.nf_conntrack_tcp_be_liberal', 1],
    ['net.netfilter.nf_conntrack_udp_timeout', 30],
    ['net.netfilter.nf_conntrack_udp_timeout_stream', 120],
  ]);
});
