// MLS key packages (RFC 9420) made by ts-mls, wrapped in an MLSMessage, with the verdict a key
// directory must reach: "ok" for well-formed packages of the allowed suites (0x0001 and the X-Wing
// suite 0x0053), else the name of the check that fails. Corruptions are built with ts-mls itself
// (a package re-signed after its leaf or its suite changed, a lifetime in the past, another
// identity), so every rejected package is otherwise valid. Key material comes from ts-mls's own
// randomness, so the bytes differ from run to run; the verdicts do not.
import { getAddress } from 'ethers';
import {
  generateKeyPackage, generateKeyPackageWithKey, defaultCapabilities, getCiphersuiteImpl,
  getCiphersuiteFromName, encodeMlsMessage,
} from 'ts-mls';
import { signKeyPackage } from 'ts-mls/keyPackage.js';
import { hex } from '../generate.mjs';

const suites = {
  x25519: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  xwing: 'MLS_256_XWING_AES256GCM_SHA512_Ed25519',
};
const impls = {};
async function impl(name) {
  impls[name] ??= await getCiphersuiteImpl(getCiphersuiteFromName(suites[name]));
  return impls[name];
}

const forever = { notBefore: 0n, notAfter: 0xffffffffffffffffn };
const encoder = new TextEncoder();
function wrap(keyPackage) {
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage });
}

async function make(suite, identity, lifetime = forever) {
  const cs = await impl(suite);
  const credential = { credentialType: 'basic', identity: encoder.encode(identity) };
  const keys = await cs.signature.keygen();
  const kp = await generateKeyPackageWithKey(credential, defaultCapabilities(), lifetime, [], keys, cs);
  return { cs, keys, kp: kp.publicPackage };
}

export async function generate({ rng, count }) {
  const cases = [];
  const kinds = ['ok', 'ok_xwing', 'key_package_signature', 'key_package_leaf_node_signature',
    'key_package_identity', 'key_package_signature_key', 'key_package_lifetime', 'key_package_lifetime_future',
    'key_package_cipher_suite', 'key_package_malformed'];
  const now = BigInt(Math.floor(Date.now() / 1000));
  for (let i = 0; i < count; ++i) {
    const kind = kinds[i % kinds.length];
    const address = getAddress(hex(rng.bytes(20)));
    // The identity is the address text, in whatever letter case the client chose.
    const identity = rng.chance(0.5) ? address : address.toLowerCase();
    const suite = kind === 'ok_xwing' ? 'xwing' : 'x25519';
    let lifetime = forever;
    if (kind === 'key_package_lifetime') lifetime = { notBefore: 0n, notAfter: now - 86400n };
    if (kind === 'key_package_lifetime_future') lifetime = { notBefore: now + 86400n, notAfter: now + 2n * 86400n };
    const madeFor = kind === 'key_package_identity' ? getAddress(hex(rng.bytes(20))) : identity;
    const { cs, keys, kp } = await make(suite, madeFor, lifetime);
    let identityKey = keys.publicKey;
    let message;
    if (kind === 'key_package_signature') {
      const sig = kp.signature.slice();
      sig[rng.int(0, sig.length - 1)] ^= 1 << rng.int(0, 7);
      message = wrap({ ...kp, signature: sig });
    } else if (kind === 'key_package_leaf_node_signature') {
      const leafSig = kp.leafNode.signature.slice();
      leafSig[rng.int(0, leafSig.length - 1)] ^= 1 << rng.int(0, 7);
      const { signature: _, ...tbs } = { ...kp, leafNode: { ...kp.leafNode, signature: leafSig } };
      message = wrap(await signKeyPackage(tbs, keys.signKey, cs.signature));
    } else if (kind === 'key_package_cipher_suite') {
      // Suite 0x0003 (X25519, ChaCha20-Poly1305, Ed25519): signed correctly, but not allowed here.
      const { signature: _, ...tbs } = { ...kp, cipherSuite: 'MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519' };
      message = wrap(await signKeyPackage(tbs, keys.signKey, cs.signature));
    } else if (kind === 'key_package_signature_key') {
      identityKey = (await cs.signature.keygen()).publicKey;
      message = wrap(kp);
    } else if (kind === 'key_package_malformed') {
      const full = wrap(kp);
      message = full.slice(0, rng.int(0, full.length - 1));
    } else {
      message = wrap(kp);
    }
    const expect = kind.startsWith('ok') ? 'ok' : kind === 'key_package_lifetime_future' ? 'key_package_lifetime' : kind;
    cases.push({
      kind, expect, suite: suites[suite], identity: address.toLowerCase(), identity_key: hex(identityKey),
      now: now.toString(), message: hex(message),
    });
  }
  return cases;
}
