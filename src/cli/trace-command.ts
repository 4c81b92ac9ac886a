// PLACEHOLDER: replaced by its owner. Contract: resolves with the process exit code.
export async function runTrace(argv: string[]): Promise<number> {
  void argv;
  throw new Error('trace-command: not implemented yet');
}
