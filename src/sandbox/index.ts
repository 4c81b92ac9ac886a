/**
 * index.ts: the sandbox's public surface, for tests, `kpx sandbox` and perf/. Build a cluster out of
 * network namespaces, run pod servers and kpx in it, send traffic from inside it, destroy it.
 */
export { buildSandbox, Sandbox, type BuildOptions } from './builder.js';
export { startBackground, type BackgroundProcess } from './background.js';
export { defaultEntry, kpxArgs, kpxCommand, KpxInstance, nowSeconds, startKpx, type KpxEntry, type KpxRunOptions } from './kpx-runner.js';
export {
  endpointFor, endpointSliceManifest, ManifestDir, nodeManifest, serviceManifest,
  type EndpointSpec, type PortSpec, type ServiceSpec,
} from './manifests.js';
export { listNamespaces } from './netns.js';
export { sweepStaleSandboxes } from './stale.js';
export {
  CLIENT_IPS, CLIENT_IPS_V6, CLUSTER_CIDR, CLUSTER_CIDR_V6, NODE_NETWORK_CIDR, newRunPrefix, planSandbox,
  type ClientPlan, type NodePlan, type PodPlan, type PodSpec, type SandboxOptions, type SandboxPlan,
} from './plan.js';
export {
  isAnswer, request, requestMany, runClient, summarize, TrafficClientError, waitForSyncMetrics,
  type Answer, type Distribution, type Failure, type ManyOptions, type Proto, type RequestOptions, type RequestResult,
} from './traffic.js';
