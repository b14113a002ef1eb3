// Contract ABI vectors from ethers 6 (AbiCoder, Fragment, Interface):
//   {kind: "encode", types, values, encoded}   AbiCoder.encode of random nested types and values
//   {kind: "decode", types, data, expect, canonical?}
//        data is a mutation of a valid encoding (truncated, a byte flipped, a word replaced, bytes
//        appended). expect is "reject" when ethers' decoder rejects it (decode() throws or a value
//        of its Result throws when read); "ok" when ethers accepts and its re-encoding of what it
//        read is the data itself (so nothing was dirty), with canonical = that encoding; else
//        "ok_or_strict": ethers accepts dirty data that gatehouse's stricter decoder may refuse
//        with abi_non_canonical, and if gatehouse accepts it must read what ethers read.
//   {kind: "signature", signature, canonical, selector, topic}  Fragment parsing, selector, id()
//   {kind: "log", event, values, topics, data}  Interface.encodeEventLog of a random event
import { AbiCoder, Interface, Fragment, id, getAddress, Result } from 'ethers';
import { hex } from '../generate.mjs';

const coder = AbiCoder.defaultAbiCoder();

function randomType(rng, depth) {
  const r = rng.int(0, depth >= 3 ? 7 : 10);
  let t;
  if (r <= 1) t = `uint${8 * rng.int(1, 32)}`;
  else if (r === 2) t = `int${8 * rng.int(1, 32)}`;
  else if (r === 3) t = 'address';
  else if (r === 4) t = 'bool';
  else if (r === 5) t = `bytes${rng.int(1, 32)}`;
  else if (r === 6) t = 'bytes';
  else if (r === 7) t = 'string';
  else {
    const members = [];
    for (let i = rng.int(1, 4); i > 0; --i) members.push(randomType(rng, depth + 1));
    t = `(${members.join(',')})`;
  }
  if (depth < 3 && rng.chance(0.25)) t += rng.chance(0.5) ? '[]' : `[${rng.int(1, 3)}]`;
  if (depth < 2 && rng.chance(0.08)) t += rng.chance(0.5) ? '[]' : `[${rng.int(1, 2)}]`;
  return t;
}

function randomString(rng) {
  const pool = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', 'ß', '€', '中', '😀', '\u0000', '~'];
  let s = '';
  for (let i = rng.int(0, rng.chance(0.1) ? 70 : 12); i > 0; --i) s += rng.pick(pool);
  return s;
}

// A random value of a ParamType, as ethers takes it (ethersValue) and as JSON for C++ (json).
function randomValue(rng, p) {
  if (p.baseType === 'array') {
    const n = p.arrayLength >= 0 ? p.arrayLength : rng.int(0, 3);
    const items = [];
    for (let i = 0; i < n; ++i) items.push(randomValue(rng, p.arrayChildren));
    return { ethers: items.map((x) => x.ethers), json: items.map((x) => x.json) };
  }
  if (p.baseType === 'tuple') {
    const items = p.components.map((c) => randomValue(rng, c));
    return { ethers: items.map((x) => x.ethers), json: items.map((x) => x.json) };
  }
  const m = /^(u?)int(\d+)$/.exec(p.type);
  if (m) {
    const bits = Number(m[2]);
    if (m[1] === 'u') {
      const v = rng.bigint(bits);
      return { ethers: v, json: v.toString() };
    }
    // rng.bigint's small values are not bounded by its argument: mask to N-1 bits.
    let v = rng.bigint(bits - 1) & ((1n << BigInt(bits - 1)) - 1n);
    if (rng.chance(0.5)) v = -v - (rng.chance(0.3) ? 1n : 0n);  // reaches -2^(N-1)
    return { ethers: v, json: v.toString() };
  }
  if (p.type === 'address') {
    const a = getAddress(hex(rng.bytes(20)));
    return { ethers: a, json: rng.chance(0.5) ? a : a.toLowerCase() };
  }
  if (p.type === 'bool') {
    const b = rng.chance(0.5);
    return { ethers: b, json: b };
  }
  if (p.type === 'string') {
    const s = randomString(rng);
    return { ethers: s, json: s };
  }
  const size = p.type === 'bytes' ? rng.int(0, rng.chance(0.1) ? 100 : 40) : Number(p.type.slice(5));
  const b = hex(rng.bytes(size));
  return { ethers: b, json: b };
}

/** Reads every value of an ethers Result so that deferred decoding errors surface. */
function touch(value) {
  if (value instanceof Result) {
    for (let i = 0; i < value.length; ++i) touch(value[i]);
  }
}

function ethersVerdict(types, data) {
  let decoded;
  try {
    decoded = coder.decode(types, data);
    touch(decoded);
  } catch {
    return { expect: 'reject' };
  }
  const canonical = coder.encode(types, decoded);
  return { expect: canonical === data ? 'ok' : 'ok_or_strict', canonical };
}

const INTERESTING = [0n, 1n, 31n, 32n, 33n, 64n, 96n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n, 2n ** 255n, 2n ** 256n - 1n];

function mutate(rng, encoded) {
  const bytes = Uint8Array.from(Buffer.from(encoded.slice(2), 'hex'));
  const r = rng.int(0, 3);
  if (r === 0 && bytes.length > 0) return hex(bytes.slice(0, rng.int(0, bytes.length - 1)));
  if (r === 1 && bytes.length > 0) {
    bytes[rng.int(0, bytes.length - 1)] ^= 1 << rng.int(0, 7);
    return hex(bytes);
  }
  if (r === 2 && bytes.length >= 32) {
    const at = 32 * rng.int(0, bytes.length / 32 - 1);
    const v = rng.chance(0.7) ? rng.pick(INTERESTING) : BigInt(rng.int(0, bytes.length + 64));
    const word = Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
    bytes.set(word, at);
    return hex(bytes);
  }
  return hex(Uint8Array.from([...bytes, ...rng.bytes(rng.int(1, 64))]));
}

function paramTypes(types) {
  return types.map((t) => Fragment.from(`function f(${t})`).inputs[0]);
}

function randomName(rng) {
  return rng.pick(['a', 'to', 'value', 'amount0In', 'x_1', 'owner', 'data', 'id']) + rng.int(0, 99);
}

function signatureCase(rng) {
  const types = [];
  for (let i = rng.int(0, 4); i > 0; --i) types.push(randomType(rng, 1));
  const alias = (t) => (rng.chance(0.3) ? t.replace(/\b(u?int)256\b/g, '$1') : t);
  const human = `function ${randomName(rng)}(${types.map((t) => `${alias(t)}${rng.chance(0.6) ? ' ' + randomName(rng) : ''}`).join(', ')})`;
  const f = Fragment.from(human);
  const canonical = f.format('sighash');
  return { kind: 'signature', signature: human, canonical, selector: f.selector, topic: id(canonical) };
}

function logCase(rng) {
  const params = [];
  let indexed = 0;
  for (let i = rng.int(0, 5); i > 0; --i) {
    let t = randomType(rng, 1);
    const canIndex = !t.startsWith('(') && !t.endsWith(']');
    const isIndexed = canIndex && indexed < 3 && rng.chance(0.5);
    if (isIndexed) ++indexed;
    params.push({ t, isIndexed, name: `p${i}` });
  }
  const anonymous = rng.chance(0.1);
  const text = `event E${rng.int(0, 999)}(${params.map((p) => `${p.t}${p.isIndexed ? ' indexed' : ''} ${p.name}`).join(', ')})`;
  // Human-readable ABI has no "anonymous"; the JSON form carries it.
  const fragment = JSON.parse(Fragment.from(text).format('json'));
  fragment.anonymous = anonymous;
  const iface = new Interface([fragment]);
  const ev = iface.fragments[0];
  const values = ev.inputs.map((input) => randomValue(rng, input));
  const { data, topics } = iface.encodeEventLog(ev, values.map((v) => v.ethers));
  return { kind: 'log', event: text + (anonymous ? ' anonymous' : ''), fragment, values: values.map((v) => v.json), topics, data };
}

export function generate({ rng, count }) {
  const cases = [];
  // Fixed cases first: the ones a reviewer expects to see.
  const fixed = [
    [['uint256[]'], '0x' + '20'.padStart(64, '0') + 'ff'.repeat(32)],  // a length of 2^256-1
    [['bytes'], '0x' + '20'.padStart(64, '0') + '1'.padStart(64, '0').replace(/^0/, '1')],  // huge length
    [['bool'], '0x' + '2'.padStart(64, '0')],  // dirty bool: ethers says true
    [['address'], '0x' + '1'.repeat(64)],  // high bytes set
    [['string'], '0x' + '20'.padStart(64, '0') + '1'.padStart(64, '0') + 'ff'.padEnd(64, '0')],  // bad UTF-8
  ];
  for (const [types, data] of fixed) cases.push({ kind: 'decode', types, data, ...ethersVerdict(types, data) });
  while (cases.length < count) {
    const r = rng.int(0, 9);
    if (r === 0) { cases.push(signatureCase(rng)); continue; }
    if (r === 1) { cases.push(logCase(rng)); continue; }
    const types = [];
    for (let i = rng.int(1, 4); i > 0; --i) types.push(randomType(rng, 0));
    const params = paramTypes(types);
    const values = params.map((p) => randomValue(rng, p));
    const encoded = coder.encode(params, values.map((v) => v.ethers));
    if (r <= 5) {
      cases.push({ kind: 'encode', types, values: values.map((v) => v.json), encoded });
    } else {
      const data = mutate(rng, encoded);
      cases.push({ kind: 'decode', types, data, ...ethersVerdict(params, data) });
    }
  }
  return cases;
}

