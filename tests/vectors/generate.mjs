#!/usr/bin/env node
// Reference vectors for gatehouse's C++ tests, computed by independent implementations (ethers,
// @noble/*, js-sha3) from node_modules, never from gatehouse's own output.
//
//   node tests/vectors/generate.mjs <family> <count> <seed>
//
// prints {"family", "seed", "cases": [...]} on stdout. A family is ./families/<family>.mjs and
// exports `generate({ rng, count, seed })` returning the array of cases; adding a family needs no
// change here. The same (family, count, seed) always prints the same JSON, so a failing C++ test
// is reproduced by rerunning it with GATEHOUSE_VECTOR_SEED=<seed>.
import { sha256 } from '@noble/hashes/sha2.js';

// sfc32: a small, fast, well-distributed 32-bit PRNG; quality is ample for test inputs and it is
// not used for anything secret.
function sfc32(a, b, c, d) {
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
}

/** A seeded random source with the helpers the families need. */
export function makeRng(seed) {
  const digest = sha256(new TextEncoder().encode(String(seed)));
  const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
  const next = sfc32(view.getUint32(0), view.getUint32(4), view.getUint32(8), view.getUint32(12));
  for (let i = 0; i < 16; ++i) next();
  const rng = {
    /** uniform 32-bit unsigned integer */
    u32: next,
    /** uniform integer in [lo, hi] (hi - lo < 2^32) */
    int(lo, hi) {
      const span = hi - lo + 1;
      return lo + Math.floor((next() / 4294967296) * span);
    },
    /** true with probability p */
    chance(p) { return next() / 4294967296 < p; },
    /** one element of an array */
    pick(items) { return items[rng.int(0, items.length - 1)]; },
    /** n random bytes */
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; ++i) out[i] = next() & 0xff;
      return out;
    },
    /** uniform BigInt in [0, 2^bits) */
    bigBits(bits) {
      let v = 0n;
      for (let i = 0; i < Math.ceil(bits / 32); ++i) v = (v << 32n) | BigInt(next());
      return v & ((1n << BigInt(bits)) - 1n);
    },
    /** BigInt below 2^maxBits with a random bit length, so small, boundary and huge values all occur */
    bigint(maxBits) {
      const r = rng.int(0, 9);
      if (r === 0) return 0n;
      if (r === 1) return (1n << BigInt(maxBits)) - 1n;
      if (r === 2) return BigInt(rng.int(1, 255));
      return rng.bigBits(rng.int(1, maxBits));
    },
  };
  return rng;
}

/** Lowercase 0x-prefixed hex of bytes. */
export function hex(bytes) {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes of 0x-prefixed hex. */
export function unhex(text) {
  const digits = text.startsWith('0x') ? text.slice(2) : text;
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function main() {
  const [family, countText, seedText] = process.argv.slice(2);
  if (!family || !/^[a-z0-9_]+$/.test(family) || !/^\d+$/.test(countText ?? '') || !/^\d+$/.test(seedText ?? '')) {
    process.stderr.write('usage: generate.mjs <family> <count> <seed>\n');
    process.exit(2);
  }
  const count = Number(countText);
  const module = await import(new URL(`./families/${family}.mjs`, import.meta.url));
  const cases = await module.generate({ rng: makeRng(seedText), count, seed: seedText });
  process.stdout.write(JSON.stringify({ family, seed: seedText, cases }));
}

if (import.meta.url === new URL(process.argv[1], 'file://').href || process.argv[1]?.endsWith('generate.mjs')) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
