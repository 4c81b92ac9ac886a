/** nftables mode, ClusterIP traffic: the shared behaviour table (test/support/behaviour/cluster-ip.ts). */
import { clusterIPBehaviour } from '../../support/behaviour/cluster-ip.js';

clusterIPBehaviour('nftables');
