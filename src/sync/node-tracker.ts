/**
 * node-tracker.ts: this node's last-seen Node object, and whether an update changes what the model reads
 * from it (labels such as the zone, addresses, pod CIDRs: a full resync) or only its eligibility for
 * load-balancer traffic (deletion, the autoscaler's taint: only /healthz changes).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApiNode } from '../model/api.js';
import { isNodeEligible } from '../model/index.js';
import type { Logger } from '../util/log.js';

export interface NodeUpdate {
  /** Labels, addresses or pod CIDRs changed: every service must be recomputed and fully synced. */
  readonly modelChanged: boolean;
  /** Eligibility after the update (false while deleting or tainted ToBeDeletedByClusterAutoscaler). */
  readonly eligible: boolean;
  readonly eligibilityChanged: boolean;
}

/** The fields of a Node the model depends on. */
function modelView(node: ApiNode | undefined): unknown {
  if (!node) return null;
  return {
    labels: node.metadata?.labels ?? {},
    addresses: node.status?.addresses ?? [],
    podCIDR: node.spec?.podCIDR ?? '',
    podCIDRs: node.spec?.podCIDRs ?? [],
  };
}

export class NodeTracker {
  private current: ApiNode | undefined;
  private eligible = true;

  constructor(private readonly opts: { nodeName: string; log: Logger }) {}

  /** The Node object, once seen. */
  get node(): ApiNode | undefined {
    return this.current;
  }

  isEligible(): boolean {
    return this.eligible;
  }

  /** update records this node's Node; other nodes' objects are ignored (null). */
  update(node: ApiNode): NodeUpdate | null {
    if (node?.metadata?.name !== this.opts.nodeName) {
      this.opts.log.v(4).info('ignoring another node\'s Node object', { name: node?.metadata?.name });
      return null;
    }
    return this.apply(node, isNodeEligible(node));
  }

  /** delete forgets the Node; a deleted Node is no longer eligible for load-balancer traffic. */
  delete(node: ApiNode): NodeUpdate | null {
    if (node?.metadata?.name !== this.opts.nodeName || this.current === undefined) return null;
    return this.apply(undefined, false);
  }

  private apply(next: ApiNode | undefined, eligible: boolean): NodeUpdate {
    const modelChanged = !isDeepStrictEqual(modelView(this.current), modelView(next));
    const eligibilityChanged = eligible !== this.eligible;
    this.current = next;
    this.eligible = eligible;
    return { modelChanged, eligible, eligibilityChanged };
  }
}
