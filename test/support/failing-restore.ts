/**
 * A stand-in iptables-nft-restore for the chaos suites: put first on kpx's PATH, it fails while a flag
 * file exists and otherwise runs the real one (src/net/iptables.ts runs iptables-nft-restore by name).
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class FailingRestore {
  /** The folder to put first on kpx's PATH. */
  readonly bin: string;
  readonly #flag: string;

  constructor(dir: string) {
    this.bin = join(dir, 'fault-bin');
    this.#flag = join(dir, 'restore-fails');
    mkdirSync(this.bin, { recursive: true });
    const script = join(this.bin, 'iptables-nft-restore');
    writeFileSync(script, [
      '#!/bin/sh',
      '# chaos suite: injected iptables-restore failure',
      `if [ -e '${this.#flag}' ]; then`,
      '  cat >/dev/null',
      "  echo 'iptables-restore: line 2 failed (injected by the chaos suite)' >&2",
      '  exit 1',
      'fi',
      'exec /usr/sbin/iptables-nft-restore "$@"',
      '',
    ].join('\n'));
    chmodSync(script, 0o755);
  }

  /** kpx's environment with the stand-in first on PATH. */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${this.bin}:${process.env.PATH ?? ''}` };
  }

  /** From now on every restore fails (true) or runs for real again (false). */
  failing(on: boolean): void {
    if (on) writeFileSync(this.#flag, 'fail\n');
    else rmSync(this.#flag, { force: true });
  }
}
