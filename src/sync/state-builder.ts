/**
 * state-builder.ts: the sync loop's ProxyStateBuilder: the model's incremental StateAssembler
 * (src/model/state-builder.ts) reading the cluster cache, reporting through the proxy's logger. A model
 * error on one object skips that service (logged) instead of stopping the proxy.
 */
import { StateAssembler, type StateAssemblyOptions } from '../model/state-builder.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';

export type { BuildStats } from '../model/state-builder.js';

export interface StateBuilderOptions extends Omit<StateAssemblyOptions, 'warn' | 'serviceFailed'> {
  readonly log: Logger;
}

/** Built on the cluster cache, a ClusterView, which is the model's StateView. */
export class ProxyStateBuilder extends StateAssembler {
  constructor(opts: StateBuilderOptions) {
    const { log, ...rest } = opts;
    super({
      ...rest,
      warn: (family, msg, fields) => log.warn(msg, { family, ...fields }),
      serviceFailed: (service, family, err) => log.error('could not compute service ports; service skipped', { service, family, error: errorMessage(err) }),
    });
  }
}
