/**
 * cpu-split.ts: where a machine's CPU went during a load run, from `perf script -F pid,tid,comm,ip,sym` of a
 * system-wide `perf record -g`: per role (kpx, the pod servers, the load generator, the rest) and per kind
 * of work (user space, or the system call the kernel time was spent in: write, read, epoll_wait, connect,
 * shutdown/close, other syscalls, page faults and interrupts).
 *
 * The kernel time of a socket write includes the receiver's side of the message (veth delivers it in the
 * sender's softirq) and its wake-up, which is why "write" dominates every role of a request/response load.
 */

export type Kind = 'user' | 'write' | 'read' | 'epoll' | 'connect' | 'close' | 'syscall' | 'fault/irq';
export const KINDS: readonly Kind[] = ['user', 'write', 'read', 'epoll', 'connect', 'close', 'syscall', 'fault/irq'];

export interface Sample {
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  /** Leaf first, as perf prints the chain. */
  readonly frames: readonly string[];
}

/** Parses `perf script -F pid,tid,comm,ip,sym` output: a header line per sample, then one tab-indented frame a line. */
export function parsePerfScript(text: string): Sample[] {
  const out: Sample[] = [];
  let cur: { pid: number; tid: number; comm: string; frames: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('\t')) {
      const sym = line.trim().split(/\s+/).slice(1).join(' ');
      cur?.frames.push(sym);
      continue;
    }
    // "<comm> <pid>/<tid>" where comm may hold spaces.
    const m = /^\s*(.*?)\s+(\d+)\/(\d+)\s*$/.exec(line);
    if (!m) continue;
    cur = { comm: m[1], pid: Number(m[2]), tid: Number(m[3]), frames: [] };
    out.push(cur);
  }
  return out;
}

const KIND_BY_FRAME: readonly (readonly [RegExp, Kind])[] = [
  [/^(ksys_write|do_writev|__x64_sys_sendto|__x64_sys_sendmsg)$/, 'write'],
  [/^(ksys_read|do_readv|__x64_sys_recvfrom|__x64_sys_recvmsg)$/, 'read'],
  [/^(do_epoll_wait|__x64_sys_epoll_wait|__x64_sys_epoll_pwait2?)$/, 'epoll'],
  [/^__x64_sys_connect$/, 'connect'],
  [/^(__x64_sys_shutdown|__x64_sys_close)$/, 'close'],
];

/** classify: what kind of work one sample was doing. */
export function classify(frames: readonly string[]): Kind {
  let syscall = false;
  for (const f of frames) {
    for (const [re, kind] of KIND_BY_FRAME) if (re.test(f)) return kind;
    if (f === 'entry_SYSCALL_64_after_hwframe' || f === 'do_syscall_64') syscall = true;
  }
  if (syscall) return 'syscall';
  if (frames.some((f) => f.startsWith('asm_exc_') || f.startsWith('asm_sysvec_') || f.startsWith('asm_common_interrupt'))) return 'fault/irq';
  return 'user';
}

export interface RoleSplit {
  readonly role: string;
  /** Share of all samples (i.e. of the machine's CPU time while recording), per kind. */
  readonly byKind: Record<Kind, number>;
  readonly total: number;
}

/**
 * split: each sample's role is `roleOf(pid, comm)`; the result gives, per role, the share of every sample
 * taken (idle included), so shares add up to 1 across roles.
 */
export function split(samples: readonly Sample[], roleOf: (pid: number, comm: string) => string): RoleSplit[] {
  const roles = new Map<string, Record<Kind, number>>();
  for (const s of samples) {
    const role = roleOf(s.pid, s.comm);
    let r = roles.get(role);
    if (!r) {
      r = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
      roles.set(role, r);
    }
    r[classify(s.frames)]++;
  }
  const n = samples.length || 1;
  return [...roles.entries()]
    .map(([role, counts]) => {
      const byKind = Object.fromEntries(KINDS.map((k) => [k, counts[k] / n])) as Record<Kind, number>;
      return { role, byKind, total: KINDS.reduce((a, k) => a + byKind[k], 0) };
    })
    .sort((a, b) => b.total - a.total);
}
