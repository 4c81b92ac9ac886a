/**
 * Chaos, userspace mode: the API server misbehaves under continuous load (test/support/chaos-api-faults.ts)
 * while keep-alive connections are held through every service. Here kpx carries every byte itself (the
 * kernel only REDIRECTs to kpx's listeners), so its listeners and the connections they carry must outlive
 * every fault. Target: zero failed requests and no held connection lost.
 */
import { apiServerFaultSuite } from '../support/chaos-api-faults.js';

apiServerFaultSuite({
  mode: 'userspace', keeps: 'every listener, request and open connection', keepsWhileDown: 'listeners, portal rules and connections',
  ruleMarker: 'KUBE-PORTALS-CONTAINER', holdConnections: true,
});
