/**
 * ip-match.ts: the address and port tests the tracer needs, for IPv4 and IPv6 alike (addresses as
 * bigint so one CIDR check serves both families). Pure; bad input answers "no match", never throws.
 */
import { isIP } from 'node:net';

interface ParsedIP {
  readonly family: 4 | 6;
  readonly value: bigint;
}

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hextets.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** Parses an address (IPv6 may be bracketed); undefined when it is not one. */
export function parseIP(s: string): ParsedIP | undefined {
  const text = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const fam = isIP(text);
  if (fam === 4) {
    const v = parseIPv4(text);
    return v === undefined ? undefined : { family: 4, value: v };
  }
  if (fam === 6) {
    const v = parseIPv6(text);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  return undefined;
}

/** True when ip is inside `spec`: an address, a CIDR (`a/len`), or an address with a dotted mask. */
export function addressInSpec(ip: string, spec: string): boolean {
  const addr = parseIP(ip);
  if (!addr) return false;
  const slash = spec.indexOf('/');
  const base = parseIP(slash >= 0 ? spec.slice(0, slash) : spec);
  if (!base || base.family !== addr.family) return false;
  const bits = addr.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const m = spec.slice(slash + 1);
    if (/^\d+$/.test(m)) prefix = Number(m);
    else {
      const mask = parseIP(m);
      if (!mask || mask.family !== addr.family) return false;
      const all = (1n << BigInt(bits)) - 1n;
      return (addr.value & mask.value & all) === (base.value & mask.value & all);
    }
  }
  if (prefix < 0 || prefix > bits) return false;
  const shift = BigInt(bits - prefix);
  return addr.value >> shift === base.value >> shift;
}

/** True when the two strings name the same address (so "10.0.0.1" equals "10.0.0.1/32" hosts). */
export function sameIP(a: string, b: string): boolean {
  const x = parseIP(a);
  const y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.value === y.value;
}

/** Loopback: 127.0.0.0/8 or ::1. */
export function isLoopback(ip: string): boolean {
  return addressInSpec(ip, '127.0.0.0/8') || addressInSpec(ip, '::1/128');
}

/**
 * Matches a port against iptables' port syntax: `80`, a range `1000:2000` (open ends allowed), or a
 * multiport comma list of either.
 */
export function portInSpec(port: number, spec: string): boolean {
  for (const part of spec.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      if (Number(part) === port) return true;
      continue;
    }
    const lo = part.slice(0, colon) === '' ? 0 : Number(part.slice(0, colon));
    const hi = part.slice(colon + 1) === '' ? 65535 : Number(part.slice(colon + 1));
    if (port >= lo && port <= hi) return true;
  }
  return false;
}

/** Splits "ip:port" / "[ip6]:port" / "ip" into its parts (a DNAT --to-destination value). */
export function splitHostPort(s: string): { host: string; port?: string } {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return { host: s };
    const host = s.slice(1, end);
    const rest = s.slice(end + 1);
    return rest.startsWith(':') ? { host, port: rest.slice(1) } : { host };
  }
  const colons = s.split(':').length - 1;
  if (colons === 1) {
    const i = s.indexOf(':');
    return { host: s.slice(0, i), port: s.slice(i + 1) };
  }
  return { host: s }; // bare IPv4, or bare IPv6 without brackets
}

/** Formats "ip:port" with brackets for IPv6. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
