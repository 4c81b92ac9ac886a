/** nftables mode, dual-stack services: the shared behaviour table (test/support/behaviour/dual-stack.ts). */
import { dualStackBehaviour } from '../../support/behaviour/dual-stack.js';

dualStackBehaviour('nftables');
