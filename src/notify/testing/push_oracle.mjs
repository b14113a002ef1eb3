// Independent checks of what the notify providers produce, for the C++ tests: http_ece (the
// library under npm web-push) decrypts our aes128gcm bodies, and node's crypto verifies our
// ES256 (VAPID) and RS256 (FCM assertion) JWTs. Usage: node push_oracle.mjs <request.json>;
// prints one JSON result line.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const ece = require('http_ece');

const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = (value) => process.stdout.write(JSON.stringify(value) + '\n');

function verifyJwt(jwt, key, options = {}) {
  const [h, p, s] = jwt.split('.');
  const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key, ...options }, Buffer.from(s, 'base64url'));
  return {
    ok,
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

switch (request.op) {
  case 'subscription': {
    // A browser's side of a subscription: its ECDH key pair and auth secret.
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    out({
      p256dh: ecdh.getPublicKey().toString('base64url'),
      private: ecdh.getPrivateKey().toString('base64url'),
      auth: crypto.randomBytes(16).toString('base64url'),
    });
    break;
  }
  case 'decrypt': {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(request.private, 'base64url'));
    const body = Buffer.from(request.body_hex, 'hex');
    const plaintext = ece.decrypt(body, {
      version: 'aes128gcm',
      privateKey: ecdh,
      authSecret: Buffer.from(request.auth, 'base64url'),
    });
    out({ plaintext: plaintext.toString('utf8'), record_size: body.readUInt32BE(16) });
    break;
  }
  case 'verify_es256': {
    const point = Buffer.from(request.public_key, 'base64url');
    const key = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    out(verifyJwt(request.jwt, key, { dsaEncoding: 'ieee-p1363' }));
    break;
  }
  case 'rsa_key': {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    out({
      private: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      public: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    break;
  }
  case 'verify_rs256': {
    out(verifyJwt(request.jwt, crypto.createPublicKey(request.public_pem)));
    break;
  }
  default:
    out({ error: `unknown op ${request.op}` });
}
