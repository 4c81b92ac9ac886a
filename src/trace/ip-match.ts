/**
 * ip-match.ts: the address and port tests the tracer needs, for IPv4 and IPv6 alike. Addresses are read
 * strictly (src/util/ip.ts), as the kernel sees a packet: `::ffff:10.0.0.1` is IPv6 and matches no IPv4 rule.
 * Pure; bad input answers "no match", never throws.
 */
import {
  isLoopbackIP, parseIP, samePrefix, sameUnderMask, withoutZone, type ParsedIP,
} from '../util/ip.js';

/** Parses an address as a packet carries it: strict, IPv6 optionally bracketed or with a zone; null if not one. */
export function parsePacketIP(s: string): ParsedIP | null {
  const text = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  return parseIP(withoutZone(text), 'strict');
}

/** True when ip is inside `spec`: an address, a CIDR (`a/len`), or an address with a dotted mask. */
export function addressInSpec(ip: string, spec: string): boolean {
  const addr = parsePacketIP(ip);
  if (!addr) return false;
  const slash = spec.indexOf('/');
  const base = parsePacketIP(slash >= 0 ? spec.slice(0, slash) : spec);
  if (!base) return false;
  if (slash < 0) return samePrefix(addr, base, addr.bytes.length * 8);
  const m = spec.slice(slash + 1);
  if (/^\d+$/.test(m)) return samePrefix(addr, base, Number(m));
  const mask = parsePacketIP(m);
  return !!mask && sameUnderMask(addr, base, mask);
}

/** True when the two strings name the same address, however written ("fd00::1" and "[fd00:0::1]"). */
export function sameIP(a: string, b: string): boolean {
  const x = parsePacketIP(a);
  const y = parsePacketIP(b);
  return !!x && !!y && samePrefix(x, y, x.bytes.length * 8);
}

/** Loopback: 127.0.0.0/8 or ::1. */
export function isLoopback(ip: string): boolean {
  const a = parsePacketIP(ip);
  return !!a && isLoopbackIP(a);
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
