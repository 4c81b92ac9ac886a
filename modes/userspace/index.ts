// PLACEHOLDER: replaced by the userspace mode's owner. Contract: export const mode: ModeModule.
import type { ModeModule } from '../../src/backend.js';

export const mode: ModeModule = {
  createBackend() { throw new Error('userspace mode: not implemented yet'); },
  describe() { throw new Error('userspace mode: not implemented yet'); },
};
