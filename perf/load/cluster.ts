/**
 * cluster.ts: the load benchmark's cluster, built with the sandbox (src/sandbox): one node, N backend
 * pods and one client pod on it. Each backend pod runs the sandbox's HTTP pod server on 8080 and our
 * stream server (stream-server.mjs) on 9000. Two ClusterIP services select them all:
 *   web  10.96.0.10:80   → :8080 (keep-alive and new-connection HTTP)
 *   bulk 10.96.0.11:9000 → :9000 (bulk TCP)
 * The client is a pod on the same node, so both paths (ClusterIP, and straight to the pod IPs) cross the
 * node's bridge and netfilter the same way; only the service translation differs.
 */
import { join } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpointFor, ManifestDir, Sandbox, type PodPlan, type ServiceSpec } from '../../src/sandbox/index.js';
import { nodeBinary } from '../../src/sandbox/scripts.js';

export const WEB: ServiceSpec = { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] };
export const BULK: ServiceSpec = { name: 'bulk', clusterIP: '10.96.0.11', ports: [{ port: 9000, targetPort: 9000 }] };
export const WEB_POD_PORT = 8080;
export const BULK_POD_PORT = 9000;

const STREAM_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'stream-server.mjs');

// A load generator opening tens of thousands of connections a second needs the whole port range and
// quick reuse of TIME_WAIT ports (as in notes/probe.md §3); servers need a deep accept queue.
const CLIENT_SYSCTLS = ['net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1'];
// tcp_max_tw_buckets=0: the servers keep no TIME_WAIT sockets. With Connection: close the server closes first
// and would hold (pod:port, client:port) in TIME_WAIT for 60 s; the client then reuses that source port for the
// other path (ClusterIP after direct, or the reverse), whose SYN carries a sequence number and timestamp derived
// from a different 4-tuple, so the pod answers it with an ACK instead of a SYN-ACK and the connection stalls for
// a 1 s SYN retransmit. That artefact of alternating paths (not of kpx) cut ClusterIP new-conn runs to ~450 conn/s.
const SERVER_SYSCTLS = ['net.core.somaxconn=4096', 'net.ipv4.tcp_max_syn_backlog=4096', 'net.ipv4.tcp_max_tw_buckets=0'];

export interface LoadCluster {
  readonly sb: Sandbox;
  readonly manifests: ManifestDir;
  readonly backends: readonly PodPlan[];
  readonly client: PodPlan;
}

export async function buildLoadCluster(pods: number, onLine?: (source: string, line: string) => void): Promise<LoadCluster> {
  const specs = Array.from({ length: pods }, (_, i) => ({ name: `be${i + 1}`, node: 1, tcpPorts: [WEB_POD_PORT], udpPorts: [] as number[] }));
  const sb = await Sandbox.build({ nodes: 1, pods: [...specs, { name: 'loadclient', node: 1, noServer: true }], ...(onLine ? { onLine } : {}) });
  try {
    const backends = specs.map((s) => sb.pod(s.name));
    const client = sb.pod('loadclient');
    for (const s of CLIENT_SYSCTLS) await trySysctl(sb, client.ns, s);
    for (const p of backends) {
      for (const s of SERVER_SYSCTLS) await trySysctl(sb, p.ns, s);
      const proc = sb.startProcess(p.ns, `stream ${p.name}`, nodeBinary(), [STREAM_SERVER, '--port', String(BULK_POD_PORT)]);
      await proc.waitForLine(/^READY /, 15_000);
    }
    const manifests = new ManifestDir(sb.tmpDir);
    manifests.writeNodes(sb.nodes);
    const eps = backends.map((p) => endpointFor(p));
    manifests.writeService(WEB, eps);
    manifests.writeService(BULK, eps);
    return { sb, manifests, backends, client };
  } catch (e) {
    await sb.destroy();
    throw e;
  }
}

/** A tuning sysctl that fails (an old kernel, busybox in the VM) costs accuracy, not the run: warn. */
async function trySysctl(sb: Sandbox, ns: string, setting: string): Promise<void> {
  try {
    await sb.exec(ns, 'sysctl', ['-q', '-w', setting]);
  } catch (e) {
    process.stderr.write(`[perf:load] warning: sysctl ${setting} in ${ns} failed: ${(e as Error).message.split('\n')[0]}\n`);
  }
}
