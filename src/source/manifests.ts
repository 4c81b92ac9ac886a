/**
 * manifests.ts: the cluster-state source backed by a directory of YAML/JSON manifests (`--manifests DIR`),
 * kpx's embedded default: it runs, and its demo and tests run, without a cluster.
 *
 * Every *.yaml, *.yml and *.json file directly in the directory is read (hidden files are skipped, so a
 * ConfigMap volume's `..data` machinery is not read twice; symlinks are followed). The directory is
 * watched with fs.watch, with a periodic rescan behind it because fs.watch misses events on some
 * filesystems; both are debounced. The objects of files that changed are delivered as upserts and vanished
 * ones as removes, keyed by kind/namespace/name; an object re-read unchanged is delivered again and the
 * change trackers drop it (src/sync/object-equality.ts), as they drop the kube source's relisted objects,
 * so that comparison is made in one place.
 *
 * A file that cannot be used (bad YAML or JSON, an object without kind or name) is reported with a
 * warning naming it and the document, and skipped. If it held valid objects before, they are KEPT until
 * the file is valid again or deleted: a typo while editing must never tear services down. The same key
 * in two files: the later file (by name) wins, with a warning.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiKind } from '../model/api.js';
import type { Logger } from '../util/log.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { parseManifestText, type ManifestObject, type ManifestProblem } from './manifest-parse.js';
import type { ClusterObject, ClusterSource, SourceHandler } from './types.js';

export interface ManifestsSourceOptions {
  /** Quiet time after a change event before the directory is read. Default 100 ms. */
  debounceMs?: number;
  /** Interval of the fallback rescan. Default 2000 ms; 0 disables it. */
  rescanMs?: number;
}

const KINDS: readonly ApiKind[] = ['Service', 'EndpointSlice', 'Node'];

interface FileState {
  /** stat signature of what was last read; an unchanged signature skips reading. */
  signature: string;
  /** Digest of the text last read: a touched but unchanged file is not parsed again. */
  contentDigest: string;
  /** The objects of the last valid version of this file (empty if it never was valid). */
  good: Map<string, ManifestObject>;
  broken: boolean;
}

/** A digest rather than the text itself: file texts are kept only to be compared. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

function isManifestName(name: string): boolean {
  return !name.startsWith('.') && /\.(ya?ml|json)$/i.test(name);
}

function describeProblem(p: ManifestProblem): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (p.document !== undefined) fields.document = p.document;
  if (p.item !== undefined) fields.item = p.item;
  fields.error = p.message;
  return fields;
}

export function createManifestsSource(dir: string, log: Logger, opts: ManifestsSourceOptions = {}): ClusterSource {
  const debounceMs = opts.debounceMs ?? 100;
  const rescanMs = opts.rescanMs ?? 2000;
  const slog = log.child({ source: 'manifests', dir });
  const files = new Map<string, FileState>();
  /** What the handler was last given, per key: removes hand over the last known object. */
  const delivered = new Map<string, ClusterObject>();
  let handler: SourceHandler | undefined;
  let watcher: FSWatcher | undefined;
  let debounceTimer: NodeJS.Timeout | undefined;
  let rescanTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let dirError: string | undefined;

  const call = (fn: () => void, what: string) => {
    try {
      fn();
    } catch (err) {
      slog.error('source handler threw', { op: what, error: errorMessage(err) });
    }
  };

  /** readOne returns the new state of one file, reusing the old one when nothing changed. */
  async function readOne(name: string, prev: FileState | undefined): Promise<FileState | undefined> {
    const path = join(dir, name);
    let signature: string;
    try {
      const st = await stat(path);
      if (!st.isFile()) return undefined;
      signature = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // vanished meanwhile
      slog.warn('cannot read manifest file; keeping its last valid objects', { file: name, error: errorMessage(err) });
      return { signature: '', contentDigest: '', good: prev?.good ?? new Map(), broken: true };
    }
    if (prev && prev.signature === signature) return prev;
    let content: string;
    try {
      content = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      slog.warn('cannot read manifest file; keeping its last valid objects', { file: name, error: errorMessage(err) });
      // Remember the signature so the same failure is not reported again on every rescan.
      return { signature, contentDigest: '', good: prev?.good ?? new Map(), broken: true };
    }
    const contentDigest = digest(content);
    if (prev && prev.contentDigest === contentDigest) return { ...prev, signature };

    const parsed = parseManifestText(content, name);
    if (parsed.problems.length > 0) {
      const kept = prev?.good.size ?? 0;
      for (const p of parsed.problems) {
        slog.warn(kept > 0 ? 'invalid manifest file skipped; keeping its last valid objects' : 'invalid manifest file skipped',
          { file: name, ...describeProblem(p), kept });
      }
      return { signature, contentDigest, good: prev?.good ?? new Map(), broken: true };
    }
    for (const key of parsed.duplicates) slog.warn('object defined twice in one file; the later one wins', { file: name, object: key });
    if (prev?.broken) slog.info('manifest file is valid again', { file: name });
    slog.v(2).info('manifest file read', { file: name, objects: parsed.objects.length, ignored: parsed.ignored });
    return { signature, contentDigest, good: new Map(parsed.objects.map((o) => [o.key, o])), broken: false };
  }

  async function scanOnce(first: boolean): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter(isManifestName).sort();
    } catch (err) {
      if (first) throw new ConfigError(`--manifests ${dir}: ${errorMessage(err)}`);
      // The directory went away or became unreadable: keep everything, as for a broken file.
      const msg = errorMessage(err);
      if (dirError !== msg) slog.warn('cannot read the manifests directory; keeping the known objects', { error: msg });
      dirError = msg;
      return;
    }
    if (dirError !== undefined) {
      slog.info('manifests directory readable again');
      dirError = undefined;
      // A watcher on a directory that was removed and re-created watches nothing: start a fresh one.
      watcher?.close();
      watcher = undefined;
      ensureWatcher();
    }

    const present = new Set<string>();
    let changed = first;
    for (const name of names) {
      const prev = files.get(name);
      const next = await readOne(name, prev);
      if (next === undefined) {
        if (files.delete(name)) changed = true;
        continue;
      }
      changed ||= next.good !== prev?.good;
      files.set(name, next);
      present.add(name);
    }
    for (const name of [...files.keys()]) {
      if (!present.has(name) && files.delete(name)) changed = true;
    }
    // Nothing new to apply (the usual periodic rescan): skip the merge, and its warnings.
    if (stopped || !changed) return;

    // Desired state: all files merged in name order, a later file overriding an earlier one.
    const desired = new Map<string, { file: string; object: ManifestObject }>();
    for (const name of [...files.keys()].sort()) {
      for (const o of files.get(name)!.good.values()) {
        const prev = desired.get(o.key);
        if (prev && prev.file !== name) {
          slog.warn('object defined in two files; the later file wins', { object: o.key, files: [prev.file, name] });
        }
        desired.set(o.key, { file: name, object: o });
      }
    }

    const h = handler!;
    for (const [key, o] of desired) {
      // The very object delivered: its file was not read again, so nothing in it changed.
      if (delivered.get(key)?.obj === o.object.obj) continue;
      delivered.set(key, o.object);
      call(() => h.upsert(o.object), 'upsert');
    }
    for (const [key, d] of [...delivered]) {
      if (desired.has(key)) continue;
      delivered.delete(key);
      call(() => h.remove(d), 'remove');
    }
  }

  /** scan runs one scan at a time; a request during a scan runs another right after it. */
  function scan(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await scanOnce(false);
        } while (again && !stopped);
      } catch (err) {
        slog.error('manifests scan failed', { error: errorMessage(err) });
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(() => {
      debounceTimer = undefined;
      void scan();
    }, debounceMs);
  }

  function ensureWatcher(): void {
    if (watcher || stopped) return;
    try {
      watcher = watch(dir, { persistent: true }, () => schedule());
      watcher.on('error', (err) => {
        slog.warn('watching the manifests directory failed; relying on the periodic rescan', { error: errorMessage(err) });
        watcher?.close();
        watcher = undefined;
      });
    } catch (err) {
      slog.warn('cannot watch the manifests directory; relying on the periodic rescan', { error: errorMessage(err) });
    }
  }

  return {
    name: 'manifests',
    async start(h: SourceHandler): Promise<void> {
      if (handler) throw new Error('manifests source already started');
      handler = h;
      stopped = false;
      try {
        await scanOnce(true); // throws ConfigError if the directory cannot be read at all
      } catch (err) {
        handler = undefined;
        throw err;
      }
      for (const kind of KINDS) call(() => h.synced(kind), 'synced');
      const counts = Object.fromEntries(KINDS.map((k) => [k, [...delivered.values()].filter((d) => d.kind === k).length]));
      slog.info('manifests loaded', { files: files.size, ...counts });
      ensureWatcher();
      if (rescanMs > 0) {
        rescanTimer = setInterval(() => {
          ensureWatcher();
          void scan();
        }, rescanMs);
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(debounceTimer);
      clearInterval(rescanTimer);
      watcher?.close();
      watcher = undefined;
      await running;
    },
  };
}
