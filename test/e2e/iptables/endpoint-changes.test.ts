/** iptables mode, endpoint changes: the shared behaviour table (test/support/behaviour/endpoint-changes.ts). */
import { endpointChangesBehaviour } from '../../support/behaviour/endpoint-changes.js';

endpointChangesBehaviour('iptables');
