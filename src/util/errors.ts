/**
 * errors.ts: errors with stable codes (undici's pattern), so callers and tests branch on `code`,
 * never on message text.
 */
/** Every code a KpxError carries, so a caller's branch on `code` is checked. */
export type KpxErrorCode =
  | 'KPX_CONFIG' // ConfigError
  | 'KPX_COMMAND' // CommandError
  | 'KPX_IPTABLES_RESTORE' // IptablesRestoreError
  | 'KPX_IPTABLES_SYNC' // an iptables-mode sync failed otherwise
  | 'KPX_NFT' // NftError: nft rejected a transaction
  | 'KPX_NFTABLES_SYNC' // an nftables-mode sync failed otherwise
  | 'KPX_SYSCTL' // a sysctl the iptables mode needs could not be set
  | 'KPX_IPVS' // an IPVS netlink command failed
  | 'KPX_IPVS_UNAVAILABLE' // IpvsUnavailableError
  | 'KPX_IPVS_SYNC' // an ipvs-mode sync failed otherwise
  | 'KPX_USERSPACE_SYNC' // a userspace-mode sync failed
  | 'KPX_LOAD' // the load generator's output could not be read
  | 'KPX_BACKEND_THREW'; // a backend broke its promise never to throw (the proxier counts it a failed sync)

export class KpxError extends Error {
  readonly code: KpxErrorCode;
  constructor(code: KpxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KpxError';
    this.code = code;
  }
}

/** A flag, config field or file the user gave is wrong: one line naming it, exit status 1. */
export class ConfigError extends KpxError {
  constructor(message: string) {
    super('KPX_CONFIG', message);
    this.name = 'ConfigError';
  }
}

/** iptables-restore rejected input; `line` is the failing line number and `context` its neighbours. */
export class IptablesRestoreError extends KpxError {
  readonly line: number | undefined;
  readonly context: string;
  constructor(message: string, line: number | undefined, context: string, options?: { cause?: unknown }) {
    super('KPX_IPTABLES_RESTORE', message, options);
    this.name = 'IptablesRestoreError';
    this.line = line;
    this.context = context;
  }
}

/** An external command failed. */
export class CommandError extends KpxError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stderr: string) {
    super('KPX_COMMAND', `${command} exited with ${exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    this.name = 'CommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
