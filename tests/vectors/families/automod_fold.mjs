// AutoMod's fold (community/automod.hpp, fold_automod_text): words spelled with look-alikes must
// fold as the plain word does. The look-alikes come from outside gatehouse:
//   - every code point whose compatibility decomposition (String.prototype.normalize('NFKD'),
//     V8's own Unicode data), without combining diacritical marks and lower-cased, is one ASCII
//     letter: full-width, mathematical, circled, small-capital-free Latin letters with accents;
//   - Cyrillic and Greek capitals and small letters drawn as Latin ones (the Unicode charts'
//     homoglyphs), listed below;
//   - invisible characters (zero width, soft hyphen, variation selector, tag, grapheme joiner)
//     slipped between letters, and combining marks piled on them.
// Each case also carries a near miss: the word with one letter changed to another (outside `m`,
// `r` and `n`, which the confusable skeleton joins as `rn` ~ `m`), spelled with look-alikes, which
// must not fold as the word does.
// Blocks with letters that decompose to ASCII and came after Unicode 15.0, with the version that
// brought them: the C++ test names the version its table was generated from in
// GATEHOUSE_FOLD_UNICODE, and letters newer than that are left out (node may know a later
// Unicode than the build's ICU). A Node with a yet later Unicode may need a line here.
const later = [[0xa7f1, 0xa7f1, [16, 0]], [0x1cc00, 0x1cebf, [16, 0]]];

function newerThanTable(cp) {
  const table = (process.env.GATEHOUSE_FOLD_UNICODE ?? '').split('.').map(Number);
  if (table.length < 2 || table.some(Number.isNaN)) return false;
  return later.some(([lo, hi, [major, minor]]) =>
    cp >= lo && cp <= hi && (major > table[0] || (major === table[0] && minor > table[1])));
}

const marks = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/gu;

const homoglyphs = {
  a: ['\u0430', '\u0410', '\u0391'],
  b: ['\u0412', '\u0392'],
  c: ['\u0441', '\u0421', '\u03f2'],
  e: ['\u0435', '\u0415', '\u0395'],
  h: ['\u04bb', '\u041d', '\u0397'],
  i: ['\u0456', '\u0406', '\u0399'],
  j: ['\u0458', '\u0408'],
  k: ['\u041a', '\u039a'],
  m: ['\u041c', '\u039c'],
  n: ['\u039d'],
  o: ['\u043e', '\u041e', '\u03bf', '\u039f'],
  p: ['\u0440', '\u0420', '\u03c1', '\u03a1'],
  s: ['\u0455', '\u0405'],
  t: ['\u0422', '\u03a4'],
  x: ['\u0445', '\u0425', '\u03a7'],
  y: ['\u0443', '\u0423', '\u03a5'],
  z: ['\u0396'],
};

const invisible = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\ufe0f', '\u034f', '\u{e0061}'];

const words = ['free', 'mint', 'airdrop', 'claim', 'wallet', 'scam', 'giveaway', 'connect', 'seed', 'phrase',
  'bonus', 'reward', 'verify', 'support', 'presale', 'whitelist'];

let decomposed = null;
// letter -> code points that decompose to it
function decompositions() {
  if (decomposed) return decomposed;
  decomposed = {};
  for (let cp = 0x80; cp <= 0x2ffff; ++cp) {
    if ((cp >= 0xd800 && cp <= 0xdfff) || newerThanTable(cp)) continue;
    const s = String.fromCodePoint(cp);
    const d = s.normalize('NFKD').replace(marks, '').toLowerCase();
    if (d.length === 1 && d >= 'a' && d <= 'z') (decomposed[d] ??= []).push(s);
  }
  return decomposed;
}

function disguise(rng, word) {
  let out = '';
  for (const letter of word) {
    const choices = [];
    if (rng.chance(0.6)) choices.push(...(decompositions()[letter] ?? []));
    if (rng.chance(0.6)) choices.push(...(homoglyphs[letter] ?? []));
    let c = choices.length > 0 && rng.chance(0.7) ? rng.pick(choices) : letter;
    if (c === letter && rng.chance(0.3)) c = letter.toUpperCase();
    out += c;
    if (rng.chance(0.15)) out += String.fromCodePoint(rng.int(0x300, 0x36f));
    if (rng.chance(0.1)) out += rng.pick(invisible);
  }
  return out;
}

const plain = 'abcdefghijklopqstuvwxyz';  // no m, n, r

function randomWord(rng, alphabet) {
  let w = '';
  const n = rng.int(3, 10);
  for (let i = 0; i < n; ++i) w += alphabet[rng.int(0, alphabet.length - 1)];
  return w;
}

export function generate({ rng, count }) {
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const word = rng.chance(0.5) ? rng.pick(words) : randomWord(rng, rng.chance(0.5) ? plain : 'abcdefghijklmnopqrstuvwxyz');
    // The near miss: one letter outside m, n, r changed to another such letter.
    const at = [...word].map((c, k) => (plain.includes(c) ? k : -1)).filter((k) => k >= 0);
    let miss = null;
    if (at.length > 0) {
      const k = rng.pick(at);
      let c = word[k];
      while (c === word[k]) c = plain[rng.int(0, plain.length - 1)];
      miss = disguise(rng, word.slice(0, k) + c + word.slice(k + 1));
    }
    cases.push({ word, variant: disguise(rng, word), miss });
  }
  return cases;
}
