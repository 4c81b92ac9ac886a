/**
 * tcp-worker.ts: the entry of a userspace data-path worker thread (see tcp-workers.ts). It hosts TcpProxy
 * instances bound to the same ports as the main thread's listeners (SO_REUSEPORT), with the rotation
 * counter and the connection budget in shared memory, and obeys open / update / close requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { log } from '../../src/util/log.js';
import { LoadBalancer, type Target } from './load-balancer.js';
import { ConnectionBudget, TcpProxy } from './tcp-proxy.js';
import type { WorkerReply, WorkerRequest } from './tcp-workers.js';

const port = parentPort;
if (!port) throw new Error('tcp-worker.ts runs only as a worker thread');
const wlog = log.child({ mode: 'userspace', worker: (workerData as { index: number }).index });
const balancer = new LoadBalancer();
const proxies = new Map<string, TcpProxy>();

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.op) {
    case 'open': {
      balancer.update(req.id, req.endpoints, 0);
      balancer.useRotation(req.id, req.rotation);
      const proxy = new TcpProxy({
        name: req.id,
        pick: (src: string, reset: boolean): Target | undefined => balancer.nextEndpoint(req.id, src, reset),
        dialRefused: (t: Target) => balancer.failed(req.id, t.key),
        wantsSourceAddress: () => false,
        budget: new ConnectionBudget(req.max, req.budget),
        log: wlog,
        dialTimeoutsMs: req.dialTimeoutsMs,
      });
      await proxy.listen(req.host, req.port, { reusePort: true });
      proxies.set(req.id, proxy);
      return;
    }
    case 'update':
      balancer.update(req.id, req.endpoints, 0);
      return;
    case 'close': {
      const proxy = proxies.get(req.id);
      proxies.delete(req.id);
      balancer.remove(req.id);
      await proxy?.close();
      return;
    }
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    () => port.postMessage({ seq: req.seq, ok: true } satisfies WorkerReply),
    (err: unknown) => port.postMessage({ seq: req.seq, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
