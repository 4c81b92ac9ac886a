/** addr.ts: IP text ↔ the 16-byte union nf_inet_addr the IPVS ABI carries (IPv4 in its first 4 bytes). */
import net from 'node:net';

export function ipToInetAddr(ip: string): Buffer {
  const out = Buffer.alloc(16);
  if (net.isIPv4(ip)) {
    ip.split('.').forEach((o, i) => { out[i] = Number(o); });
    return out;
  }
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const b = v4tail[1].split('.').map(Number);
    text = text.slice(0, -v4tail[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function inetAddrToIp(buf: Buffer, family: 'IPv4' | 'IPv6'): string {
  if (family === 'IPv4') return `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(i * 2));
  // RFC 5952: compress the longest run (of 2 or more) of zero groups.
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
