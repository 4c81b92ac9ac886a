/**
 * fixtures.ts: a recording Backend for the sync tests, and the node they run on (the cluster shorthands of
 * test/support/api-objects.ts build their objects as seen from it).
 */
import type { Backend, SyncResult } from '../../../src/backend.js';
import type { ChangeSet, IPFamily, ProxyState } from '../../../src/model/types.js';

export { CLUSTER_NODE as NODE, CLUSTER_NODE_IP as NODE_IP } from '../../support/api-objects.js';

export interface RecordedSync {
  readonly family: IPFamily;
  readonly state: ProxyState;
  readonly changed: ChangeSet;
}

/**
 * RecordingBackend: a real Backend that keeps every sync it receives instead of programming a kernel, and
 * fails the syncs a test scripts. The proxier's contract is all it exercises; kernel backends are tested
 * in their own suites.
 */
export class RecordingBackend implements Backend {
  readonly mode = 'iptables' as const;
  readonly syncs: RecordedSync[] = [];
  readonly events: string[] = [];
  /** Results of the next syncs, consumed in order; { ok: true } once empty. */
  results: SyncResult[] = [];
  throwNext = false;

  constructor(readonly family: IPFamily = 'IPv4') {}

  async init(): Promise<void> { this.events.push('init'); }
  async cleanup(): Promise<void> { this.events.push('cleanup'); }
  async close(): Promise<void> { this.events.push('close'); }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    this.events.push('sync');
    this.syncs.push({ family: this.family, state, changed: { full: changed.full, services: new Set(changed.services) } });
    if (this.throwNext) { this.throwNext = false; throw new Error('backend bug'); }
    return this.results.shift() ?? { ok: true };
  }

  get last(): RecordedSync | undefined {
    return this.syncs.at(-1);
  }
}
