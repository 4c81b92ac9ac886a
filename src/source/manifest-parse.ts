/**
 * manifest-parse.ts: one manifest file's text → the Services, EndpointSlices and Nodes it holds, or the
 * problems that make it unusable. Pure; the manifests source decides what a problem means (the file's
 * last good objects are kept).
 *
 * Accepted: multi-document YAML (`---`), JSON, and `kind: List` (or `ServiceList`, ...) with `items`.
 * Other kinds (Deployments, ConfigMaps, ...) and other API groups' "Service" kinds are ignored, so a
 * directory of ordinary application manifests works. Objects kube-proxy would not see (service-proxy-name
 * or headless label) are ignored as well.
 */
import { parseAllDocuments } from 'yaml';
import type { ApiKind } from '../model/api.js';
import { clusterObject, type ClusterObject } from './cluster-object.js';
import { isProxied } from './selectors.js';

/** The apiVersion each kind must have when one is given. */
const API_VERSIONS: Record<ApiKind, string> = {
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Node: 'v1',
};

/** An object of the file, with `key` = `Kind/namespace/name` (namespace is '' for Nodes). */
export type ManifestObject = ClusterObject & { readonly key: string };

export interface ManifestProblem {
  /** 0-based document index in the file (absent for whole-file problems such as bad JSON). */
  document?: number;
  /** 0-based index inside a List document. */
  item?: number;
  message: string;
}

export interface ParsedManifest {
  objects: ManifestObject[];
  /** Any problem makes the whole file unusable. */
  problems: ManifestProblem[];
  /** Same key twice in the file: the later one wins (not a problem, but worth a warning). */
  duplicates: string[];
  /** Objects skipped on purpose: other kinds or API groups, or labelled for another proxy. */
  ignored: number;
}

export function manifestKey(kind: ApiKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstLine(msg: string): string {
  return msg.split('\n')[0].trim();
}

/** parseManifestText: `fileName` decides JSON (".json") or YAML; nothing is read from disk. */
export function parseManifestText(text: string, fileName: string): ParsedManifest {
  const out: ParsedManifest = { objects: [], problems: [], duplicates: [], ignored: 0 };
  const docs: unknown[] = [];
  if (fileName.toLowerCase().endsWith('.json')) {
    if (text.trim() === '') return out;
    try {
      docs.push(JSON.parse(text));
    } catch (err) {
      out.problems.push({ message: `invalid JSON: ${firstLine((err as Error).message)}` });
      return out;
    }
  } else {
    const parsed = parseAllDocuments(text);
    const list = Array.isArray(parsed) ? parsed : [];
    for (const [i, doc] of list.entries()) {
      if (doc.errors.length > 0) {
        out.problems.push({ document: i, message: `invalid YAML: ${firstLine(doc.errors[0].message)}` });
        docs.push(undefined);
        continue;
      }
      try {
        docs.push(doc.toJS({ maxAliasCount: 1000 }));
      } catch (err) {
        out.problems.push({ document: i, message: `invalid YAML: ${firstLine((err as Error).message)}` });
        docs.push(undefined);
      }
    }
    if (out.problems.length > 0) return out;
  }

  const seen = new Map<string, number>();
  const add = (value: unknown, document: number, item?: number) => {
    const where = { document, ...(item === undefined ? {} : { item }) };
    if (!isRecord(value)) {
      out.problems.push({ ...where, message: 'not an object' });
      return;
    }
    const kind = value.kind;
    const meta = value.metadata;
    if (typeof kind !== 'string' || kind === '') {
      out.problems.push({ ...where, message: 'missing kind' });
      return;
    }
    if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') {
      out.problems.push({ ...where, message: `${kind} without metadata.name` });
      return;
    }
    if (!Object.hasOwn(API_VERSIONS, kind)) {
      out.ignored++;
      return;
    }
    const apiKind = kind as ApiKind;
    if (value.apiVersion !== undefined && value.apiVersion !== API_VERSIONS[apiKind]) {
      out.ignored++; // e.g. serving.knative.dev/v1 Service: not ours
      return;
    }
    if (meta.namespace !== undefined && typeof meta.namespace !== 'string') {
      out.problems.push({ ...where, message: `${kind} ${meta.name}: metadata.namespace is not a string` });
      return;
    }
    const metadata = { ...meta };
    // As `kubectl apply` would: namespaced kinds default to "default"; a Node has no namespace.
    if (apiKind === 'Node') delete metadata.namespace;
    else metadata.namespace = (meta.namespace as string | undefined) || 'default';
    const typed = clusterObject(apiKind, { ...value, apiVersion: API_VERSIONS[apiKind], kind: apiKind, metadata });
    if (!isProxied(typed)) {
      out.ignored++;
      return;
    }
    const key = manifestKey(apiKind, (metadata.namespace as string | undefined) ?? '', meta.name);
    const object: ManifestObject = { ...typed, key };
    const prev = seen.get(key);
    if (prev !== undefined) {
      out.duplicates.push(key);
      out.objects[prev] = object;
      return;
    }
    seen.set(key, out.objects.length);
    out.objects.push(object);
  };

  for (const [i, doc] of docs.entries()) {
    if (doc === undefined || doc === null) continue; // empty document, e.g. a trailing `---`
    if (isRecord(doc) && typeof doc.kind === 'string' && doc.kind.endsWith('List') && Array.isArray(doc.items)) {
      for (const [j, item] of doc.items.entries()) add(item, i, j);
    } else {
      add(doc, i);
    }
  }
  return out;
}
