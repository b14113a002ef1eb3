// RLP: random nested structures encoded by ethers' encodeRlp, and malformed or non-canonical
// encodings built by construction (each with the rule it breaks) that a canonical decoder must
// reject. ethers' decodeRlp is lenient about some of these, so the invalid ones are not checked
// against it; their invalidity follows from how they are built.
import { encodeRlp, decodeRlp } from 'ethers';
import { hex, unhex } from '../generate.mjs';

function randomString(rng, budget) {
  const r = rng.int(0, 9);
  let s;
  if (r === 0) s = new Uint8Array(0);
  else if (r === 1) s = Uint8Array.of(rng.int(0, 0x7f));  // single byte encoded as itself
  else if (r === 2) s = Uint8Array.of(rng.int(0x80, 0xff));  // single byte needing a prefix
  else if (r === 3) s = rng.bytes(rng.pick([55, 56, 57]));  // short/long form boundary
  else if (r === 4) s = rng.bytes(rng.int(256, 1100));  // two length bytes
  else s = rng.bytes(rng.int(0, 70));
  if (s.length > budget.left) s = s.slice(0, Math.max(0, budget.left));
  budget.left -= s.length + 1;
  return s;
}

// `budget` bounds the encoded size so that vectors stay small; a few trees get a large budget so
// that payloads needing three length bytes (>= 65536) occur.
function randomTree(rng, depth, budget) {
  if (depth >= 5 || budget.left <= 0 || rng.chance(0.45)) return hex(randomString(rng, budget));
  if (budget.huge && depth === 0) {
    const out = [];
    while (budget.left > 0) out.push(hex(randomString(rng, budget)));
    return out;
  }
  const n = rng.chance(0.1) ? rng.int(20, 60) : rng.int(0, 6);
  const out = [];
  for (let i = 0; i < n; ++i) out.push(randomTree(rng, depth + 1, budget));
  return out;
}

function newBudget(rng) {
  const huge = rng.chance(0.01);
  return { huge, left: huge ? 70000 : 1500 };
}

function lengthBytes(n) {
  const out = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return out;
}

function concat(...parts) {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

// Each builder returns bytes that break exactly the named rule.
const k_invalid = {
  // 0x81 followed by a byte below 0x80: that byte must be encoded as itself.
  single_byte_as_string: (rng) => Uint8Array.of(0x81, rng.int(0, 0x7f)),
  // A string of at most 55 bytes written with the long form.
  long_form_short_string: (rng) => {
    const s = rng.bytes(rng.int(0, 55));
    return concat([0xb8, s.length], s);
  },
  // A list whose payload is at most 55 bytes written with the long form.
  long_form_short_list: (rng) => {
    const payload = unhex(encodeRlp(Array.from({ length: rng.int(0, 5) }, () => hex(rng.bytes(rng.int(0, 8))))).slice(2));
    // payload here is a whole list; use its inner bytes by stripping the short header
    const inner = payload.slice(1);
    return concat([0xf8, inner.length], inner);
  },
  // A length written with a leading zero byte.
  length_leading_zero: (rng) => {
    const s = rng.bytes(rng.int(56, 300));
    const len = lengthBytes(s.length);
    const list = rng.chance(0.5);
    return concat([(list ? 0xf7 : 0xb7) + len.length + 1, 0, ...len], s);
  },
  // A valid encoding followed by extra bytes.
  trailing_bytes: (rng) => concat(unhex(encodeRlp(randomTree(rng, 0, newBudget(rng))).slice(2)), rng.bytes(rng.int(1, 4))),
  // A valid encoding cut short (every item here has a header, so any cut leaves a short payload).
  truncated: (rng) => {
    let encoded;
    do encoded = unhex(encodeRlp(randomTree(rng, 0, newBudget(rng))).slice(2));
    while (encoded.length < 2);
    return encoded.slice(0, rng.int(0, encoded.length - 1));
  },
  // A length prefix whose length bytes are themselves cut off.
  truncated_length: (rng) => Uint8Array.of(rng.pick([0xb9, 0xba, 0xbf, 0xf9, 0xff]), 0x01),
  // A list whose child claims more bytes than the list holds.
  child_overruns_list: (rng) => {
    const n = rng.int(1, 20);
    const child = concat([0x80 + n + 1], rng.bytes(n));  // claims n+1 bytes, has n
    return concat([0xc0 + child.length], child);
  },
  // Lists nested deeper than the decoder's limit of 64.
  too_deep: (rng) => {
    const depth = rng.int(65, 300);
    let encoded = Uint8Array.of(0xc0);
    for (let i = 1; i < depth; ++i) encoded = concat(encoded.length <= 55 ? [0xc0 + encoded.length] : [0xf7 + lengthBytes(encoded.length).length, ...lengthBytes(encoded.length)], encoded);
    return encoded;
  },
  // Nothing at all.
  empty: () => new Uint8Array(0),
};

function nestedDepth(tree) {
  return Array.isArray(tree) ? 1 + Math.max(0, ...tree.map(nestedDepth)) : 0;
}

export function generate({ rng, count }) {
  const cases = [];
  const reasons = Object.keys(k_invalid);
  for (let i = 0; i < count; ++i) {
    if (i % 3 === 2) {
      const reason = reasons[(i / 3 | 0) % reasons.length];
      cases.push({ valid: false, reason, encoded: hex(k_invalid[reason](rng)) });
      continue;
    }
    const tree = randomTree(rng, 0, newBudget(rng));
    const encoded = encodeRlp(tree);
    // Round trip through ethers as a consistency check of the reference itself.
    if (JSON.stringify(decodeRlp(encoded)) !== JSON.stringify(tree)) throw new Error('ethers RLP round trip failed');
    if (nestedDepth(tree) > 64) throw new Error('valid tree deeper than the decoder limit');
    cases.push({ valid: true, tree, encoded });
  }
  return cases;
}
