/**
 * kube-config.ts: where the kube source finds its API server, as kube-proxy does: `--kubeconfig FILE`,
 * else the in-cluster service account, else client-node's default loading (KUBECONFIG, ~/.kube/config);
 * `--master URL` overrides the server in any of them, or stands alone.
 */
import { existsSync } from 'node:fs';
import { KubeConfig, type Cluster } from '@kubernetes/client-node';
import { ConfigError, errorMessage } from '../util/errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  kubeconfig: string;
  master: string;
}

function inClusterAvailable(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(SERVICE_ACCOUNT_TOKEN));
}

function checkMaster(master: string): void {
  let url: URL;
  try {
    url = new URL(master);
  } catch {
    throw new ConfigError(`--master ${JSON.stringify(master)}: not a URL (want https://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`--master ${JSON.stringify(master)}: scheme must be http or https`);
  }
}

/**
 * loadKubeConfig throws ConfigError with one line naming the flag or file when the configuration cannot
 * be used. A plain-http server gets skipTLSVerify set: there is no TLS to verify, and client-node refuses
 * http otherwise where kubectl and kube-proxy accept it.
 */
export function loadKubeConfig(src: KubeConfigSource, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (src.master) checkMaster(src.master);
  try {
    if (src.kubeconfig) {
      if (!existsSync(src.kubeconfig)) throw new ConfigError(`--kubeconfig ${src.kubeconfig}: no such file`);
      kc.loadFromFile(src.kubeconfig);
    } else if (inClusterAvailable(env)) {
      kc.loadFromCluster();
    } else if (src.master) {
      kc.loadFromOptions({
        clusters: [{ name: 'master', server: src.master, skipTLSVerify: false }],
        users: [{ name: 'anonymous' }],
        contexts: [{ name: 'master', cluster: 'master', user: 'anonymous' }],
        currentContext: 'master',
      });
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const what = src.kubeconfig ? `--kubeconfig ${src.kubeconfig}` : 'kubeconfig';
    throw new ConfigError(`${what}: ${errorMessage(err).split('\n')[0]}`);
  }

  const current = kc.getCurrentCluster();
  if (!current) {
    throw new ConfigError(src.kubeconfig
      ? `--kubeconfig ${src.kubeconfig}: no current context with a cluster`
      : 'no API server configured: give --kubeconfig or --master (or --manifests DIR)');
  }
  const server = src.master || current.server;
  const patched: Cluster = { ...current, server, skipTLSVerify: current.skipTLSVerify || server.startsWith('http:') };
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.name === current.name ? patched : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return kc;
}
