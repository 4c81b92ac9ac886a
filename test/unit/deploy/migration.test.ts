/**
 * deploy/README.md's migration guide, checked against the manifests and kpx's configuration loader:
 *  - step 1's edit of kube-proxy's kubeadm config.conf (the README's own sed expression) gives a file kpx
 *    loads into the same settings, with no kubeconfig path that only kube-proxy's pod has;
 *  - the overlay the README writes (kpx-site/kustomization.yaml) names what deploy/ defines: the image,
 *    the ConfigMap and its key (the file the DaemonSet's --config reads), the DaemonSet; its canary patch
 *    applies to the DaemonSet and the result still validates against Kubernetes' schema;
 *  - the kube-proxy affinity patch is valid JSON of the right shape.
 */
import { KUBEADM_KUBE_PROXY_CONFIG } from '../../support/kubeadm-kube-proxy-config.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { loadConfig } from '../../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8');

function manifest(file: string): Record<string, any> {
  return parseAllDocuments(readFileSync(join(ROOT, 'deploy', file), 'utf8'))[0]!.toJSON() as Record<string, any>;
}

/** The text of a heredoc in the README (`cat > FILE <<'EOF'` … `EOF`), with the code block's indent removed. */
function heredoc(file: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l.includes(`cat > ${file} <<'EOF'`));
  assert.ok(start >= 0, `the README writes ${file}`);
  const indent = /^\s*/.exec(lines[start]!)![0].length;
  const body: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === 'EOF') return body.join('\n');
    body.push(l.slice(indent));
  }
  assert.fail(`the heredoc for ${file} has no EOF`);
}

const KUBEADM_CONFIG = KUBEADM_KUBE_PROXY_CONFIG;

/** The README's `sed 's#PATTERN#REPLACEMENT#'` of step 1, applied line by line as sed does. */
function readmeSedEdit(text: string): string {
  const m = /sed 's#([^#]*)#([^#]*)#'/.exec(README);
  assert.ok(m, 'step 1 edits config.conf with sed');
  const re = new RegExp(m[1]!); // a basic regular expression of only ^, literals and .*: the same in JS
  assert.doesNotMatch(m[1]!, /\\[(){}+?|]/, 'the sed pattern uses only what BRE and JS agree on');
  return text.split('\n').map((line) => line.replace(re, m[2]!)).join('\n');
}

test('kubeadm\'s kube-proxy config.conf, edited as step 1 says, loads in kpx with no kubeconfig path and the same settings', () => {
  const load = (text: string) => {
    const res = loadConfig(['--config', '/kpx-site/config.conf'], { readFile: () => text });
    assert.equal(res.action, 'run');
    return res.action === 'run' ? res : assert.fail();
  };
  // Unedited, kpx would look for kube-proxy's kubeconfig, which kpx's pod does not mount.
  const unedited = load(KUBEADM_CONFIG);
  assert.equal(unedited.config.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
  const ds = manifest('daemonset.yaml');
  const mounts: string[] = ds.spec.template.spec.containers[0].volumeMounts.map((m: any) => m.mountPath);
  assert.ok(!mounts.some((p) => unedited.config.kubeconfig.startsWith(p + '/')), 'the kpx pod has no such file');

  const edited = readmeSedEdit(KUBEADM_CONFIG);
  assert.equal(edited.split('\n').filter((l, i) => l !== KUBEADM_CONFIG.split('\n')[i]).length, 1, 'the edit changes one line');
  const res = load(edited);
  assert.equal(res.config.kubeconfig, '', 'no kubeconfig: kpx uses its ServiceAccount');
  assert.deepEqual(res.warnings, []);
  // Everything else as kube-proxy read it: mode "" is iptables, the cluster CIDR is kept.
  assert.deepEqual({ ...res.config, kubeconfig: unedited.config.kubeconfig }, unedited.config);
  assert.equal(res.config.mode, 'iptables');
  assert.deepEqual(res.config.clusterCIDRs, ['10.244.0.0/16']);
});

/** RFC 6902 "add" on a JSON pointer (RFC 6901: ~1 is "/", ~0 is "~"); the parent must exist. */
function jsonPatchAdd(doc: any, path: string, value: unknown): void {
  const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = doc;
  for (const p of parts.slice(0, -1)) {
    assert.ok(node !== null && typeof node === 'object' && p in node, `patch path ${path}: ${p} does not exist`);
    node = node[p];
  }
  node[parts.at(-1)!] = value;
}

test('the README\'s overlay names deploy/\'s image, ConfigMap and DaemonSet, and its canary patch applies', () => {
  const k = parse(heredoc('kpx-site/kustomization.yaml')) as Record<string, any>;
  assert.deepEqual(k.resources, ['../deploy']);
  const ds = manifest('daemonset.yaml');
  const cm = manifest('configmap.yaml');
  const container = ds.spec.template.spec.containers[0];

  // images: the name must be the image deploy/ uses, without its tag.
  assert.equal(k.images[0].name, String(container.image).replace(/:[^:/]+$/, ''));

  // configMapGenerator replaces deploy/'s ConfigMap, under the name the DaemonSet mounts, with the key --config reads.
  const gen = k.configMapGenerator[0];
  assert.equal(gen.behavior, 'replace');
  assert.equal(gen.name, cm.metadata.name);
  assert.equal(gen.namespace, cm.metadata.namespace);
  assert.equal(k.generatorOptions.disableNameSuffixHash, true);
  const vol = ds.spec.template.spec.volumes.find((v: any) => v.configMap);
  assert.equal(vol.configMap.name, gen.name);
  const mount = container.volumeMounts.find((m: any) => m.name === vol.name);
  const configArg = (container.args as string[]).find((a) => a.startsWith('--config='))!;
  assert.deepEqual(gen.files, [configArg.slice('--config='.length).slice(mount.mountPath.length + 1)]);
  assert.ok(Object.keys(cm.data).includes(gen.files[0]), 'deploy/\'s ConfigMap has the same key');

  // The canary patch: targets kpx's DaemonSet, adds one nodeSelector key, keeps the rest, stays valid.
  const patch = k.patches[0];
  assert.deepEqual(patch.target, { kind: 'DaemonSet', name: ds.metadata.name });
  const ops = parse(patch.patch) as { op: string; path: string; value: unknown }[];
  const patched = structuredClone(ds);
  for (const op of ops) {
    assert.equal(op.op, 'add');
    jsonPatchAdd(patched, op.path, op.value);
  }
  assert.deepEqual(patched.spec.template.spec.nodeSelector, { ...ds.spec.template.spec.nodeSelector, 'kpx.io/canary': 'true' });
  assert.doesNotThrow(() => new DaemonSet(patched as any).validate());
  // The node label the README tells the operator to set is the one the patch selects.
  assert.match(README, /kubectl label node <node> kpx\.io\/canary=true/);
});

test('the kube-proxy patch keeps kube-proxy off the canary nodes', () => {
  const m = /kubectl -n kube-system patch daemonset kube-proxy -p '([^']+)'/.exec(README);
  assert.ok(m, 'the README patches kube-proxy');
  const p = JSON.parse(m[1]!);
  const term = p.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0];
  assert.deepEqual(term.matchExpressions, [{ key: 'kpx.io/canary', operator: 'DoesNotExist' }]);
});
