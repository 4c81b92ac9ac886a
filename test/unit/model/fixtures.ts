/**
 * fixtures.ts: what the model tests share besides the API-object builders (test/support/api-objects.ts):
 * this node's name, a ModelContext that records warnings, and endpoint keys for compact assertions.
 */
import type { ApiNode } from '../../../src/model/api.js';
import type { ModelContext } from '../../../src/model/index.js';
import { nodeInfoFrom } from '../../../src/model/index.js';
import type { Endpoint, IPFamily } from '../../../src/model/types.js';
import { node } from '../../support/api-objects.js';

export const NODE = 'kpx-node';

/** A ModelContext that records warnings. */
export function context(family: IPFamily = 'IPv4', apiNode: ApiNode | undefined = node(NODE, { zone: 'zone-a' })): ModelContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    family,
    node: nodeInfoFrom(apiNode, NODE, family, []),
    warn: (msg, fields) => { warnings.push(fields ? `${msg} ${JSON.stringify(fields)}` : msg); },
    warnings,
  };
}

/** Endpoint keys, for compact assertions. */
export function keys(eps: readonly Endpoint[]): string[] {
  return eps.map((e) => e.key);
}
