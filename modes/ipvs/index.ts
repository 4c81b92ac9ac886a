// PLACEHOLDER: replaced by the ipvs mode's owner. Contract: export const mode: ModeModule.
import type { ModeModule } from '../../src/backend.js';

export const mode: ModeModule = {
  createBackend() { throw new Error('ipvs mode: not implemented yet'); },
  describe() { throw new Error('ipvs mode: not implemented yet'); },
};
