/**
 * ip.ts: IP addresses and CIDRs for every layer (the model, configuration checks, the tracer, the modes):
 * parsing, canonical text, containment and host:port joining. A leaf: it imports nothing of kpx.
 *
 * Text is read one of two ways (IPSyntax):
 * - 'sloppy', the default, is Go's ParseIPSloppy and ParseCIDRSloppy, which kube-proxy applies to API
 *   objects, so the same input gives the same rules. IPv4 parts with leading zeros are read as decimal
 *   (`010.0.0.1` is 10.0.0.1: the API accepted such values before 1.20, and kube-proxy's TestBadIPs still pins
 *   the normalisation), surrounding spaces are ignored, and an IPv4-mapped IPv6 address is IPv4, as in Go.
 * - 'strict' is the text as Node's net.isIP and the kernel read it, for configuration values (handed to
 *   Node's sockets) and the tracer's packets (matched against ip6tables' view). No leading zeros (a resolver
 *   may read `010` as octal), no spaces, and `::ffff:a.b.c.d` is the IPv6 address it is written as.
 * Neither accepts a zone (`fe80::1%eth0`: not an IP to the API); withoutZone strips one where a caller allows it.
 *
 * Canonical text is Go's net.IP.String(): dotted decimal for IPv4 and RFC 5952 for IPv6 (an IPv4-mapped
 * address read strictly prints as `::ffff:a.b.c.d`, RFC 5952 section 5).
 */

export type IPFamily = 'IPv4' | 'IPv6';

/** How text is read: Go's sloppy API parsing, or Node's and the kernel's strict one (see the module comment). */
export type IPSyntax = 'sloppy' | 'strict';

/** An address or a network as bytes: what the matching helpers compare. */
export interface IPBytes {
  readonly family: IPFamily;
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

export interface ParsedIP extends IPBytes {
  /** Canonical text. */
  readonly text: string;
}

export interface ParsedCIDR extends IPBytes {
  /** The network address (host bits cleared). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text of the network: "10.0.0.0/8". */
  readonly text: string;
}

const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4Bytes(s: string, strict: boolean): Uint8Array | null {
  // A hand-rolled scan: this runs for every ClusterIP and endpoint address, tens of thousands per sync.
  const out = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (strict && digits === 1 && n === 0) return null; // a leading zero
      // Go's legacy parser reads any number of decimal digits (leading zeros included) up to 255.
      n = n * 10 + (c - 48);
      if (n > 255 || ++digits > 10) return null;
    } else if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return null;
      out[part++] = n;
      n = 0;
      digits = 0;
    } else {
      return null;
    }
  }
  if (digits === 0 || part !== 3) return null;
  out[3] = n;
  return out;
}

function parseIPv6Bytes(s: string, strict: boolean): Uint8Array | null {
  if (s.length < 2 || s.includes('%')) return null; // zones are not IPs to the API
  const out = new Uint8Array(16);
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4Bytes(g, strict);
        if (!v4) return null;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!HEX.test(g)) return null;
        words.push(parseInt(g, 16));
      }
    }
    return words;
  };
  const h = parseGroups(head);
  const t = parseGroups(tail);
  if (!h || !t) return null;
  // An embedded IPv4 is only allowed at the very end.
  if (dbl >= 0 && head.includes('.')) return null;
  const total = h.length + t.length;
  if (dbl >= 0 ? total > 7 : total !== 8) return null;
  const words = new Array<number>(8).fill(0);
  for (let i = 0; i < h.length; i++) words[i] = h[i];
  for (let i = 0; i < t.length; i++) words[8 - t.length + i] = t[i];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function formatIPv6(b: Uint8Array): string {
  if (isV4Mapped(b)) return `::ffff:${formatIPv4(b, 12)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[2 * i] << 8) | b[2 * i + 1]);
  // RFC 5952: compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return words.map((w) => w.toString(16)).join(':');
  const left = words.slice(0, bestStart).map((w) => w.toString(16)).join(':');
  const right = words.slice(bestStart + bestLen).map((w) => w.toString(16)).join(':');
  return `${left}::${right}`;
}

/** Parses an IP address (sloppily unless told otherwise); null when it is not an IP. */
export function parseIP(input: string | undefined | null, syntax: IPSyntax = 'sloppy'): ParsedIP | null {
  if (typeof input !== 'string') return null;
  const strict = syntax === 'strict';
  const s = strict ? input : input.trim();
  if (s === '') return null;
  if (s.includes(':')) {
    const b = parseIPv6Bytes(s, strict);
    if (!b) return null;
    if (!strict && isV4Mapped(b)) {
      const v4 = b.slice(12);
      return { family: 'IPv4', bytes: v4, text: formatIPv4(v4) };
    }
    return { family: 'IPv6', bytes: b, text: formatIPv6(b) };
  }
  const b = parseIPv4Bytes(s, strict);
  if (!b) return null;
  return { family: 'IPv4', bytes: b, text: formatIPv4(b) };
}

/** The canonical form of an IP ("010.0.0.1" → "10.0.0.1", "2001:DB8:0:0::1" → "2001:db8::1"), or null. */
export function normalizeIP(input: string | undefined | null): string | null {
  return parseIP(input)?.text ?? null;
}

/** The family of an IP string, or null when it is not an IP. */
export function ipFamilyOf(input: string | undefined | null): IPFamily | null {
  return parseIP(input)?.family ?? null;
}

/** Parses "ip/prefix" (sloppily unless told otherwise); the result is the network, like Go's ParseCIDR. */
export function parseCIDR(input: string | undefined | null, syntax: IPSyntax = 'sloppy'): ParsedCIDR | null {
  if (typeof input !== 'string') return null;
  const strict = syntax === 'strict';
  const s = strict ? input : input.trim();
  const slash = s.indexOf('/');
  if (slash <= 0) return null;
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!DIGITS.test(bits) || bits.length > 3) return null;
  const prefix = Number(bits);
  let family: IPFamily;
  let bytes: Uint8Array | null;
  if (addr.includes(':')) {
    bytes = parseIPv6Bytes(addr, strict);
    // Read sloppily, an IPv4-mapped network is ambiguous between families; the API rejects it, so do we.
    if (!bytes || (!strict && isV4Mapped(bytes))) return null;
    family = 'IPv6';
  } else {
    bytes = parseIPv4Bytes(addr, strict);
    family = 'IPv4';
  }
  if (!bytes) return null;
  const maxBits = bytes.length * 8;
  if (prefix > maxBits) return null;
  const net = maskBytes(bytes, prefix);
  const text = `${family === 'IPv4' ? formatIPv4(net) : formatIPv6(net)}/${prefix}`;
  return { family, bytes: net, prefix, text };
}

/** The canonical network form of a CIDR ("10.1.2.3/8" → "10.0.0.0/8"), or null. */
export function normalizeCIDR(input: string | undefined | null): string | null {
  return parseCIDR(input)?.text ?? null;
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] & prefixMaskByte(prefix, i);
  return out;
}

/** Byte i of a prefix-length netmask. */
function prefixMaskByte(prefix: number, i: number): number {
  const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
  return bitsHere === 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
}

/** Whether a and b are of one family and agree on their first `prefix` bits (false for a prefix out of range). */
export function samePrefix(a: IPBytes, b: IPBytes, prefix: number): boolean {
  if (a.family !== b.family || !Number.isInteger(prefix) || prefix < 0 || prefix > a.bytes.length * 8) return false;
  for (let i = 0; i < a.bytes.length; i++) {
    const mask = prefixMaskByte(prefix, i);
    if (mask === 0) break;
    if ((a.bytes[i] & mask) !== (b.bytes[i] & mask)) return false;
  }
  return true;
}

/** Whether a, b and mask are of one family and a and b agree on every bit the mask sets (`addr/255.255.0.0`). */
export function sameUnderMask(a: IPBytes, b: IPBytes, mask: IPBytes): boolean {
  if (a.family !== b.family || mask.family !== a.family) return false;
  for (let i = 0; i < a.bytes.length; i++) if ((a.bytes[i] ^ b.bytes[i]) & mask.bytes[i]) return false;
  return true;
}

/** Whether the CIDR contains the IP (false across families). Accepts parsed values or strings (read sloppily). */
export function cidrContains(cidr: ParsedCIDR | string, ip: ParsedIP | string): boolean {
  const c = typeof cidr === 'string' ? parseCIDR(cidr) : cidr;
  const a = typeof ip === 'string' ? parseIP(ip) : ip;
  return !!c && !!a && samePrefix(c, a, c.prefix);
}

/** 127.0.0.0/8 or ::1. */
export function isLoopbackIP(ip: ParsedIP | string): boolean {
  const a = typeof ip === 'string' ? parseIP(ip) : ip;
  if (!a) return false;
  if (a.family === 'IPv4') return a.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (a.bytes[i] !== 0) return false;
  return a.bytes[15] === 1;
}

/** fe80::/10: on every IPv6 interface, never a node address worth serving on. */
export function isLinkLocalIPv6(ip: ParsedIP): boolean {
  return ip.family === 'IPv6' && ip.bytes[0] === 0xfe && (ip.bytes[1] & 0xc0) === 0x80;
}

/** 0.0.0.0/0 or ::/0. */
export function isZeroCIDR(cidr: ParsedCIDR): boolean {
  return cidr.prefix === 0;
}

const ZONED = /^([^%]*:[^%]*)%[0-9a-zA-Z.:-]+$/;

/** "fe80::1%eth0" without its zone (an IPv6 scope, written as Node's net.isIP accepts it); other text unchanged. */
export function withoutZone(text: string): string {
  return ZONED.exec(text)?.[1] ?? text;
}

/** "ip:port", with brackets for IPv6: Go's net.JoinHostPort (kube-proxy's endpoint keys, bind addresses). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
