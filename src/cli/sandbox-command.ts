// PLACEHOLDER: replaced by its owner. Contract: resolves with the process exit code.
export async function runSandbox(argv: string[]): Promise<number> {
  void argv;
  throw new Error('sandbox-command: not implemented yet');
}
