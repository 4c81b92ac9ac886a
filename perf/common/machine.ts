/**
 * machine.ts: a description of the machine a benchmark ran on, stored beside its figures, because
 * every figure here depends on it (2 shared vCPUs behave nothing like a 32-core node).
 */
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { exec } from '../../src/net/exec.js';

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly freeMemoryBytes: number;
  readonly kernel: string;
  readonly iptables: string;
  readonly node: string;
  /** 1-minute load average when the run started: other work on a shared machine skews every figure. */
  readonly loadAverage1m: number;
}

export async function describeMachine(): Promise<MachineInfo> {
  // `iptables --version` only prints; it reads no netfilter state, so running it outside a namespace is harmless.
  const ipt = await exec('iptables', ['--version'], { okCodes: [0, 1, 2], timeoutMs: 10_000 }).then((r) => r.stdout.trim(), () => 'unknown');
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    kernel: release(),
    iptables: ipt,
    node: process.version,
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.nproc} vCPU (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, kernel ${m.kernel}, ${m.iptables}, Node ${m.node}, load ${m.loadAverage1m}`;
}
