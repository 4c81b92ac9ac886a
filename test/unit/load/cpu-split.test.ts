import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, parsePerfScript, split } from '../../../perf/load/cpu-split.js';

// Two samples in the shape `perf script -F comm,pid,tid,ip,sym` prints them (trimmed chains).
const SCRIPT = [
  'MainThread 100/100     ',
  '\tffffffff81a0 _raw_spin_unlock_irqrestore',
  '\tffffffff81a1 tcp_sendmsg',
  '\tffffffff81a2 ksys_write',
  '\tffffffff81a3 do_syscall_64',
  '\tffffffff81a4 entry_SYSCALL_64_after_hwframe',
  '\t7f0000000001 __GI___libc_write',
  '',
  'wrk 200/201     ',
  '\tffffffff81b0 ep_poll',
  '\tffffffff81b1 do_epoll_wait',
  '\tffffffff81b2 do_syscall_64',
  '',
  'Worker Thread 100/102     ',
  '\t55550000 Builtins_LoadIC',
  '\t55550001 [unknown]',
  '',
  'swapper 0/0     ',
  '\tffffffff81c0 pv_native_safe_halt',
  '',
].join('\n');

test('perf script samples are read with their process, thread and call chain, leaf first', () => {
  const samples = parsePerfScript(SCRIPT);
  assert.equal(samples.length, 4);
  assert.deepEqual(samples.map((s) => [s.comm, s.pid, s.tid]), [['MainThread', 100, 100], ['wrk', 200, 201], ['Worker Thread', 100, 102], ['swapper', 0, 0]]);
  assert.equal(samples[0].frames[0], '_raw_spin_unlock_irqrestore');
  assert.equal(samples[0].frames.at(-1), '__GI___libc_write');
});

test('kernel time is put on the system call it was spent in; code outside any call is user time', () => {
  assert.equal(classify(['tcp_v4_rcv', 'ksys_write', 'do_syscall_64']), 'write');
  assert.equal(classify(['tcp_recvmsg', 'ksys_read', 'do_syscall_64']), 'read');
  assert.equal(classify(['tcp_v4_connect', '__x64_sys_connect', 'do_syscall_64']), 'connect');
  assert.equal(classify(['tcp_send_fin', '__x64_sys_shutdown', 'do_syscall_64']), 'close');
  assert.equal(classify(['__sys_accept4', '__x64_sys_accept4', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe']), 'syscall');
  assert.equal(classify(['clear_page', 'asm_exc_page_fault', 'Builtins_FastNewClosure']), 'fault/irq');
  assert.equal(classify(['Builtins_LoadIC', '[unknown]']), 'user');
});

test('the split gives each role its share of all samples, by kind, and the shares add up to one', () => {
  const roles = split(parsePerfScript(SCRIPT), (pid, comm) => (pid === 100 ? 'kpx' : comm === 'swapper' ? 'idle' : comm));
  const kpx = roles.find((r) => r.role === 'kpx')!;
  assert.equal(roles[0].role, 'kpx', 'largest first');
  assert.equal(kpx.total, 0.5);
  assert.equal(kpx.byKind.write, 0.25);
  assert.equal(kpx.byKind.user, 0.25);
  assert.equal(roles.find((r) => r.role === 'wrk')!.byKind.epoll, 0.25);
  assert.equal(roles.reduce((a, r) => a + r.total, 0), 1);
});
