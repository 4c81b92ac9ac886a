/** iptables mode, external traffic: the shared behaviour table (test/support/behaviour/external.ts). */
import { externalBehaviour } from '../../support/behaviour/external.js';

externalBehaviour('iptables', { localhostNodePorts: true });
