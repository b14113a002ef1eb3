// keccak-256 of random inputs. Lengths cluster around the 136-byte rate (one block boundary) and
// include empty and multi-block inputs. Two independent implementations must agree.
import { keccak_256 } from '@noble/hashes/sha3.js';
import { hex } from '../generate.mjs';

let jsSha3 = null;
try {
  jsSha3 = (await import('js-sha3')).default;
} catch {
  // js-sha3 arrives with solc; without it noble alone is the reference.
}

const k_boundaries = [0, 1, 31, 32, 33, 55, 56, 64, 135, 136, 137, 271, 272, 273, 1000];

export function generate({ rng, count }) {
  const cases = [];
  for (let i = 0; i < count; ++i) {
    let length;
    if (i < k_boundaries.length) length = k_boundaries[i];
    else if (rng.chance(0.02)) length = rng.int(1000, 20000);
    else if (rng.chance(0.3)) length = rng.pick(k_boundaries) + rng.int(-1, 1);
    else length = rng.int(0, 300);
    length = Math.max(0, length);
    const input = rng.bytes(length);
    const hash = hex(keccak_256(input));
    if (jsSha3 && '0x' + jsSha3.keccak256(input) !== hash) throw new Error(`keccak implementations disagree on ${hex(input)}`);
    cases.push({ input: hex(input), hash });
  }
  return cases;
}
