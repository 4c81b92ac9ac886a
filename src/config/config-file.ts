/**
 * config-file.ts: reads a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) document as kube-proxy's
 * loadConfig does: strictly first, and when only the strict checks fail (an unknown field, a duplicate key)
 * leniently, with the strict error kept for one log line ("Using lenient decoding as strict decoding failed"):
 * unknown fields are dropped and the last of duplicate keys wins. A wrong apiVersion or kind, or a value of the
 * wrong type, is an error naming the field, as upstream's lenient decoder fails on it too. Fields kube-proxy
 * defines but kpx does not use (clientConnection.qps, featureGates, winkernel...) are accepted and type-checked,
 * so a kubeadm-generated file works unchanged.
 */
import { isPair, isScalar, parseAllDocuments, visit } from 'yaml';
import type { Document } from 'yaml';
import { FIELD_BY_FILE, isZero, parseFileValue } from './fields.js';
import type { FieldSpec, Value } from './fields.js';
import { parseDuration } from './duration.js';
import { invalidValue } from './problems.js';

export const CONFIG_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const CONFIG_KIND = 'KubeProxyConfiguration';

export interface FileValue {
  readonly spec: FieldSpec;
  readonly value: Value;
  /** `iptables.syncPeriod in /etc/kpx/config.conf`, for messages. */
  readonly where: string;
}

export interface ParsedConfigFile {
  readonly values: FileValue[];
  readonly problems: string[];
  /**
   * Set when strict decoding failed but lenient decoding worked, as apimachinery words it:
   * `strict decoding error: unknown field "foo", duplicate field "mode"`.
   */
  readonly strictError?: string;
}

/** Objects that only contain fields. */
const CONTAINERS = new Set(['clientConnection', 'logging', 'logging.options', 'logging.options.text', 'logging.options.json', 'iptables', 'ipvs', 'nftables', 'winkernel', 'conntrack', 'detectLocal']);

type LooseKind = 'string' | 'bool' | 'int' | 'number' | 'duration' | 'boolMap';

/** kube-proxy fields kpx accepts and ignores: only their type is checked. */
const IGNORED: ReadonlyMap<string, LooseKind> = new Map<string, LooseKind>([
  ['featureGates', 'boolMap'],
  ['clientConnection.acceptContentTypes', 'string'],
  ['clientConnection.contentType', 'string'],
  ['clientConnection.qps', 'number'],
  ['clientConnection.burst', 'int'],
  ['bindAddressHardFail', 'bool'],
  ['enableProfiling', 'bool'],
  ['showHiddenMetricsForVersion', 'string'],
  ['oomScoreAdj', 'int'],
  ['windowsRunAsService', 'bool'],
  ['iptables.snatNodeInternalIP', 'bool'],
  ['nftables.masqueradeBit', 'int'],
  ['nftables.masqueradeAll', 'bool'],
  ['nftables.syncPeriod', 'duration'],
  ['nftables.minSyncPeriod', 'duration'],
  ['winkernel.networkName', 'string'],
  ['winkernel.sourceVip', 'string'],
  ['winkernel.enableDSR', 'bool'],
  ['winkernel.rootHnsEndpointName', 'string'],
  ['winkernel.forwardHealthCheckVip', 'bool'],
]);

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function looseCheck(kind: LooseKind, v: unknown): string | undefined {
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? undefined : 'must be a string';
    case 'bool':
      return typeof v === 'boolean' ? undefined : 'must be true or false';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) ? undefined : 'must be an integer';
    case 'number':
      return typeof v === 'number' ? undefined : 'must be a number';
    case 'duration':
      if (typeof v !== 'string') return 'must be a duration string like "30s"';
      try {
        parseDuration(v);
        return undefined;
      } catch {
        return 'not a duration';
      }
    case 'boolMap':
      if (!isMapping(v)) return 'must be a mapping of names to true or false';
      for (const [k, b] of Object.entries(v)) if (typeof b !== 'boolean') return `feature gate ${k} must be true or false`;
      return undefined;
  }
}

/** firstLine: YAML errors span lines (with a code frame); a problem is one line. */
function firstLine(text: string): string {
  return text.split('\n')[0].trim().replace(/:$/, '');
}

/** duplicateKeys: the dotted paths of keys given twice in one mapping (strict decoding's "duplicate field"). */
function duplicateKeys(doc: Document.Parsed): string[] {
  const found: string[] = [];
  visit(doc, {
    Map(_key, map, path) {
      const prefix = path.filter(isPair).map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
      const seen = new Set<string>();
      for (const item of map.items) {
        const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
        if (seen.has(k)) found.push([...prefix, k].join('.'));
        seen.add(k);
      }
    },
  });
  return found;
}

export function parseConfigFile(text: string, fileName: string): ParsedConfigFile {
  const problems: string[] = [];
  const values: FileValue[] = [];
  const strict: string[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: false, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    for (const dup of duplicateKeys(doc)) strict.push(`duplicate field ${JSON.stringify(dup)}`);
    if (doc.errors.length > 0) {
      return { values, problems: [`cannot parse config file ${fileName}: ${firstLine(doc.errors[0].message)}`] };
    }
  }
  const nonEmpty = list.filter((d) => d.contents !== null);
  if (nonEmpty.length === 0) return { values, problems: [`config file ${fileName} is empty: expected a ${CONFIG_KIND}`] };
  if (nonEmpty.length > 1) {
    return { values, problems: [`config file ${fileName} holds ${nonEmpty.length} documents: expected one ${CONFIG_KIND}`] };
  }
  let obj: unknown;
  try {
    obj = nonEmpty[0].toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { values, problems: [`cannot parse config file ${fileName}: ${firstLine((err as Error).message)}`] };
  }
  if (!isMapping(obj)) return { values, problems: [`config file ${fileName} must hold a ${CONFIG_KIND} mapping`] };

  const { apiVersion, kind, ...rest } = obj;
  if (apiVersion === undefined) problems.push(`config file ${fileName}: apiVersion is missing (expected ${CONFIG_API_VERSION})`);
  else if (apiVersion !== CONFIG_API_VERSION) {
    problems.push(`config file ${fileName}: apiVersion ${JSON.stringify(apiVersion)} is not supported (expected ${CONFIG_API_VERSION})`);
  }
  if (kind === undefined) problems.push(`config file ${fileName}: kind is missing (expected ${CONFIG_KIND})`);
  else if (kind !== CONFIG_KIND) problems.push(`config file ${fileName}: kind ${JSON.stringify(kind)} is not supported (expected ${CONFIG_KIND})`);
  if (problems.length > 0) return { values, problems };

  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, v] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const where = `${path} in ${fileName}`;
      const spec = FIELD_BY_FILE.get(path);
      if (spec) {
        if (v === null) continue; // null is "unset" in Go's JSON decoding: keep the default
        let value: Value;
        try {
          value = parseFileValue(spec, spec.fromFile ? spec.fromFile(v) : v);
        } catch (err) {
          problems.push(invalidValue(v, where, (err as Error).message));
          continue;
        }
        if ((spec.zeroMeansDefault || spec.blankIsDefault) && isZero(value)) continue;
        if (spec.normalize) value = spec.normalize(value);
        const reason = spec.check?.(value);
        if (reason) {
          problems.push(invalidValue(v, where, reason));
          continue;
        }
        values.push({ spec, value, where });
        continue;
      }
      if (CONTAINERS.has(path)) {
        if (v === null) continue;
        if (!isMapping(v)) {
          problems.push(invalidValue(v, where, 'must be a mapping'));
          continue;
        }
        walk(v, path);
        continue;
      }
      const loose = IGNORED.get(path);
      if (loose) {
        if (v === null) continue;
        const reason = looseCheck(loose, v);
        if (reason) problems.push(invalidValue(v, where, reason));
        continue;
      }
      strict.push(`unknown field ${JSON.stringify(path)}`);
    }
  };
  walk(rest, '');
  if (strict.length === 0) return { values, problems };
  return { values, problems, strictError: `strict decoding error: ${strict.join(', ')}` };
}
