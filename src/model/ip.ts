/**
 * ip.ts: parsing and normalising IP addresses and CIDRs the way kube-proxy does (Go's ParseIPSloppy and
 * ParseCIDRSloppy), so the same input gives the same rules.
 *
 * "Sloppy" means IPv4 parts with leading zeros are read as decimal: `010.0.0.1` is 10.0.0.1 (the API
 * accepted such values before 1.20, and kube-proxy's TestBadIPs still pins the normalisation). Output is
 * Go's net.IP.String(): dotted decimal for IPv4 (including IPv4-mapped IPv6, which Go treats as IPv4) and
 * RFC 5952 text for IPv6.
 */
import { show } from './show.js';
import type { IPFamily } from './types.js';

export interface ParsedIP {
  readonly family: IPFamily;
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
  /** Canonical text. */
  readonly text: string;
}

export interface ParsedCIDR {
  readonly family: IPFamily;
  /** The network address (host bits cleared), 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text of the network: "10.0.0.0/8". */
  readonly text: string;
}

const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4Bytes(s: string): Uint8Array | null {
  // A hand-rolled scan: this runs for every ClusterIP and endpoint address, tens of thousands per sync.
  const out = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
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

function parseIPv6Bytes(s: string): Uint8Array | null {
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
        const v4 = parseIPv4Bytes(g);
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

/** Parses an IP address sloppily (leading zeros allowed); null when it is not an IP. */
export function parseIP(input: string | undefined | null): ParsedIP | null {
  if (typeof input !== 'string') return null;
  const s = input.trim();
  if (s === '') return null;
  if (s.includes(':')) {
    const b = parseIPv6Bytes(s);
    if (!b) return null;
    if (isV4Mapped(b)) {
      const v4 = b.slice(12);
      return { family: 'IPv4', bytes: v4, text: formatIPv4(v4) };
    }
    return { family: 'IPv6', bytes: b, text: formatIPv6(b) };
  }
  const b = parseIPv4Bytes(s);
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

/** Parses "ip/prefix" sloppily; the result is the network (host bits cleared), like Go's ParseCIDR. */
export function parseCIDR(input: string | undefined | null): ParsedCIDR | null {
  if (typeof input !== 'string') return null;
  const s = input.trim();
  const slash = s.indexOf('/');
  if (slash <= 0) return null;
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!DIGITS.test(bits) || bits.length > 3) return null;
  const prefix = Number(bits);
  let family: IPFamily;
  let bytes: Uint8Array | null;
  if (addr.includes(':')) {
    bytes = parseIPv6Bytes(addr);
    // An IPv4-mapped network is ambiguous between families; the API rejects it, so do we.
    if (!bytes || isV4Mapped(bytes)) return null;
    family = 'IPv6';
  } else {
    bytes = parseIPv4Bytes(addr);
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
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    const mask = bitsHere === 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
    out[i] = bytes[i] & mask;
  }
  return out;
}

/** Whether the CIDR contains the IP (false across families). Accepts parsed values or strings. */
export function cidrContains(cidr: ParsedCIDR | string, ip: ParsedIP | string): boolean {
  const c = typeof cidr === 'string' ? parseCIDR(cidr) : cidr;
  const a = typeof ip === 'string' ? parseIP(ip) : ip;
  if (!c || !a || c.family !== a.family) return false;
  const masked = maskBytes(a.bytes, c.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== c.bytes[i]) return false;
  return true;
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

/** "ip:port", with brackets for IPv6: kube-proxy's net.JoinHostPort, used as endpoint keys. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface FamilySplit<T> {
  readonly IPv4: T[];
  readonly IPv6: T[];
  /** Inputs that did not parse, as given. */
  readonly invalid: string[];
}

/** Splits IP strings by family, normalised and de-duplicated (first occurrence kept). */
export function splitIPsByFamily(ips: readonly unknown[] | undefined): FamilySplit<string> {
  const out: FamilySplit<string> = { IPv4: [], IPv6: [], invalid: [] };
  if (!Array.isArray(ips)) return out;
  const seen = new Set<string>();
  for (const raw of ips) {
    const p = typeof raw === 'string' ? parseIP(raw) : null;
    if (!p) { out.invalid.push(show(raw)); continue; }
    if (seen.has(p.text)) continue;
    seen.add(p.text);
    out[p.family].push(p.text);
  }
  return out;
}

/** Splits CIDR strings by family, normalised to their networks and de-duplicated. */
export function splitCIDRsByFamily(cidrs: readonly unknown[] | undefined): FamilySplit<string> {
  const out: FamilySplit<string> = { IPv4: [], IPv6: [], invalid: [] };
  if (!Array.isArray(cidrs)) return out;
  const seen = new Set<string>();
  for (const raw of cidrs) {
    const p = typeof raw === 'string' ? parseCIDR(raw) : null;
    if (!p) { out.invalid.push(show(raw)); continue; }
    if (seen.has(p.text)) continue;
    seen.add(p.text);
    out[p.family].push(p.text);
  }
  return out;
}
