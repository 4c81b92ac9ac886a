// PLACEHOLDER: replaced by its owner. Contract: resolves with the process exit code.
export async function runProxy(config: import('../config/types.js').KpxConfig): Promise<number> {
  void config;
  throw new Error('run: not implemented yet');
}
