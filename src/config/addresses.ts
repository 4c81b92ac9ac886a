/**
 * addresses.ts: the address syntaxes kube-proxy's flags and configuration accept (IPs, CIDRs, "IP:port",
 * port ranges). Each check returns a short reason phrase, or undefined when the text is valid, so callers can
 * build one line that names the flag or field.
 */
import { joinHostPort, parseCIDR, parseIP, type IPFamily } from '../util/ip.js';

export type Family = 4 | 6;

const FAMILY_NUMBER: Readonly<Record<IPFamily, Family>> = { IPv4: 4, IPv6: 6 };

/**
 * ipFamily: 4 or 6 for a plain IP read strictly (src/util/ip.ts: no zone, brackets, spaces or leading zeros,
 * which Node's sockets could read differently), undefined otherwise.
 */
export function ipFamily(text: string): Family | undefined {
  const p = parseIP(text, 'strict');
  return p ? FAMILY_NUMBER[p.family] : undefined;
}

export function checkIP(text: string): string | undefined {
  return ipFamily(text) ? undefined : 'not a valid IP address';
}

/** cidrFamily: 4 or 6 for "IP/prefix" (the IP read as ipFamily does) with an in-range prefix, undefined otherwise. */
export function cidrFamily(text: string): Family | undefined {
  const p = parseCIDR(text, 'strict');
  return p ? FAMILY_NUMBER[p.family] : undefined;
}

/** checkCIDRList: every entry a CIDR. */
export function checkCIDRList(list: readonly string[]): string | undefined {
  for (const c of list) if (!cidrFamily(c)) return `"${c}" is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/64)`;
  return undefined;
}

/** checkClusterCIDRs: valid CIDRs, at most one per IP family (kube-proxy's dual-stack rule). */
export function checkClusterCIDRs(list: readonly string[]): string | undefined {
  const bad = checkCIDRList(list);
  if (bad) return bad;
  if (list.length > 2) return 'at most two CIDRs, one per IP family (e.g. 10.100.0.0/16,fd00:10:100::/48)';
  if (list.length === 2 && cidrFamily(list[0]) === cidrFamily(list[1])) {
    return 'two CIDRs must be one IPv4 and one IPv6 (e.g. 10.100.0.0/16,fd00:10:100::/48)';
  }
  return undefined;
}

/** checkNodePortAddresses: CIDRs or the keyword "primary" (the node's primary IPs). */
export function checkNodePortAddresses(list: readonly string[]): string | undefined {
  for (const c of list) {
    if (c === 'primary') continue;
    if (!cidrFamily(c)) return `"${c}" is neither a CIDR nor "primary"`;
  }
  return undefined;
}

export interface HostPort {
  host: string;
  port: number;
}

/** splitHostPort: "1.2.3.4:80", "[::1]:80" (Go's net.SplitHostPort form). Throws with a reason phrase. */
export function splitHostPort(text: string): HostPort {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') throw new Error('must be IP:port (IPv6 as [IP]:port)');
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new Error('must be IP:port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new Error('must be IP:port (IPv6 as [IP]:port)');
  }
  if (!ipFamily(host)) throw new Error(`"${host}" is not a valid IP address`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new Error(`"${portText}" is not a valid port`);
  return { host, port: Number(portText) };
}

/**
 * checkBindAddress: "IP:port" for the healthz and metrics servers. Port 0 is accepted (the kernel picks a free
 * port; tests use it), "" means the server is disabled.
 */
export function checkBindAddress(text: string): string | undefined {
  if (text === '') return undefined;
  try {
    splitHostPort(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** appendPortIfNeeded: a bare IP gets the default port, as kube-proxy does for healthz/metrics addresses. */
export function appendPortIfNeeded(text: string, port: number): string {
  if (ipFamily(text)) return joinHostPort(text, port);
  if (text.startsWith('[') && text.endsWith(']') && ipFamily(text.slice(1, -1)) === 6) return `${text}:${port}`;
  return text;
}

export interface PortRange {
  base: number;
  size: number;
}

/**
 * parsePortRange: kube-proxy's --proxy-port-range syntax: "" (kernel's choice), "N", "N-M" or "N+K", ports
 * within [0, 65535]. Returns undefined for "" and throws with a reason phrase when invalid.
 */
export function parsePortRange(text: string): PortRange | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const reason = 'must be a port range: "from-to", "from+count" or a single port (e.g. 30000-32767)';
  const m = /^(\d{1,5})(?:([-+])(\d{1,5}))?$/.exec(t);
  if (!m) throw new Error(reason);
  const low = Number(m[1]);
  if (low > 65535) throw new Error(reason);
  if (m[2] === undefined) return { base: low, size: 1 };
  const n = Number(m[3]);
  const high = m[2] === '-' ? n : low + n;
  if (high > 65535 || high < low) throw new Error(reason);
  return { base: low, size: high - low + 1 };
}

export function checkPortRange(text: string): string | undefined {
  try {
    parsePortRange(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
