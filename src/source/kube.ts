/**
 * kube.ts: the cluster-state source backed by the Kubernetes API, as kube-proxy watches it: Services and
 * EndpointSlices without the service-proxy-name or headless labels, and this node's Node object (field
 * selector on its name). One ResilientInformer per kind; see kube-informer.ts for how client-node's gaps
 * (no synced signal, no restart after errors) are covered.
 *
 * Objects are handed over as the plain JSON the API server sent (src/model/api.ts shapes). They are the
 * informer cache's own objects: consumers must treat them as read-only.
 */
import {
  CoreV1Api, DiscoveryV1Api, Observable, type KubeConfig, type ObservableMiddleware, type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { ApiKind } from '../model/api.js';
import type { Logger } from '../util/log.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { loadKubeConfig } from './kube-config.js';
import { ResilientInformer, type InformerSpec, type RawList } from './kube-informer.js';
import { nodeFieldSelector, PROXIED_LABEL_SELECTOR } from './selectors.js';
import type { ClusterSource, SourceHandler } from './types.js';

export interface KubeSourceOptions {
  /** --kubeconfig; '' for in-cluster or default loading. */
  kubeconfig: string;
  /** --master; overrides the kubeconfig's server when set. */
  master: string;
  /** This node's name (--hostname-override or the hostname); selects the one Node object watched. */
  nodeName: string;
  log: Logger;
  /** Delay before retrying a failed list/watch: initialMs doubling to maxMs. Default 800 ms to 30 s. */
  backoff?: BackoffOptions;
  /** A list request that has not answered after this long is abandoned and retried. Default 60 s. */
  listTimeoutMs?: number;
}

/** What the generated code is given to deserialise in place of a successful list: nothing to convert. */
const EMPTY_LIST = '{"items":[]}';

function bodyOf(text: string): ResponseContext['body'] {
  return { text: async () => text, binary: async () => Buffer.from(text), stream: () => null };
}

/**
 * listRaw runs one of client-node's list calls but returns the body as the server sent it, parsed once:
 * a post middleware keeps the text of a successful answer and hands the generated code an empty list in
 * its place, so client-node's typed models (which kube-informer.ts does not use) are never built. An
 * error answer passes through untouched, so client-node still reports its status. The pre middleware
 * bounds the call, which client-node does not: a list that hangs would otherwise stall the informer
 * forever.
 */
async function listRaw(timeoutMs: number, call: (options: any) => Promise<unknown>): Promise<RawList> {
  let raw: string | undefined;
  const capture: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(res.body.text().then((text) => {
      const ok = res.httpStatusCode >= 200 && res.httpStatusCode <= 299;
      if (ok) raw = text;
      res.body = bodyOf(ok ? EMPTY_LIST : text);
      return res;
    })),
  };
  // The object-parameter API hands these options to the observable layer, hence Observable above.
  await call({ middleware: [capture], middlewareMergeStrategy: 'append' });
  if (raw === undefined) throw new Error('list returned no body');
  return JSON.parse(raw) as RawList;
}

function specs(kc: KubeConfig, nodeName: string, listTimeoutMs: number): InformerSpec[] {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const nodeSelector = nodeFieldSelector(nodeName);
  const labelSelector = PROXIED_LABEL_SELECTOR;
  return [
    {
      kind: 'Service', apiVersion: 'v1', path: '/api/v1/services', labelSelector,
      list: () => listRaw(listTimeoutMs, (o) => core.listServiceForAllNamespaces({ labelSelector }, o)),
    },
    {
      kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector,
      list: () => listRaw(listTimeoutMs, (o) => discovery.listEndpointSliceForAllNamespaces({ labelSelector }, o)),
    },
    {
      kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes', fieldSelector: nodeSelector,
      list: () => listRaw(listTimeoutMs, (o) => core.listNode({ fieldSelector: nodeSelector }, o)),
    },
  ];
}

/**
 * createKubeSource reads the kubeconfig at once and throws ConfigError (one line naming the flag or file)
 * when it is unusable; an unreachable API server is not an error here: the source keeps retrying.
 */
export function createKubeSource(opts: KubeSourceOptions): ClusterSource {
  const kc = loadKubeConfig({ kubeconfig: opts.kubeconfig, master: opts.master });
  const log = opts.log.child({ source: 'kube' });
  if (!opts.kubeconfig && !opts.master) {
    // kube-proxy says the same: without either flag the in-cluster or default configuration may not work.
    log.warn('neither --kubeconfig nor --master was specified; using the in-cluster or default configuration',
      { server: kc.getCurrentCluster()?.server });
  }
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  let informers: ResilientInformer[] = [];

  return {
    name: 'kube',
    async start(handler: SourceHandler): Promise<void> {
      if (informers.length > 0) throw new Error('kube source already started');
      log.info('watching the API server', { server: kc.getCurrentCluster()?.server, node: opts.nodeName });
      informers = specs(kc, opts.nodeName, opts.listTimeoutMs ?? 60_000).map((spec) => {
        const kind: ApiKind = spec.kind;
        return new ResilientInformer(kc, spec, {
          upsert: (event) => handler.upsert(event),
          remove: (event) => handler.remove(event),
          synced: () => handler.synced(kind),
        }, log, backoff);
      });
      await Promise.all(informers.map((i) => i.start()));
    },
    async stop(): Promise<void> {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
