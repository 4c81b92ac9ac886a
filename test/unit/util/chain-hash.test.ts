import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { endpointHash, portProtoHash } from '../../../src/util/chain-hash.js';

/** An independent base32 (RFC 4648) over the whole digest via BigInt, padded, then cut to 16 characters. */
function referenceHash(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  // 32 bytes = 256 bits → 52 characters (51.2 rounded up, low bits zero-filled) + 4 padding characters.
  let n = BigInt('0x' + digest.toString('hex')) << 4n; // 260 bits = 52 groups of 5
  let out = '';
  for (let i = 0; i < 52; i++) {
    out = alphabet[Number(n & 31n)] + out;
    n >>= 5n;
  }
  return (out + '====').slice(0, 16);
}

test('service chain hashes are the ones kube-proxy\'s own tests show', () => {
  // From kube-proxy's iptables proxier tests: the chains of "ns1/svc1:p80", "ns2/svc2:p80", "ns4/svc4:p80" (TCP).
  assert.equal('KUBE-SVC-' + portProtoHash('ns1/svc1:p80', 'TCP'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
  assert.equal('KUBE-SVC-' + portProtoHash('ns2/svc2:p80', 'TCP'), 'KUBE-SVC-GNZBNJ2PO5MGZ6GT');
  assert.equal('KUBE-SVC-' + portProtoHash('ns4/svc4:p80', 'TCP'), 'KUBE-SVC-4SW47YFZTEDKD3PK');
});

test('endpoint chain hashes are the ones kube-proxy\'s own tests show', () => {
  assert.equal('KUBE-SEP-' + endpointHash('ns1/svc1:p80', 'TCP', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
});

test('the protocol is hashed in lower case, so TCP and tcp name the same chain and UDP a different one', () => {
  assert.equal(portProtoHash('ns1/svc1:p80', 'tcp'), portProtoHash('ns1/svc1:p80', 'TCP'));
  assert.notEqual(portProtoHash('ns1/svc1:p80', 'UDP'), portProtoHash('ns1/svc1:p80', 'TCP'));
  assert.equal(portProtoHash('ns1/svc1:p80', 'UDP'), 'OJWW7NSBVZTDHXNW');
});

test('hashes match an independent base32 implementation for many inputs', () => {
  for (let i = 0; i < 200; i++) {
    const key = `ns${i % 7}/svc-${i}${i % 3 === 0 ? '' : ':port-' + i}`;
    for (const proto of ['TCP', 'UDP', 'SCTP']) {
      assert.equal(portProtoHash(key, proto), referenceHash(key + proto.toLowerCase()), key + proto);
      const epKey = `10.244.${i % 256}.${(i * 7) % 256}:${1000 + i}`;
      assert.equal(endpointHash(key, proto, epKey), referenceHash(key + proto.toLowerCase() + epKey));
    }
  }
});

test('hashes are 16 characters of the base32 alphabet', () => {
  const h = portProtoHash('default/kubernetes:https', 'TCP');
  assert.match(h, /^[A-Z2-7]{16}$/);
});
