/**
 * write-config.ts: the effective configuration as a KubeProxyConfiguration YAML document (--write-config-to),
 * durations in Go's form, so kube-proxy and `kpx --config` both read it back. Flag-only settings (--master,
 * --manifests, --dry-run, --cleanup) have no field in that format and are not written.
 */
import { stringify } from 'yaml';
import type { KpxConfig } from './types.js';
import { FIELDS, defaultValue, formatValue, getValue, isZero } from './fields.js';
import type { Value } from './fields.js';
import { formatDuration } from './duration.js';
import { CONFIG_API_VERSION, CONFIG_KIND } from './config-file.js';

export interface RenderedConfig {
  readonly text: string;
  /** Settings the format cannot express (a zero value there means "the default"), one line each. */
  readonly warnings: string[];
}

function sameValue(a: Value, b: Value): boolean {
  return Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
}

export function renderConfigFile(config: KpxConfig): RenderedConfig {
  const warnings: string[] = [];
  const doc: Record<string, unknown> = { apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND };
  const fields = FIELDS.filter((f) => f.file).sort((a, b) => a.file!.localeCompare(b.file!));
  for (const spec of fields) {
    const value = getValue(config, spec);
    const def = defaultValue(spec);
    if (spec.write === 'nonDefault' && sameValue(value, def)) continue;
    if (spec.zeroMeansDefault && isZero(value) && !sameValue(value, def)) {
      warnings.push(`${spec.file} ${formatValue(spec, value) || '""'} cannot be expressed in a ${CONFIG_KIND}: ` +
        `a zero value there means the default (${formatValue(spec, def)})`);
    }
    let out: unknown;
    if (spec.toFile) out = spec.toFile(value);
    else switch (spec.kind) {
      case 'duration':
        out = formatDuration(value as number);
        break;
      case 'csv':
        out = (value as string[]).join(',');
        break;
      case 'list':
        out = [...(value as string[])];
        break;
      default:
        out = value;
    }
    const parts = spec.file!.split('.');
    let node = doc;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = out;
  }
  return { text: stringify(doc, { lineWidth: 0 }), warnings };
}
