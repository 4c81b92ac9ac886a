/**
 * chain-hash.ts: kube-proxy's chain-name hashes, bit for bit, so kpx's KUBE-SVC-/KUBE-SEP-/… chains carry the
 * same names kube-proxy would give them (operators' scripts and knowledge carry over, and a switch from
 * kube-proxy to kpx finds and replaces the same chains).
 *
 * portProtoHash = first 16 characters of base32 (RFC 4648 standard alphabet, padded) of
 * sha256(servicePortName + lowercase protocol). The endpoint variant appends the endpoint's "ip:port".
 */
import { createHash } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Standard base32 of the first bytes, enough to yield `chars` characters (no padding needed there). */
function base32Prefix(bytes: Uint8Array, chars: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length && out.length < chars; i++) {
    buffer = (buffer << 8) | bytes[i];
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1; // keep only the unread bits so the number never grows
  }
  return out;
}

/** The first `chars` characters of base32(sha256(text)): the nftables mode's 8-character chain-name hash. */
export function sha256Base32Prefix(text: string, chars: number): string {
  return base32Prefix(createHash('sha256').update(text).digest(), chars);
}

function hash16(text: string): string {
  return sha256Base32Prefix(text, 16);
}

/**
 * The 16-character suffix of KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-FW- chains for a service port.
 * `servicePortKey` is ServicePortName.String() ("ns/name:port" or "ns/name").
 */
export function portProtoHash(servicePortKey: string, protocol: string): string {
  return hash16(servicePortKey + protocol.toLowerCase());
}

/** The 16-character suffix of a KUBE-SEP- chain: the service port, protocol and endpoint "ip:port". */
export function endpointHash(servicePortKey: string, protocol: string, endpointKey: string): string {
  return hash16(servicePortKey + protocol.toLowerCase() + endpointKey);
}
