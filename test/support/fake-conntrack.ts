/** fake-conntrack.ts: a ConntrackClient that records the deletions asked of it and deletes nothing. */
import type { ConntrackClient, ConntrackFilter } from '../../src/net/conntrack.js';

export class RecordingConntrack implements ConntrackClient {
  deleted: ConntrackFilter[] = [];

  async delete(f: ConntrackFilter): Promise<number> {
    this.deleted.push(f);
    return 0;
  }

  clearStalledConnects(): Promise<number> {
    return this.delete({ protocol: 'TCP', state: 'SYN_SENT' });
  }
}
