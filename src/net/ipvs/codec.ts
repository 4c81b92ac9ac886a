/**
 * codec.ts: IPVS virtual and real servers ↔ generic-netlink attributes. Pure; the byte layouts are tested
 * against messages captured from a real kernel (test/unit/ipvs/fixtures).
 */
import type { IPFamily, Protocol } from '../../model/types.js';
import { attrMap, be16, encodeAttr, nest, readBe16, readStr, readU16, readU32, str, u16, u32 } from './attrs.js';
import { inetAddrToIp, ipToInetAddr } from './addr.js';
import { AF_INET, AF_INET6, CmdAttr, DestAttr, InfoAttr, IPPROTO, SvcAttr } from './constants.js';
import { joinHostPort } from '../../util/ip.js';

export interface VirtualServerKey {
  readonly family: IPFamily;
  readonly protocol: Protocol;
  readonly address: string;
  readonly port: number;
}

export interface VirtualServer extends VirtualServerKey {
  readonly scheduler: string;
  /** ip_vs_service flags (SvcFlag). PERSISTENT for ClientIP affinity. */
  readonly flags: number;
  /** Persistence timeout in seconds (with PERSISTENT). */
  readonly timeout: number;
  /** 0xffffffff for IPv4, 128 for IPv6, as ipvsadm and kube-proxy send. */
  readonly netmask: number;
}

export interface RealServer {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** FwdMethod; kube-proxy always uses MASQ. */
  readonly fwdMethod: number;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  readonly activeConns: number;
  readonly inactiveConns: number;
  readonly persistConns: number;
}

export interface IpvsInfo {
  readonly version: string;
  readonly connTableSize: number;
}

const protoNumber = (p: Protocol) => IPPROTO[p];
function protoName(n: number | undefined): Protocol | undefined {
  return n === IPPROTO.TCP ? 'TCP' : n === IPPROTO.UDP ? 'UDP' : n === IPPROTO.SCTP ? 'SCTP' : undefined;
}
const afNumber = (f: IPFamily) => (f === 'IPv4' ? AF_INET : AF_INET6);
const afName = (n: number | undefined): IPFamily | undefined => (n === AF_INET ? 'IPv4' : n === AF_INET6 ? 'IPv6' : undefined);

export function defaultNetmask(family: IPFamily): number {
  return family === 'IPv4' ? 0xffffffff : 128;
}

/** The attributes identifying a service (enough for SET/DEL and as the parent of a destination). */
function serviceKeyAttrs(vs: VirtualServerKey): Buffer[] {
  return [u16(SvcAttr.AF, afNumber(vs.family)), u16(SvcAttr.PROTOCOL, protoNumber(vs.protocol)),
    encodeAttr(SvcAttr.ADDR, ipToInetAddr(vs.address)),
    be16(SvcAttr.PORT, vs.port)];
}

/** IPVS_CMD_ATTR_SERVICE for a key only. */
export function encodeServiceKey(vs: VirtualServerKey): Buffer {
  return nest(CmdAttr.SERVICE, serviceKeyAttrs(vs));
}

/** IPVS_CMD_ATTR_SERVICE with every field NEW_SERVICE/SET_SERVICE require. */
export function encodeService(vs: VirtualServer): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(vs.flags >>> 0, 0);
  flags.writeUInt32LE(0xffffffff, 4); // mask: every flag is set or cleared as given
  return nest(CmdAttr.SERVICE, [
    ...serviceKeyAttrs(vs),
    str(SvcAttr.SCHED_NAME, vs.scheduler),
    encodeAttr(SvcAttr.FLAGS, flags),
    u32(SvcAttr.TIMEOUT, vs.timeout),
    u32(SvcAttr.NETMASK, vs.netmask),
  ]);
}

/** Decodes the nested IPVS_CMD_ATTR_SERVICE payload; undefined for what kpx cannot represent (fwmark services). */
export function decodeService(payload: Buffer): VirtualServer | undefined {
  const a = attrMap(payload);
  const family = afName(readU16(a.get(SvcAttr.AF)));
  const protocol = protoName(readU16(a.get(SvcAttr.PROTOCOL)));
  const addr = a.get(SvcAttr.ADDR);
  if (!family || !protocol || !addr) return undefined;
  const flagsBuf = a.get(SvcAttr.FLAGS);
  return {
    family,
    protocol,
    address: inetAddrToIp(addr, family),
    port: readBe16(a.get(SvcAttr.PORT)) ?? 0,
    scheduler: readStr(a.get(SvcAttr.SCHED_NAME)) ?? '',
    // HASHED is kernel bookkeeping, not configuration.
    flags: (flagsBuf ? flagsBuf.readUInt32LE(0) : 0) & ~0x2,
    timeout: readU32(a.get(SvcAttr.TIMEOUT)) ?? 0,
    netmask: readU32(a.get(SvcAttr.NETMASK)) ?? defaultNetmask(family),
  };
}

/** IPVS_CMD_ATTR_DEST with every field NEW_DEST/SET_DEST require. */
export function encodeDest(rs: Pick<RealServer, 'address' | 'port' | 'weight' | 'fwdMethod' | 'upperThreshold' | 'lowerThreshold'>, family: IPFamily): Buffer {
  return nest(CmdAttr.DEST, [
    encodeAttr(DestAttr.ADDR, ipToInetAddr(rs.address)),
    be16(DestAttr.PORT, rs.port),
    u32(DestAttr.FWD_METHOD, rs.fwdMethod),
    u32(DestAttr.WEIGHT, rs.weight),
    u32(DestAttr.U_THRESH, rs.upperThreshold),
    u32(DestAttr.L_THRESH, rs.lowerThreshold),
    u16(DestAttr.ADDR_FAMILY, afNumber(family)),
  ]);
}

/** IPVS_CMD_ATTR_DEST identifying a destination (DEL_DEST). */
export function encodeDestKey(rs: Pick<RealServer, 'address' | 'port'>, family: IPFamily): Buffer {
  return nest(CmdAttr.DEST, [
    encodeAttr(DestAttr.ADDR, ipToInetAddr(rs.address)),
    be16(DestAttr.PORT, rs.port),
    u16(DestAttr.ADDR_FAMILY, afNumber(family)),
  ]);
}

export function decodeDest(payload: Buffer, serviceFamily: IPFamily): RealServer | undefined {
  const a = attrMap(payload);
  const addr = a.get(DestAttr.ADDR);
  if (!addr) return undefined;
  const family = afName(readU16(a.get(DestAttr.ADDR_FAMILY))) ?? serviceFamily;
  return {
    address: inetAddrToIp(addr, family),
    port: readBe16(a.get(DestAttr.PORT)) ?? 0,
    weight: readU32(a.get(DestAttr.WEIGHT)) ?? 0,
    fwdMethod: (readU32(a.get(DestAttr.FWD_METHOD)) ?? 0) & 0x7,
    upperThreshold: readU32(a.get(DestAttr.U_THRESH)) ?? 0,
    lowerThreshold: readU32(a.get(DestAttr.L_THRESH)) ?? 0,
    activeConns: readU32(a.get(DestAttr.ACTIVE_CONNS)) ?? 0,
    inactiveConns: readU32(a.get(DestAttr.INACT_CONNS)) ?? 0,
    persistConns: readU32(a.get(DestAttr.PERSIST_CONNS)) ?? 0,
  };
}

export function decodeInfo(payload: Buffer): IpvsInfo {
  const a = attrMap(payload);
  const v = readU32(a.get(InfoAttr.VERSION)) ?? 0;
  return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, connTableSize: readU32(a.get(InfoAttr.CONN_TAB_SIZE)) ?? 0 };
}

/** Timeouts (seconds) for SET_CONFIG; 0 leaves a value unchanged. */
export function encodeTimeouts(t: { tcp: number; tcpFin: number; udp: number }): Buffer[] {
  return [u32(CmdAttr.TIMEOUT_TCP, t.tcp), u32(CmdAttr.TIMEOUT_TCP_FIN, t.tcpFin), u32(CmdAttr.TIMEOUT_UDP, t.udp)];
}

export function decodeTimeouts(msg: Buffer): { tcp: number; tcpFin: number; udp: number } {
  const a = attrMap(msg);
  return { tcp: readU32(a.get(CmdAttr.TIMEOUT_TCP)) ?? 0, tcpFin: readU32(a.get(CmdAttr.TIMEOUT_TCP_FIN)) ?? 0, udp: readU32(a.get(CmdAttr.TIMEOUT_UDP)) ?? 0 };
}

export function virtualServerId(vs: VirtualServerKey): string {
  return `${vs.protocol}/${joinHostPort(vs.address, vs.port)}`;
}
