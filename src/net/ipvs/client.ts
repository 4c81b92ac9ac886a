/**
 * client.ts: a typed IPVS client over generic netlink (the "node-ipvs" piece: nothing on npm does this). The
 * `netlink` package carries the socket and the generic-netlink plumbing; the IPVS attributes are codec.ts.
 */
import { createRequire } from 'node:module';
import type { IPFamily } from '../../model/types.js';
import { KpxError, errorMessage } from '../../util/errors.js';
import { attrMap } from './attrs.js';
import {
  decodeDest, decodeInfo, decodeService, decodeTimeouts, encodeDest, encodeDestKey, encodeService, encodeServiceKey,
  encodeTimeouts, type IpvsInfo, type RealServer, type VirtualServer, type VirtualServerKey,
} from './codec.js';
import { Cmd, CmdAttr, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './constants.js';

// netlink is CommonJS with a native addon; load it lazily so modes without IPVS never touch it.
const require = createRequire(import.meta.url);
type Netlink = typeof import('netlink');

const NLM_F_DUMP = 0x300;

interface GenlMessage { data: Buffer }
interface GenlSocket {
  request(family: number, cmd: number, version: number, data: Uint8Array | Uint8Array[], options?: { flags?: number }): Promise<[GenlMessage[], unknown]>;
  ctrlRequest(cmd: number, msg?: { familyName?: string }): Promise<{ familyId?: number }[]>;
  socket: { close(): void };
}

export class IpvsUnavailableError extends KpxError {
  constructor(message: string) {
    super('KPX_IPVS_UNAVAILABLE', message);
  }
}

/** IPVS connection timeouts in seconds; 0 leaves the kernel's value. */
export interface IpvsTimeouts {
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

/**
 * What the ipvs mode needs of IPVS: virtual servers, their real servers and the connection timeouts. The
 * kernel over netlink (NetlinkIpvs) or a fake that keeps the tables. Each call fails as the kernel would
 * (adding what exists, changing or deleting what does not).
 */
export interface IpvsClient {
  listServices(): Promise<VirtualServer[]>;
  addService(vs: VirtualServer): Promise<void>;
  updateService(vs: VirtualServer): Promise<void>;
  deleteService(key: VirtualServerKey): Promise<void>;
  listDests(key: VirtualServerKey): Promise<RealServer[]>;
  addDest(key: VirtualServerKey, rs: RealServer): Promise<void>;
  updateDest(key: VirtualServerKey, rs: RealServer): Promise<void>;
  deleteDest(key: VirtualServerKey, rs: Pick<RealServer, 'address' | 'port'>): Promise<void>;
  getTimeouts(): Promise<IpvsTimeouts>;
  setTimeouts(t: IpvsTimeouts): Promise<void>;
  close(): void;
}

export class NetlinkIpvs implements IpvsClient {
  private constructor(private readonly sock: GenlSocket, private readonly familyId: number) {}

  /** Opens a socket and resolves the IPVS family; IpvsUnavailableError when this kernel has no IPVS. */
  static async open(): Promise<NetlinkIpvs> {
    const nl = require('netlink') as Netlink;
    const sock = nl.createGenericNetlink() as unknown as GenlSocket;
    try {
      const [fam] = await sock.ctrlRequest(nl.genl.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME });
      if (fam?.familyId === undefined) throw new Error('no family id');
      return new NetlinkIpvs(sock, fam.familyId);
    } catch (err) {
      sock.socket.close();
      throw new IpvsUnavailableError(`this kernel has no IPVS (generic netlink family "IPVS": ${errorMessage(err)})`);
    }
  }

  close(): void {
    this.sock.socket.close();
  }

  private async call(cmd: number, attrs: Buffer[], dump = false): Promise<Buffer[]> {
    try {
      const [msgs] = await this.sock.request(this.familyId, cmd, IPVS_GENL_VERSION, attrs, dump ? { flags: NLM_F_DUMP } : {});
      return msgs.map((m) => m.data);
    } catch (err) {
      throw new KpxError('KPX_IPVS', `IPVS command ${cmd} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async info(): Promise<IpvsInfo> {
    const [msg] = await this.call(Cmd.GET_INFO, []);
    return decodeInfo(msg ?? Buffer.alloc(0));
  }

  async listServices(): Promise<VirtualServer[]> {
    const out: VirtualServer[] = [];
    for (const msg of await this.call(Cmd.GET_SERVICE, [], true)) {
      const svc = attrMap(msg).get(CmdAttr.SERVICE);
      const vs = svc && decodeService(svc);
      if (vs) out.push(vs);
    }
    return out;
  }

  async addService(vs: VirtualServer): Promise<void> {
    await this.call(Cmd.NEW_SERVICE, [encodeService(vs)]);
  }

  async updateService(vs: VirtualServer): Promise<void> {
    await this.call(Cmd.SET_SERVICE, [encodeService(vs)]);
  }

  async deleteService(key: VirtualServerKey): Promise<void> {
    await this.call(Cmd.DEL_SERVICE, [encodeServiceKey(key)]);
  }

  async listDests(key: VirtualServerKey): Promise<RealServer[]> {
    const out: RealServer[] = [];
    for (const msg of await this.call(Cmd.GET_DEST, [encodeServiceKey(key)], true)) {
      const d = attrMap(msg).get(CmdAttr.DEST);
      const rs = d && decodeDest(d, key.family);
      if (rs) out.push(rs);
    }
    return out;
  }

  async addDest(key: VirtualServerKey, rs: RealServer, family: IPFamily = key.family): Promise<void> {
    await this.call(Cmd.NEW_DEST, [encodeServiceKey(key), encodeDest(rs, family)]);
  }

  async updateDest(key: VirtualServerKey, rs: RealServer, family: IPFamily = key.family): Promise<void> {
    await this.call(Cmd.SET_DEST, [encodeServiceKey(key), encodeDest(rs, family)]);
  }

  async deleteDest(key: VirtualServerKey, rs: Pick<RealServer, 'address' | 'port'>, family: IPFamily = key.family): Promise<void> {
    await this.call(Cmd.DEL_DEST, [encodeServiceKey(key), encodeDestKey(rs, family)]);
  }

  /** Removes every virtual server (kpx's cleanup never calls this: it deletes only its own). */
  async flush(): Promise<void> {
    await this.call(Cmd.FLUSH, []);
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    const [msg] = await this.call(Cmd.GET_CONFIG, []);
    return decodeTimeouts(msg ?? Buffer.alloc(0));
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    await this.call(Cmd.SET_CONFIG, encodeTimeouts(t));
  }
}
