/**
 * Chaos, iptables mode: the API server misbehaves under continuous load (test/support/chaos-api-faults.ts).
 * kpx must keep every rule in place, reconnect and relist, and apply the changes made while it could not
 * watch. Target: zero failed requests.
 */
import { apiServerFaultSuite } from '../support/chaos-api-faults.js';

apiServerFaultSuite({ mode: 'iptables', keeps: 'every rule and every request', keepsWhileDown: 'the rules', ruleMarker: 'KUBE-SVC-', holdConnections: false });
