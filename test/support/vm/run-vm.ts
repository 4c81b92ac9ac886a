/**
 * run-vm.ts: runs a shell script inside a throwaway QEMU VM with Debian's kernel, where IPVS exists (the
 * machines' own kernel has none). The repository is shared read-write over 9p at /host, so the script runs the
 * project's own code (Node 24, node_modules) against a real IPVS. QEMU exits 0 whatever the script did, so
 * the result is the "@@ EXIT=N" line init prints. Under TCG (KVM here is PVM and hangs stock kernels).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from '../../../src/net/exec.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../..');
export const VM_CACHE = join(REPO, '.cache/vm');

export interface VmResult {
  /** The script's exit status, or null when the VM never reported one (boot failure, timeout). */
  readonly exitCode: number | null;
  /** The serial console, CRs removed. */
  readonly output: string;
  readonly wallMs: number;
}

let built: Promise<{ kernel: string; initrd: string }> | undefined;

/** Builds (or reuses) the kernel and initramfs; apt-installs qemu and the guest tools when missing. */
export function ensureVmImage(): Promise<{ kernel: string; initrd: string }> {
  built ??= (async () => {
    const nodeBin = realpathSync(process.execPath);
    const res = await exec('bash', [join(HERE, 'build.sh'), VM_CACHE, nodeBin], { timeoutMs: 600_000 });
    const [kernel, initrd] = res.stdout.trim().split('\n').slice(-2);
    return { kernel, initrd };
  })();
  return built;
}

export async function runInVm(script: string, opts: { timeoutMs?: number; memoryMb?: number } = {}): Promise<VmResult> {
  const { kernel, initrd } = await ensureVmImage();
  const dir = join(VM_CACHE, 'scripts');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `run-${randomBytes(4).toString('hex')}.sh`);
  // Software emulation is several times slower than the host: start-up timeouts scale with KPX_SLOW_FACTOR.
  writeFileSync(file, `set -u\nexport PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root KPX_SLOW_FACTOR=5 KPX_SANDBOX_ENTRY=dist NODE_COMPILE_CACHE=/tmp/node-compile-cache\n${script}\n`);
  const accel = process.env.KPX_VM_ACCEL === 'kvm' ? 'kvm' : 'tcg';
  const args = [
    '-accel', accel, '-cpu', 'max', '-smp', '2', '-m', String(opts.memoryMb ?? 1024), '-nographic', '-nic', 'none', '-no-reboot',
    '-kernel', kernel, '-initrd', initrd,
    '-virtfs', `local,path=${REPO},mount_tag=host,security_model=none,id=host`,
    '-append', `console=ttyS0 quiet panic=-1 kpxvm.script=${relative(REPO, file)}`,
  ];
  const started = Date.now();
  try {
    const output = await new Promise<string>((resolveOut) => {
      const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => chunks.push(b));
      child.stderr.on('data', (b: Buffer) => chunks.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
      child.on('close', () => { clearTimeout(timer); resolveOut(Buffer.concat(chunks).toString().replace(/\r/g, '')); });
      child.on('error', (e) => { clearTimeout(timer); resolveOut(`@@ qemu failed to start: ${e.message}`); });
    });
    const m = /^@@ EXIT=(\d+)/m.exec(output);
    return { exitCode: m ? Number(m[1]) : null, output, wallMs: Date.now() - started };
  } finally {
    rmSync(file, { force: true });
  }
}
