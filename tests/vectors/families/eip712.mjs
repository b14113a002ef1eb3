// EIP-712 vectors from ethers 6's TypedDataEncoder: random type graphs (nested structs, arrays of
// atomic and struct types, nested and fixed arrays, `uint`/`int` aliases), random domains and
// messages, in the JSON form wallets sign (eth_signTypedData_v4), with:
//   {doc, encodeType, typeHash, hashStruct, domainSeparator, digest}        when ethers accepts, or
//   {doc, code}   when ethers rejects a mutated document (a member removed, an integer out of range,
//                 a wrong bytesN or fixed-array length, a bad checksum, an unknown type, a cycle, a
//                 duplicate member), code being the kind of the mutation. Two policies of ours are
//                 applied on top, where ethers converts by JavaScript truthiness: a missing bool
//                 member is an error (ethers reads false) and a bool must be JSON true/false
//                 (ethers reads "yes" as true); such cases carry their code and `ethersAccepts: true`.
import { TypedDataEncoder, getAddress, id } from 'ethers';
import { hex } from '../generate.mjs';

const NAMES = ['Mail', 'Person', 'Order', 'Asset', 'alpha', 'Zeta', 'A_1', 'Permit', 'Item', 'b', 'Group', 'Bid'];
const FIELD_NAMES = ['from', 'to', 'value', 'amount', 'nonce', 'deadline', 'data', 'owner', 'items', 'x', 'Y', 'z_2'];

function atomicType(rng) {
  switch (rng.int(0, 8)) {
    case 0: return `uint${8 * rng.int(1, 32)}`;
    case 1: return `int${8 * rng.int(1, 32)}`;
    case 2: return rng.pick(['uint', 'int']);
    case 3: return 'address';
    case 4: return 'bool';
    case 5: return `bytes${rng.int(1, 32)}`;
    case 6: return 'bytes';
    default: return 'string';
  }
}

function withArrays(rng, t) {
  if (rng.chance(0.25)) t += rng.chance(0.5) ? '[]' : `[${rng.int(1, 3)}]`;
  if (rng.chance(0.1)) t += rng.chance(0.5) ? '[]' : `[${rng.int(1, 2)}]`;
  return t;
}

function randomTypes(rng) {
  const names = [...NAMES];
  for (let i = names.length - 1; i > 0; --i) {
    const j = rng.int(0, i);
    [names[i], names[j]] = [names[j], names[i]];
  }
  const k = rng.int(1, 5);
  const structs = names.slice(0, k);
  const types = {};
  for (let i = 0; i < k; ++i) {
    const fieldNames = [...FIELD_NAMES].sort(() => 0);
    types[structs[i]] = [];
    for (let f = rng.int(1, 4); f > 0; --f) {
      const name = fieldNames.splice(rng.int(0, fieldNames.length - 1), 1)[0];
      const ref = i + 1 < k && rng.chance(0.3) ? structs[rng.int(i + 1, k - 1)] : atomicType(rng);
      types[structs[i]].push({ name, type: withArrays(rng, ref) });
    }
  }
  // Every struct but the first must be referenced by an earlier one (one primary type).
  for (let j = 1; j < k; ++j) {
    const used = structs.slice(0, j).some((s) => types[s].some((f) => f.type.split('[')[0] === structs[j]));
    if (!used) {
      const parent = structs[rng.int(0, j - 1)];
      const taken = new Set(types[parent].map((f) => f.name));
      const name = FIELD_NAMES.find((n) => !taken.has(n)) ?? `f${j}`;
      types[parent].push({ name, type: withArrays(rng, structs[j]) });
    }
  }
  return { types, primaryType: structs[0] };
}

function intValue(rng, bits, signed) {
  let v = rng.bigint(signed ? bits - 1 : bits) & ((1n << BigInt(signed ? bits - 1 : bits)) - 1n);
  if (signed && rng.chance(0.5)) v = -v - (rng.chance(0.3) ? 1n : 0n);
  const r = rng.int(0, 3);
  if (r === 0 && v >= -(2n ** 53n) && v < 2n ** 53n) return Number(v);
  if (r === 1 && v >= 0n) return '0x' + v.toString(16);
  return v.toString();
}

function randomValue(rng, types, type, depth) {
  const array = /^(.*)\[(\d*)\]$/.exec(type);
  if (array) {
    const n = array[2] === '' ? rng.int(0, 3) : Number(array[2]);
    const out = [];
    for (let i = 0; i < n; ++i) out.push(randomValue(rng, types, array[1], depth + 1));
    return out;
  }
  if (types[type]) {
    const out = {};
    for (const f of types[type]) out[f.name] = randomValue(rng, types, f.type, depth + 1);
    return out;
  }
  const m = /^(u?)int(\d*)$/.exec(type);
  if (m) return intValue(rng, m[2] === '' ? 256 : Number(m[2]), m[1] === '');
  if (type === 'address') {
    const a = getAddress(hex(rng.bytes(20)));
    return rng.chance(0.5) ? a : a.toLowerCase();
  }
  if (type === 'bool') return rng.chance(0.5);
  if (type === 'string') return rng.pick(['', 'Hello, Bob!', 'é€😀', 'a'.repeat(rng.int(0, 100)), '"\\\n']);
  if (type === 'bytes') return hex(rng.bytes(rng.int(0, 70)));
  return hex(rng.bytes(Number(type.slice(5))));
}

function randomDomain(rng) {
  const domain = {};
  if (rng.chance(0.8)) domain.name = rng.pick(['Ether Mail', 'Uniswap V2', 'gatehouse', '']);
  if (rng.chance(0.6)) domain.version = rng.pick(['1', '2', '1.0.0']);
  if (rng.chance(0.7)) domain.chainId = rng.pick([1, 137, '8453', '0xaa36a7', 31337]);
  if (rng.chance(0.6)) domain.verifyingContract = getAddress(hex(rng.bytes(20)));
  if (rng.chance(0.2)) domain.salt = hex(rng.bytes(32));
  return domain;
}

const DOMAIN_TYPES = { name: 'string', version: 'string', chainId: 'uint256', verifyingContract: 'address', salt: 'bytes32' };

// Leaves of a message: [holder, key, type] so that a mutation can rewrite or delete one.
function leaves(types, type, value, out) {
  const array = /^(.*)\[(\d*)\]$/.exec(type);
  if (array) {
    out.push({ kind: 'array', holder: null, value, type });
    value.forEach((v, i) => {
      if (typeof v !== 'object' || v === null) out.push({ kind: 'leaf', holder: value, key: i, type: array[1] });
      else leaves(types, array[1], v, out);
    });
    return;
  }
  if (types[type]) {
    for (const f of types[type]) {
      out.push({ kind: 'member', holder: value, key: f.name, type: f.type });
      const v = value[f.name];
      if (typeof v === 'object' && v !== null) leaves(types, f.type, v, out);
    }
  }
}

let strictBool = false;  // set by mutate() when it wrote a non-boolean into a bool member

function mutate(rng, doc) {
  const r = rng.int(0, 5);
  if (r === 0) {  // a reference to an undefined type
    const s = rng.pick(Object.keys(doc.types).filter((t) => t !== 'EIP712Domain'));
    doc.types[s].push({ name: 'ghost', type: rng.pick(['Ghost', 'Ghost[]', 'uint', 'address']) === 'address' ? 'Ghost' : 'Ghost[2]' });
    return 'eip712_type_unknown';
  }
  if (r === 1) {  // a cycle, or a duplicate member
    const s = rng.pick(Object.keys(doc.types).filter((t) => t !== 'EIP712Domain'));
    if (rng.chance(0.5)) doc.types[s].push({ name: 'self', type: `${doc.primaryType}[]` });
    else doc.types[s].push({ ...doc.types[s][0] });
    return 'eip712_types_invalid';
  }
  const found = [];
  leaves(doc.types, doc.primaryType, doc.message, found);
  const members = found.filter((l) => l.kind === 'member');
  if (r === 2 && members.length > 0) {
    const m = rng.pick(members);
    delete m.holder[m.key];
    return 'eip712_field_missing';
  }
  const atoms = found.filter((l) => l.kind !== 'array' && !doc.types[l.type] && !/\]$/.test(l.type));
  if (atoms.length === 0) return null;
  const a = rng.pick(atoms);
  const t = a.type;
  const int = /^(u?)int(\d*)$/.exec(t);
  if (int) {
    const bits = BigInt(int[2] === '' ? 256 : Number(int[2]));
    a.holder[a.key] = (int[1] === 'u' ? (rng.chance(0.5) ? 2n ** bits : -1n) : (rng.chance(0.5) ? 2n ** (bits - 1n) : -(2n ** (bits - 1n)) - 1n)).toString();
    return 'eip712_value_invalid';
  }
  if (/^bytes\d+$/.test(t)) {
    a.holder[a.key] = a.holder[a.key] + (rng.chance(0.5) ? 'ab' : '').slice(0, 2) + (rng.chance(0.5) ? '' : '00');
    if (a.holder[a.key].length === 2 + 2 * Number(t.slice(5))) a.holder[a.key] += '00';
    return 'eip712_value_invalid';
  }
  if (t === 'address') {
    const text = getAddress(a.holder[a.key]);
    const i = text.slice(2).search(/[a-fA-F]/);
    if (i < 0) return null;
    const c = text[2 + i];
    a.holder[a.key] = text.slice(0, 2 + i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + text.slice(3 + i);
    return 'eip712_value_invalid';
  }
  if (t === 'bool' || t === 'string' || t === 'bytes') {
    strictBool = t === 'bool';
    a.holder[a.key] = t === 'bool' ? 'yes' : 7;
    return 'eip712_value_invalid';
  }
  return null;
}

function ethersHashes(doc) {
  const { EIP712Domain, ...types } = doc.types;
  const encoder = TypedDataEncoder.from(types);
  if (encoder.primaryType !== doc.primaryType) throw new Error('generator made an ambiguous primary type');
  const encodeType = encoder.encodeType(doc.primaryType);
  return {
    encodeType,
    typeHash: id(encodeType),
    hashStruct: encoder.hashStruct(doc.primaryType, doc.message),
    domainSeparator: TypedDataEncoder.hashDomain(doc.domain),
    digest: TypedDataEncoder.hash(doc.domain, types, doc.message),
  };
}

export function generate({ rng, count }) {
  const cases = [];
  while (cases.length < count) {
    const { types, primaryType } = randomTypes(rng);
    const message = randomValue(rng, types, primaryType, 0);
    const domain = randomDomain(rng);
    const doc = { types: { ...types }, primaryType, domain, message };
    if (rng.chance(0.6)) {
      doc.types.EIP712Domain = Object.keys(DOMAIN_TYPES).filter((k) => k in domain).map((k) => ({ name: k, type: DOMAIN_TYPES[k] }));
    }
    if (rng.chance(0.75)) {
      cases.push({ doc, ...ethersHashes(doc) });
      continue;
    }
    const code = mutate(rng, doc);
    if (code === null) continue;
    let ethersAccepts = true;
    let hashes = null;
    try { hashes = ethersHashes(doc); } catch { ethersAccepts = false; }
    const policy = code === 'eip712_field_missing' || strictBool;
    strictBool = false;
    if (ethersAccepts && !policy) {
      cases.push({ doc, ...hashes });  // the mutation happened to stay valid
    } else {
      cases.push({ doc, code, ...(ethersAccepts ? { ethersAccepts } : {}) });
    }
  }
  return cases;
}
