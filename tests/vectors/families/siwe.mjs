// EIP-4361 (Sign-In with Ethereum) vectors from the `siwe` package v3 (and its ABNF parser):
//   {kind: "build", fields, text}      siwe's SiweMessage(fields).toMessage(), or {.., code} when
//                                      the constructor rejects the fields
//   {kind: "parse", text, code, fields} new SiweMessage(text): "ok" and the fields it read, or the
//                                      failure kind mapped from the parser's first error
//   {kind: "validate", text, signature, expect, code} siwe's verify() of that signature: by the
//                                      message's address, or (one case in four) by another
//                                      wallet, so the verdict covers the signature check too
// Failure kinds are gatehouse's codes; `codeOfParseError` is the one place mapping the reference's
// messages to them. Two policies of ours are applied on top of the reference and documented in
// src/eth/siwe.hpp: a chain id must be canonical decimal <= 2^53-1, and a message must be the
// canonical serialization of its fields (siwe verifies signatures over its re-serialization).
import { SiweMessage } from 'siwe';
import { Wallet, getAddress } from 'ethers';
import { hex } from '../generate.mjs';

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
const STATEMENT_CHARS = ALPHA + DIGIT + " !#$&'()*+,-./:;=?@[]_~";
const PCHAR = ALPHA + DIGIT + "!$&'()*+,-.:;=@_~";
const REG_NAME = ALPHA + DIGIT + "-._~!$&'()*+,;=";

function str(rng, alphabet, lo, hi) {
  let out = '';
  const n = rng.int(lo, hi);
  for (let i = 0; i < n; ++i) out += alphabet[rng.int(0, alphabet.length - 1)];
  return out;
}

function pctOr(rng, alphabet) {
  return rng.chance(0.1) ? '%' + hex(rng.bytes(1)).slice(2).toUpperCase() : str(rng, alphabet, 1, 1);
}

function hostName(rng) {
  const r = rng.int(0, 9);
  if (r === 0) return `${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}`;
  if (r === 1) return rng.pick(['[::1]', '[2001:db8::8a2e:370:7334]', '[fe80::1:2:3:4]', '[::ffff:10.0.0.1]',
    '[1:2:3:4:5:6:7:8]', '[v7.abc:def]']);
  if (r === 2) return 'localhost';
  let name = str(rng, 'abcdefghijklmnopqrstuvwxyz', 1, 10);
  for (let i = rng.int(0, 2); i > 0; --i) name += '.' + str(rng, 'abcdefghijklmnopqrstuvwxyz0123456789-', 1, 8);
  if (rng.chance(0.2)) name += pctOr(rng, REG_NAME);
  return name;
}

function authority(rng) {
  let out = '';
  if (rng.chance(0.1)) out += str(rng, ALPHA + DIGIT + ':', 1, 8) + '@';
  out += hostName(rng);
  if (rng.chance(0.3)) out += ':' + rng.int(1, 65535);
  return out;
}

function uri(rng) {
  const scheme = rng.pick(['https', 'http', 'ipfs', 'ws', 'urn', 'did', 'a+b-c.d', 'git']);
  const r = rng.int(0, 3);
  let out = scheme + ':';
  if (r <= 1) {
    out += '//' + authority(rng);
    for (let i = rng.int(0, 3); i > 0; --i) out += '/' + str(rng, PCHAR, 0, 8);
  } else if (r === 2) {
    out += str(rng, PCHAR, 1, 12);
    for (let i = rng.int(0, 2); i > 0; --i) out += '/' + str(rng, PCHAR, 0, 6);
  } else {
    out += '/' + str(rng, PCHAR, 0, 12);
  }
  if (rng.chance(0.3)) out += '?' + str(rng, PCHAR + '/?', 0, 12);
  if (rng.chance(0.2)) out += '#' + str(rng, PCHAR + '/?', 0, 8);
  return out;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** An RFC 3339 text of `ms` since the epoch, in a random but exact rendering. */
function rfc3339(rng, ms, exotic) {
  const offsetMin = rng.chance(0.3) ? rng.int(-23 * 60 - 59, 23 * 60 + 59) : 0;
  const d = new Date(ms + offsetMin * 60000);
  let text = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `${exotic && rng.chance(0.2) ? 't' : 'T'}${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const f = rng.int(0, 4);
  const millis = pad(d.getUTCMilliseconds(), 3);
  if (f === 1) text += '.' + millis;
  if (f === 2) text += '.' + millis + str(rng, DIGIT, 1, 3);  // truncated to ms by both sides
  if (f === 3 && millis.endsWith('00')) text += '.' + millis[0];
  if (offsetMin === 0 && rng.chance(0.8)) {
    text += exotic && rng.chance(0.2) ? 'z' : 'Z';
  } else {
    const a = Math.abs(offsetMin);
    text += `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  }
  return text;
}

const BASE = Date.UTC(2025, 0, 1);
const randomMs = (rng) => BASE + rng.int(-400, 400) * 86400000 + rng.int(0, 86399999);

function randomFields(rng, wallet, exotic) {
  const f = {
    domain: authority(rng),
    address: wallet ? wallet.address : getAddress(hex(rng.bytes(20))),
    uri: uri(rng),
    version: '1',
    chainId: rng.pick([1, 10, 137, 8453, 42161, 11155111, 0, rng.int(0, 4294967295),
      Number(rng.bigBits(53))]),
    nonce: str(rng, ALPHA + DIGIT, 8, 24),
    issuedAt: rfc3339(rng, randomMs(rng), exotic),
  };
  if (rng.chance(0.3)) f.scheme = rng.pick(['https', 'http', 'did', 'a1+.-b']);
  if (rng.chance(0.7)) f.statement = rng.chance(0.1) ? '' : str(rng, STATEMENT_CHARS, 1, 80);
  if (rng.chance(0.5)) f.expirationTime = rfc3339(rng, randomMs(rng), exotic);
  if (rng.chance(0.4)) f.notBefore = rfc3339(rng, randomMs(rng), exotic);
  if (rng.chance(0.3)) f.requestId = str(rng, PCHAR, 1, 20);
  if (rng.chance(0.4)) {
    f.resources = [];
    for (let i = rng.int(0, 4); i > 0; --i) f.resources.push(uri(rng));
  }
  return f;
}

/** gatehouse's code for the error `new SiweMessage(text)` threw. */
function codeOfParseError(err) {
  const first = String(err.message).split('\n')[0];
  const rules = [
    [/^Invalid number\.$/, 'siwe_chain_id_invalid'],
    [/domain cannot be empty|invalid domain/, 'siwe_domain_invalid'],
    [/invalid (EIP-55 )?address/, 'siwe_address_invalid'],
    [/invalid resource/, 'siwe_resources_invalid'],
    [/invalid URI/, 'siwe_uri_invalid'],
    [/invalid version/, 'siwe_version_invalid'],
    [/invalid chain-id/, 'siwe_chain_id_invalid'],
    [/invalid nonce/, 'siwe_nonce_invalid'],
    [/date time/, 'siwe_time_invalid'],
    [/^(invalid message: max line number|Invalid message:)/, 'siwe_malformed'],
  ];
  for (const [re, code] of rules) if (re.test(first)) return code;
  throw new Error(`unmapped siwe parser error: ${first}`);
}

/** The outcome of parsing `text` with siwe, plus our two documented policies. */
function reference(text) {
  let m;
  try {
    m = new SiweMessage(text);
  } catch (err) {
    return { code: codeOfParseError(err) };
  }
  const chainText = /\nChain ID: ([0-9]*)\n/.exec(text)?.[1];
  if (!Number.isSafeInteger(m.chainId) || String(m.chainId) !== chainText) return { code: 'siwe_chain_id_invalid' };
  if (m.toMessage() !== text) return { code: 'siwe_malformed' };
  return { code: 'ok', message: m };
}

function fieldsOf(m) {
  const out = {};
  for (const k of ['scheme', 'domain', 'address', 'statement', 'uri', 'version', 'chainId', 'nonce', 'issuedAt',
    'expirationTime', 'notBefore', 'requestId', 'resources']) {
    if (m[k] !== undefined) out[k] = m[k];
  }
  return out;
}

const BAD_VALUES = {
  address: (rng, f) => rng.pick([f.address.toLowerCase(), f.address.slice(0, 41), '0X' + f.address.slice(2),
    f.address + 'a', f.address.slice(0, 2) + 'g' + f.address.slice(3), '']),
  nonce: (rng) => rng.pick([str(rng, ALPHA + DIGIT, 0, 7), str(rng, ALPHA, 8, 10) + '-x', '', 'abcd efgh']),
  version: (rng) => rng.pick(['2', '11', '', 'one', '0']),
  chainId: (rng) => rng.pick(['', 'x', '01', '9007199254740993', '-1', '1.5', '123456789012345678901234', '0x1']),
  uri: (rng) => rng.pick(['', '1https://x', 'https//x', 'https://exa mple.com', 'ht tp://x', ':x', 'https://x\\y']),
  issuedAt: (rng) => rng.pick(['2021-13-01T00:00:00Z', '2021-02-29T00:00:00Z', '2021-01-01T24:00:00Z',
    '2021-01-01T00:60:00Z', '2021-01-01 00:00:00Z', '2021-01-01T00:00:00', '2021-01-01T00:00:00+2:00',
    '21-01-01T00:00:00Z', '2021-01-01T00:00:00.Z', '2020-02-29T00:00:00Z', '2021-04-31T00:00:00Z',
    '2021-01-01T00:00:60Z', '2021-01-01T00:00:00+24:00']),
  domain: (rng) => rng.pick(['', 'exa mple.com', '[1:2:3:4:5:6:7:8:9]', '[::1', 'a@b@c', '[::1.2.3.256]',
    '[1::2::3]', 'host:port', 'https://']),
};

function mutate(rng, text, fields) {
  const lines = text.split('\n');
  const setLine = (prefix, value) => {
    const i = lines.findIndex((l) => l.startsWith(prefix));
    if (i < 0) return false;
    lines[i] = prefix + value;
    return true;
  };
  switch (rng.int(0, 13)) {
    case 0: lines[1] = BAD_VALUES.address(rng, fields); break;
    case 1: setLine('Nonce: ', BAD_VALUES.nonce(rng)); break;
    case 2: setLine('Version: ', BAD_VALUES.version(rng)); break;
    case 3: setLine('Chain ID: ', BAD_VALUES.chainId(rng)); break;
    case 4: setLine('URI: ', BAD_VALUES.uri(rng)); break;
    case 5: setLine(rng.pick(['Issued At: ', 'Expiration Time: ', 'Not Before: ']), BAD_VALUES.issuedAt(rng)); break;
    case 6: lines[0] = lines[0].replace(/^.* wants/, BAD_VALUES.domain(rng) + ' wants'); break;
    case 7: {  // a broken resource, or a trailing line
      const i = lines.indexOf('Resources:');
      if (i >= 0 && i + 1 < lines.length) lines[rng.int(i + 1, lines.length - 1)] = rng.pick(['* x:y', '- 9x', '-x:y', '- ', '- a b:c']);
      else lines.push(rng.pick(['', 'Resources:', 'Resources:\n', 'Resources:\n- :bad', 'Extra: 1']));
      break;
    }
    case 8: if (lines.length > 3) lines.splice(rng.int(0, lines.length - 1), 1); break;
    case 9: {
      const a = rng.int(0, lines.length - 1);
      const b = rng.int(0, lines.length - 1);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      break;
    }
    case 10: {
      const joined = lines.join('\n');
      const at = rng.int(0, joined.length);
      const c = rng.pick([' ', '\n', '\r', '\t', '"', '%', '<', '\\', '{', 'é', '€', 'x', '0', ':', '/', '#', '@']);
      return joined.slice(0, at) + c + joined.slice(at);
    }
    case 11: return text.slice(0, rng.int(0, text.length));
    case 12: {  // statement with a character the grammar excludes, or a request id
      const i = lines.findIndex((l) => l.startsWith('URI: '));
      if (rng.chance(0.5)) lines.splice(i - 1, 0, 'state' + rng.pick(['"', '%', '<', '>', '\\', '^', '`', '{', '|', '}', 'ü']) + 'ment', '');
      else setLine('Issued At: ', fields.issuedAt + '\nRequest ID: ' + rng.pick(['', 'a b', '%zz', 'ok']));
      break;
    }
    default: {
      const joined = lines.join('\n');
      if (joined.length === 0) return joined;
      const at = rng.int(0, joined.length - 1);
      return joined.slice(0, at) + joined.slice(at + 1);
    }
  }
  return lines.join('\n');
}

async function validateCase(rng, wallet, stranger) {
  const fields = randomFields(rng, wallet, false);
  delete fields.scheme;
  if (rng.chance(0.5)) fields.scheme = 'https';
  const text = new SiweMessage(fields).toMessage();
  const message = new SiweMessage(text);
  const signature = (rng.chance(0.25) ? stranger : wallet).signMessageSync(text);
  const expect = {};
  if (rng.chance(0.7)) expect.domain = rng.chance(0.8) ? message.domain : 'other.example';
  if (rng.chance(0.7)) expect.nonce = rng.chance(0.8) ? message.nonce : 'zzzzzzzz9';
  if (rng.chance(0.2)) expect.scheme = rng.pick(['https', 'http']);
  // Pick "now" near one of the bounds so both sides of each comparison occur.
  const bound = rng.pick([message.expirationTime, message.notBefore, message.issuedAt].filter(Boolean));
  const now = new Date(new Date(bound).getTime() + rng.pick([-1, 0, 1, rng.int(-86400000, 86400000)]));
  expect.time = now.toISOString();
  const result = await message.verify({ signature, ...expect }, { suppressExceptions: true });
  let code = 'ok';
  if (!result.success) {
    const map = {
      'Expired message.': 'siwe_expired',
      'Message is not valid yet.': 'siwe_not_yet_valid',
      'Domain does not match provided domain for verification.': 'siwe_domain_mismatch',
      'Nonce does not match provided nonce for verification.': 'siwe_nonce_mismatch',
      'Scheme does not match provided scheme for verification.': 'siwe_scheme_mismatch',
      'Signature does not match address of the message.': 'siwe_signature_invalid',
    };
    code = map[result.error?.type];
    if (!code) throw new Error(`unexpected siwe verify failure: ${JSON.stringify(result.error)}`);
  }
  return { kind: 'validate', text, signature, expect, code };
}

export async function generate({ rng, count }) {
  const cases = [];
  // One signer per run is enough: the signature only has to be valid, it is not what is tested.
  const wallet = new Wallet(hex(rng.bytes(32)));
  const stranger = new Wallet(hex(rng.bytes(32)));
  for (let i = 0; i < count; ++i) {
    const r = i % 4;
    if (r === 3) {
      cases.push(await validateCase(rng, wallet, stranger));
      continue;
    }
    const fields = randomFields(rng, null, true);
    let text;
    try {
      text = new SiweMessage(fields).toMessage();
    } catch (err) {
      cases.push({ kind: 'build', fields, code: codeOfParseError(err) });
      continue;
    }
    if (r === 0) {
      cases.push({ kind: 'build', fields, text });
      const ref = reference(text);
      cases.push({ kind: 'parse', text, code: ref.code, ...(ref.message ? { fields: fieldsOf(ref.message) } : {}) });
    } else {
      const bad = mutate(rng, text, fields);
      const ref = reference(bad);
      cases.push({ kind: 'parse', text: bad, code: ref.code, ...(ref.message ? { fields: fieldsOf(ref.message) } : {}) });
    }
  }
  return cases;
}
