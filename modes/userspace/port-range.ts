/**
 * port-range.ts: --proxy-port-range, kube-proxy's syntax: "" (the kernel chooses), "from-to",
 * "from+count" or a single port. Pure.
 */
import { ConfigError } from '../../src/util/errors.js';

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** parsePortRange returns undefined for "" (kernel's choice); bad input is a ConfigError naming the flag. */
export function parsePortRange(text: string): PortRange | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  const m = /^(\d+)(?:([-+])(\d+))?$/.exec(s);
  if (!m) throw new ConfigError(`--proxy-port-range: ${JSON.stringify(text)} is not "from-to", "from+count" or a port`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[2] === '-' ? Number(m[3]) : min + Number(m[3]) - 1;
  if (min < 1 || max > 65535 || max < min) throw new ConfigError(`--proxy-port-range: ${JSON.stringify(text)} is outside 1-65535 or empty`);
  return { min, max };
}

/**
 * PortAllocator hands out ports of the range in rotation, skipping the ones kpx holds. A port another
 * process holds is found at bind time (EADDRINUSE) and the caller asks again.
 */
export class PortAllocator {
  readonly #range: PortRange;
  readonly #used = new Set<number>();
  #next: number;

  constructor(range: PortRange) {
    this.#range = range;
    this.#next = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
  }

  get size(): number {
    return this.#range.max - this.#range.min + 1;
  }

  /** A free port, or undefined when the whole range is held. */
  allocate(): number | undefined {
    for (let i = 0; i < this.size; i++) {
      const p = this.#next;
      this.#next = p >= this.#range.max ? this.#range.min : p + 1;
      if (!this.#used.has(p)) {
        this.#used.add(p);
        return p;
      }
    }
    return undefined;
  }

  release(port: number): void {
    this.#used.delete(port);
  }
}
