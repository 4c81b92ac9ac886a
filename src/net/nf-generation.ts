/**
 * nf-generation.ts: nf_tables' ruleset generation of a network namespace. The kernel bumps it on every
 * committed nf_tables transaction, whoever makes it (iptables-nft, nft, a CNI plugin), so a mode that counts
 * its own commits knows for the price of one netlink request whether anybody else changed anything.
 */
import { exec } from './exec.js';

/** NETLINK_NETFILTER; NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN; NFTA_GEN_ID. */
const NETLINK_NETFILTER = 12;
const NFT_GETGEN = (10 << 8) | 16;
const NFTA_GEN_ID = 1;

/** The NFTA_GEN_ID attribute of an NFT_MSG_NEWGEN reply (after its 4-byte nfgenmsg header). */
export function parseGenerationReply(data: Uint8Array): number | undefined {
  const d = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let off = 4; off + 4 <= d.length;) {
    const len = d.readUInt16LE(off);
    const type = d.readUInt16LE(off + 2) & 0x7fff;
    if (len < 4) break;
    if (type === NFTA_GEN_ID && len >= 8) return d.readUInt32BE(off + 4);
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** Asks nf_tables for the ruleset generation of the caller's network namespace. */
async function readGenerationHere(): Promise<number | undefined> {
  const { createNetlink } = await import('netlink');
  const sock = createNetlink(NETLINK_NETFILTER);
  try {
    const [msgs] = await sock.request(NFT_GETGEN, Buffer.alloc(4), { timeout: 5000 });
    for (const m of msgs) {
      const gen = parseGenerationReply(m.data);
      if (gen !== undefined) return gen;
    }
    return undefined;
  } finally {
    sock.close();
  }
}

/** The same, as a one-off script run inside another namespace (`ip netns exec NS node -e ...`). */
function generationScript(): string {
  const netlink = import.meta.resolve('netlink');
  return `import { createNetlink } from ${JSON.stringify(netlink)};
const s = createNetlink(${NETLINK_NETFILTER});
const [msgs] = await s.request(${NFT_GETGEN}, Buffer.alloc(4), { timeout: 5000 });
s.close();
for (const m of msgs) { const d = Buffer.from(m.data); for (let o = 4; o + 4 <= d.length;) { const l = d.readUInt16LE(o);
  if (l < 4) break; if ((d.readUInt16LE(o + 2) & 0x7fff) === ${NFTA_GEN_ID}) { console.log(d.readUInt32BE(o + 4)); process.exit(0); } o += (l + 3) & ~3; } }`;
}

/** The generation in `netns` (in-process when undefined: kpx in its own namespace); undefined when unreadable. */
export async function nfGeneration(netns?: string): Promise<number | undefined> {
  if (!netns) return await readGenerationHere();
  const res = await exec(process.execPath, ['--input-type=module', '-e', generationScript()], { netns, timeoutMs: 15_000 });
  const n = Number(res.stdout.trim());
  return res.stdout.trim() !== '' && Number.isInteger(n) ? n : undefined;
}
