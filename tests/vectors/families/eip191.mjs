// EIP-191 personal messages signed by random keys with ethers' Wallet; the signature is cross-checked
// against @noble/curves' RFC 6979 signer so two implementations vouch for each vector.
import { Wallet, hashMessage, toUtf8Bytes } from 'ethers';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hex, unhex } from '../generate.mjs';

const k_order = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function randomPrivateKey(rng) {
  for (;;) {
    const k = rng.bigBits(256);
    if (k > 0n && k < k_order) return '0x' + k.toString(16).padStart(64, '0');
  }
}

function randomMessage(rng) {
  const kind = rng.int(0, 3);
  if (kind === 0) return rng.bytes(rng.int(0, 300));
  const alphabet = ['a', 'Z', '0', ' ', '\n', 'é', '€', '😀', '中', ':', '\u0000'];
  let text = '';
  const length = kind === 3 ? rng.int(0, 2000) : rng.int(0, 120);
  for (let i = 0; i < length; ++i) text += rng.pick(alphabet);
  return toUtf8Bytes(text);
}

export function generate({ rng, count }) {
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const key = randomPrivateKey(rng);
    const wallet = new Wallet(key);
    const message = randomMessage(rng);
    const hash = hashMessage(message);
    const signature = wallet.signMessageSync(message);
    const noble = secp256k1.sign(unhex(hash), unhex(key), { prehash: false, format: 'recovered' });
    // noble's recovered format is recovery || r || s; reorder to r || s || v.
    const nobleRsv = hex(noble.slice(1)) + (27 + noble[0]).toString(16);
    if (nobleRsv !== signature) throw new Error(`ethers and noble disagree for key ${key}`);
    cases.push({ key, message: hex(message), hash, signature, address: wallet.address });
  }
  return cases;
}
