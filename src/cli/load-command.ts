// PLACEHOLDER: replaced by its owner. Contract: resolves with the process exit code.
export async function runLoad(argv: string[]): Promise<number> {
  void argv;
  throw new Error('load-command: not implemented yet');
}
