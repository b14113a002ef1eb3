// EIP-55 checksums of random addresses (ethers' getAddress), plus mixed-case texts with one letter's
// case flipped, which every checksum implementation must reject.
import { getAddress } from 'ethers';
import { hex } from '../generate.mjs';

function flipOneLetter(rng, checksummed) {
  const letters = [];
  for (let i = 2; i < checksummed.length; ++i) if (/[a-fA-F]/.test(checksummed[i])) letters.push(i);
  if (letters.length === 0) return null;
  const at = rng.pick(letters);
  const c = checksummed[at];
  const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
  const text = checksummed.slice(0, at) + flipped + checksummed.slice(at + 1);
  // Flipping the only letter of one case can leave an all-lower/all-upper text, which is valid
  // unchecked; those are not checksum failures.
  const digits = text.slice(2);
  if (digits === digits.toLowerCase() || digits === digits.toUpperCase()) return null;
  return text;
}

export function generate({ rng, count }) {
  const cases = [];
  for (let i = 0; i < count; ++i) {
    let bytes = rng.bytes(20);
    if (rng.chance(0.05)) bytes = bytes.map((b) => (rng.chance(0.5) ? b & 0x99 : b));  // digit-heavy
    const lower = hex(bytes);
    const checksum = getAddress(lower);
    const invalid = flipOneLetter(rng, checksum);
    if (invalid !== null) {
      let rejected = false;
      try { getAddress(invalid); } catch { rejected = true; }
      if (!rejected) throw new Error(`ethers accepted mutated ${invalid}`);
    }
    cases.push({ lower, checksum, invalid });
  }
  return cases;
}
