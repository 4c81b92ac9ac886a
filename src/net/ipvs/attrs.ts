/**
 * attrs.ts: netlink attributes (struct nlattr: u16 length, u16 type, value, padding to 4 bytes). Pure
 * encode/decode, so the IPVS codec is tested on bytes without a kernel.
 */
import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants.js';

export interface Attr {
  readonly type: number;
  readonly nested: boolean;
  readonly value: Buffer;
}

const align4 = (n: number) => (n + 3) & ~3;

export function encodeAttr(type: number, value: Buffer, nested = false): Buffer {
  const len = 4 + value.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  value.copy(out, 4);
  return out;
}

export const u16 = (type: number, v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return encodeAttr(type, b); };
/** A port: network byte order in a u16 attribute, as the kernel stores it. */
export const be16 = (type: number, v: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return encodeAttr(type, b); };
export const u32 = (type: number, v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return encodeAttr(type, b); };
export const str = (type: number, v: string) => encodeAttr(type, Buffer.from(v + '\0', 'utf8'));
export const nest = (type: number, children: Buffer[]) => encodeAttr(type, Buffer.concat(children), true);

export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > buf.length) break; // truncated: stop rather than read garbage
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, value: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

/** The attributes by type (the last one wins, as in the kernel's nla_parse). */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of decodeAttrs(buf)) m.set(a.type, a.value);
  return m;
}

export const readU16 = (b: Buffer | undefined) => (b && b.length >= 2 ? b.readUInt16LE(0) : undefined);
export const readBe16 = (b: Buffer | undefined) => (b && b.length >= 2 ? b.readUInt16BE(0) : undefined);
export const readU32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
export const readStr = (b: Buffer | undefined) => (b ? b.toString('utf8').replace(/\0.*$/s, '') : undefined);
