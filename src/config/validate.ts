/**
 * validate.ts: the checks that involve more than one setting (a single value is checked where it is read, in
 * load.ts and config-file.ts). Each problem names the setting to fix and where it came from, because the two
 * values may come from different places (one from the file, one from a flag).
 */
import type { KpxConfig } from './types.js';
import { FIELDS, formatValue, getValue } from './fields.js';
import type { FieldSpec } from './fields.js';
import { invalidValue } from './problems.js';

/** Origins: field id → where its value came from (`--iptables-sync-period`, `iptables.syncPeriod in FILE`). */
export type Origins = ReadonlyMap<string, string>;

const byId = new Map(FIELDS.map((f) => [f.id, f] as const));

function spec(id: string): FieldSpec {
  const s = byId.get(id);
  if (!s) throw new Error(`validate: unknown field id ${id}`);
  return s;
}

/** whereOf: the name to show for a setting: where it was set, or its flag / field when it is the default. */
export function whereOf(id: string, origins: Origins): string {
  const o = origins.get(id);
  if (o) return o;
  const s = spec(id);
  return s.flag ? `the default of --${s.flag}` : `the default of ${s.file}`;
}

export function validateConfig(config: KpxConfig, origins: Origins): string[] {
  const problems: string[] = [];
  const show = (id: string) => formatValue(spec(id), getValue(config, spec(id)));

  for (const [minId, maxId] of [
    ['iptables.minSyncPeriod', 'iptables.syncPeriod'],
    ['ipvs.minSyncPeriod', 'ipvs.syncPeriod'],
  ] as const) {
    const min = getValue(config, spec(minId)) as number;
    const max = getValue(config, spec(maxId)) as number;
    if (min > max) {
      problems.push(invalidValue(show(minId), whereOf(minId, origins),
        `must not be greater than the sync period ${show(maxId)} (${whereOf(maxId, origins)})`));
    }
  }

  if (config.detectLocalMode === 'BridgeInterface' && config.detectLocal.bridgeInterface === '') {
    problems.push(invalidValue(config.detectLocalMode, whereOf('detectLocalMode', origins),
      'needs a bridge interface name (--pod-bridge-interface or detectLocal.bridgeInterface)'));
  }
  if (config.detectLocalMode === 'InterfaceNamePrefix' && config.detectLocal.interfaceNamePrefix === '') {
    problems.push(invalidValue(config.detectLocalMode, whereOf('detectLocalMode', origins),
      'needs an interface name prefix (--pod-interface-name-prefix or detectLocal.interfaceNamePrefix)'));
  }
  // component-base: vmodule "Only supported for text log format".
  if (config.logging.vmodule !== '' && config.logging.format !== 'text') {
    problems.push(invalidValue(config.logging.vmodule, whereOf('logging.vmodule', origins), 'only supported for the text log format'));
  }
  return problems;
}
