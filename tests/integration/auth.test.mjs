// Wallet sign-in, sessions, devices and keys, and bot API keys through the real binary, with the
// reference `siwe` and `ethers` packages signing for random wallets and the reference MLS client
// (ts-mls) making device keys and key packages; on SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Wallet, JsonRpcProvider, ContractFactory, getAddress } from 'ethers';
import { SiweMessage } from 'siwe';
import { startServer, freshDatabase, backends, errorOf, runCommand } from './lib/harness.mjs';
import { startAnvil, contractArtifact } from './lib/anvil.mjs';
import { MlsDevice } from './lib/mls-client.mjs';

const DOMAIN = 'app.example.test';
const b64 = (bytes) => Buffer.from(bytes).toString('base64');

for (const backend of backends()) {
  describe(`auth (${backend})`, () => {
    let anvil, db, server, provider;
    before(async () => {
      anvil = await startAnvil();
      provider = new JsonRpcProvider(anvil.url, 31337, { staticNetwork: true });
      db = freshDatabase(backend);
      server = await startServer([...db.flags, '--test-hooks', '--chain', `31337=${anvil.url}`, '--siwe-domain', DOMAIN,
        '--signin-rate-limit', '1000', '--signin-rate-burst', '1000', '--signin-address-rate-limit', '1000',
        '--signin-address-rate-burst', '1000', '--rate-limit', '5000', '--rate-burst', '5000',
        '--key-fetch-rate-burst', '1000', '--key-fetch-target-rate-burst', '1000']);
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, `server exit ${JSON.stringify(stopped)}: ${server.stderr.slice(-4000)}`);
      anvil.stop();
      db.drop();
    });

    const api = (path, { method = 'GET', token, body, headers = {} } = {}) => fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const nonce = async () => (await (await api('/v1/auth/nonce', { method: 'POST' })).json()).nonce;
    const message = (address, n, fields = {}) => new SiweMessage({
      domain: DOMAIN, address, statement: 'Sign in to gatehouse.', uri: `https://${DOMAIN}/login`, version: '1',
      chainId: 31337, nonce: n, issuedAt: new Date().toISOString(), ...fields,
    }).prepareMessage();
    const verify = (text, signature) => api('/v1/auth/verify', { method: 'POST', body: { message: text, signature } });
    // A device's keys for an account: its identity key, key packages on demand and a registration body.
    async function deviceKeys(account) {
      const d = new MlsDevice({ url: server.url, token: account.token, address: account.address });
      const body = await d.registrationBody({ count: 0 });
      return {
        d,
        identity_key: body.identity_key,
        last_resort_key_package: body.last_resort_key_package,
        packages: async (n) => { const out = []; for (let i = 0; i < n; i++) out.push(await d.makeKeyPackage()); return out; },
      };
    }

    async function signIn(wallet) {
      const text = message(wallet.address, await nonce());
      const r = await verify(text, await wallet.signMessage(text));
      assert.equal(r.status, 200, JSON.stringify(await r.clone().json()));
      return r.json();
    }
    async function expectCode(r, status, code) {
      assert.equal(r.status, status);
      assert.equal((await errorOf(r)).code, code);
    }

    test('a wallet signs in; the account is created once and announced through the outbox', async () => {
      const wallet = Wallet.createRandom();
      const first = await signIn(wallet);
      assert.equal(first.address, wallet.address);
      assert.match(first.token, /^ghs_[0-9a-f]{32}_[0-9a-f]{64}$/);
      assert.equal(first.new_account, true);
      const ttl = Date.parse(first.expires_at) - Date.now();
      assert.ok(ttl > 29.9 * 86400e3 && ttl <= 30 * 86400e3);
      const again = await signIn(wallet);
      assert.equal(again.new_account, false);
      const me = await (await api('/v1/me', { token: first.token })).json();
      assert.equal(me.address, wallet.address);
      assert.deepEqual(me.devices, []);
      const events = (await (await api('/v1/_test/outbox?topic=auth.signed_in')).json()).events
        .filter((e) => e.payload.address === wallet.address);
      assert.deepEqual(events.map((e) => e.payload.new_account), [true, false]);
      assert.equal(events[0].ordering_key, wallet.address.toLowerCase());
    });

    test('every failure the reference client can produce is a 401 with its own code, and stores nothing', async () => {
      const wallet = Wallet.createRandom();
      const other = Wallet.createRandom();
      const cases = [];
      const n = await nonce();
      const signed = async (text, by = wallet) => [text, await by.signMessage(text)];
      cases.push(['siwe_expired', await signed(message(wallet.address, n, { expirationTime: new Date(Date.now() - 120e3).toISOString() }))]);
      cases.push(['siwe_not_yet_valid', await signed(message(wallet.address, n, { notBefore: new Date(Date.now() + 600e3).toISOString() }))]);
      cases.push(['siwe_not_yet_valid', await signed(message(wallet.address, n, { issuedAt: new Date(Date.now() + 600e3).toISOString() }))]);
      cases.push(['siwe_domain_mismatch', await signed(message(wallet.address, n, { domain: 'evil.example', uri: 'https://evil.example/' }))]);
      cases.push(['siwe_uri_mismatch', await signed(message(wallet.address, n, { uri: 'https://evil.example/login' }))]);
      cases.push(['siwe_chain_unsupported', await signed(message(wallet.address, n, { chainId: 1 }))]);
      cases.push(['siwe_nonce_invalid', await signed(message(wallet.address, 'NeverIssued12345'))]);
      cases.push(['siwe_signature_invalid', await signed(message(wallet.address, n), other)]);
      cases.push(['siwe_signature_invalid', [message(wallet.address, n), '0x1234']]);
      cases.push(['siwe_signature_invalid', [message(wallet.address, n), 'not hex']]);
      cases.push(['siwe_malformed', ['hello, sign me in', '0x00']]);
      const good = message(wallet.address, n);
      cases.push(['siwe_address_invalid', await signed(good.replace(wallet.address, wallet.address.toLowerCase()))]);
      cases.push(['siwe_version_invalid', await signed(good.replace('Version: 1', 'Version: 2'))]);
      cases.push(['siwe_nonce_invalid', await signed(good.replace(`Nonce: ${n}`, 'Nonce: abc'))]);
      cases.push(['siwe_time_invalid', await signed(good.replace(/Issued At: .*/, 'Issued At: yesterday'))]);
      for (const [code, [text, sig]] of cases) {
        const r = await verify(text, sig);
        assert.equal(r.status, 401, `${code}: got ${r.status}`);
        assert.equal((await errorOf(r)).code, code, text);
      }
      // A body of the wrong shape is bad input (400), not a failed sign-in.
      const missing = await api('/v1/auth/verify', { method: 'POST', body: { message: 1 } });
      await expectCode(missing, 400, 'invalid_field');
      // Nothing was stored: the nonce still works, and the account is new.
      const r = await verify(good, await wallet.signMessage(good));
      assert.equal(r.status, 200);
      assert.equal((await r.json()).new_account, true);
    });

    test('a nonce signs in once, even when verifies race', async () => {
      const wallet = Wallet.createRandom();
      const text = message(wallet.address, await nonce());
      const sig = await wallet.signMessage(text);
      const results = await Promise.all(Array.from({ length: 8 }, () => verify(text, sig)));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
      for (const r of results.filter((x) => x.status === 401)) assert.equal((await errorOf(r)).code, 'siwe_nonce_invalid');
      await expectCode(await verify(text, sig), 401, 'siwe_nonce_invalid');
    });

    test('an EIP-1271 contract wallet deployed on the chain signs in', async () => {
      const owner = new Wallet(Wallet.createRandom().privateKey, provider);
      const funder = await provider.getSigner(0);
      await (await funder.sendTransaction({ to: owner.address, value: 10n ** 18n })).wait();
      const { abi, bytecode } = contractArtifact('SmartWallet');
      const contract = await new ContractFactory(abi, bytecode, owner).deploy(owner.address);
      await contract.waitForDeployment();
      const walletAddress = getAddress(await contract.getAddress());
      let text = message(walletAddress, await nonce());
      let r = await verify(text, await owner.signMessage(text));
      assert.equal(r.status, 200, JSON.stringify(await r.clone().json()));
      assert.equal((await r.json()).address, walletAddress);
      text = message(walletAddress, await nonce());
      await expectCode(await verify(text, await Wallet.createRandom().signMessage(text)), 401, 'siwe_signature_invalid');
    });

    test('a contract whose fallback echoes its calldata cannot sign in with 65 zero bytes', async () => {
      // Its answer to isValidSignature starts with 0x1626ba7e (the selector it echoes), which is
      // not the ABI-encoded magic value: the sign-in must fail.
      const funder = await provider.getSigner(0);
      const { abi, bytecode } = contractArtifact('EchoFallback');
      const contract = await new ContractFactory(abi, bytecode, funder).deploy();
      await contract.waitForDeployment();
      const echo = getAddress(await contract.getAddress());
      const probe = await provider.call({ to: echo, data: '0x1626ba7e' + '00'.repeat(32) });
      assert.ok(probe.startsWith('0x1626ba7e'), 'the contract echoes');
      const text = message(echo, await nonce());
      await expectCode(await verify(text, '0x' + '00'.repeat(65)), 401, 'siwe_signature_invalid');
    });

    test('a message URI must be https (http only on loopback) and carry no userinfo', async () => {
      const wallet = Wallet.createRandom();
      for (const uri of [`ftp://${DOMAIN}/login`, `http://${DOMAIN}/login`, `https://user@${DOMAIN}/login`,
        `https://${DOMAIN}:pw@evil.example/login`]) {
        const text = message(wallet.address, await nonce(), { uri });
        await expectCode(await verify(text, await wallet.signMessage(text)), 401, 'siwe_uri_invalid');
      }
      await signIn(wallet);  // the same wallet with an https URI is fine
    });

    test('verify with a body of the wrong shape is 400, not 401', async () => {
      for (const body of [{ message: 5, signature: '0x00' }, { message: 'x' }, { signature: '0x00' }, {}]) {
        await expectCode(await verify(body.message, body.signature), 400, 'invalid_field');
      }
      const r = await api('/v1/auth/verify', { method: 'POST', body: '[1,2]' });
      assert.equal(r.status, 400);
    });

    test('device names are printable UTF-8 within 64 characters', async () => {
      const alice = await signIn(Wallet.createRandom());
      const k = await deviceKeys(alice);
      const base = { identity_key: k.identity_key, last_resort_key_package: k.last_resort_key_package };
      for (const name of ['\u001b[31mred\u001b[0m', 'bell\u0007', 'rtl\u202egnp.exe', 'x'.repeat(65), '   ']) {
        await expectCode(await api('/v1/devices', { method: 'POST', token: alice.token, body: { ...base, name } }), 400, 'invalid_field');
      }
      // U+0000 is refused before any field's own rule (errors.md).
      await expectCode(await api('/v1/devices', { method: 'POST', token: alice.token, body: { ...base, name: 'a\u0000b' } }), 400, 'invalid_json');
      const name = 'Téléphone de Zoë 📱';
      const r = await api('/v1/devices', { method: 'POST', token: alice.token, body: { ...base, name } });
      assert.equal(r.status, 201);
      const me = await (await api('/v1/me', { token: alice.token })).json();
      assert.deepEqual(me.devices.map((d) => d.name), [name]);
    });

    test('a user agent of bytes that are not UTF-8, or too long, is stored as valid text within 256 bytes', async () => {
      // Header bytes as sent: "caf" and a lone 0xE9 (Latin-1 é), then 100 euro signs of UTF-8.
      // Written on a plain socket: HTTP clients re-encode header text.
      const ua = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('€'.repeat(100))]);
      const rawPost = (path, body, userAgent) => new Promise((resolve, reject) => {
        const { hostname, port } = new URL(server.url);
        const payload = Buffer.from(JSON.stringify(body));
        const sock = net.connect(Number(port), hostname, () => {
          sock.end(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\n`
            + `content-length: ${payload.length}\r\nconnection: close\r\nuser-agent: `), userAgent, Buffer.from('\r\n\r\n'), payload]));
        });
        const chunks = [];
        sock.on('data', (c) => chunks.push(c));
        sock.on('error', reject);
        sock.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
        });
      });
      const wallet = Wallet.createRandom();
      const text = message(wallet.address, await nonce());
      const r = await rawPost('/v1/auth/verify', { message: text, signature: await wallet.signMessage(text) }, ua);
      assert.equal(r.status, 200, r.body);
      const { token } = JSON.parse(r.body);
      const list = await api('/v1/sessions', { token });
      const bytes = Buffer.from(await list.arrayBuffer());
      assert.equal(new TextDecoder('utf-8', { fatal: true }).decode(bytes).length > 0, true, 'the response is valid UTF-8');
      const [session] = JSON.parse(bytes.toString()).sessions;
      // The stray byte became U+FFFD; the cut fell before the euro sign that would pass 256 bytes.
      assert.equal(session.user_agent, `caf\uFFFD${'€'.repeat(83)}`);
      assert.equal(Buffer.byteLength(session.user_agent), 255);
    });

    test('logout and session deletion take effect on the next request', async () => {
      const wallet = Wallet.createRandom();
      const a = await signIn(wallet);
      const b = await signIn(wallet);
      const list = (await (await api('/v1/sessions', { token: a.token })).json()).sessions;
      assert.equal(list.length, 2);
      assert.deepEqual(list.filter((s) => s.current).map((s) => s.id), [a.session_id]);
      assert.equal((await api(`/v1/sessions/${b.session_id}`, { method: 'DELETE', token: a.token })).status, 204);
      await expectCode(await api('/v1/me', { token: b.token }), 401, 'invalid_session');
      assert.equal((await api('/v1/auth/logout', { method: 'POST', token: a.token })).status, 204);
      await expectCode(await api('/v1/me', { token: a.token }), 401, 'invalid_session');
      await expectCode(await api('/v1/me', { token: a.token.slice(0, -1) + (a.token.endsWith('0') ? '1' : '0') }), 401, 'invalid_session');
      await expectCode(await api('/v1/me', { token: 'garbage' }), 401, 'invalid_session');
    });

    test('every authenticated endpoint answers 401 without a token', async () => {
      for (const [method, path] of [['GET', '/v1/me'], ['POST', '/v1/auth/logout'], ['GET', '/v1/sessions'],
        ['DELETE', '/v1/sessions/x'], ['POST', '/v1/devices'], ['POST', '/v1/devices/x/key-packages'],
        ['DELETE', '/v1/devices/x'], ['GET', `/v1/keys/${Wallet.createRandom().address}`]]) {
        const r = await api(path, { method, body: method === 'POST' ? {} : undefined });
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal((await errorOf(r)).code, 'unauthenticated');
      }
    });

    test('devices: register with checked key packages, at most 10, 403 for another account', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bob = await signIn(Wallet.createRandom());
      const k = await deviceKeys(alice);
      const base = { name: 'phone', push: { provider: 'fcm', token: 'fcm-token' }, identity_key: k.identity_key, last_resort_key_package: k.last_resort_key_package };
      let r = await api('/v1/devices', { method: 'POST', token: alice.token, body: { ...base, key_packages: await k.packages(5) } });
      assert.equal(r.status, 201);
      const { device_id } = await r.json();

      const stranger = await deviceKeys(alice);
      const forBob = await deviceKeys(bob);
      const tooMany = Array.from({ length: 101 }, () => k.last_resort_key_package);
      const bad = [
        [{ ...base, identity_key: 'not base64!' }, 400, 'invalid_key'],
        [{ ...base, identity_key: Buffer.alloc(31).toString('base64') }, 400, 'invalid_key'],
        [{ ...base, key_packages: await stranger.packages(1) }, 400, 'key_package_signature_key'],
        [{ ...base, last_resort_key_package: forBob.last_resort_key_package }, 400, 'key_package_identity'],
        [{ ...base, key_packages: ['AAAA'] }, 400, 'key_package_malformed'],
        [{ ...base, last_resort_key_package: undefined }, 400, 'invalid_field'],
        [{ ...base, key_packages: tooMany }, 413, 'too_many_key_packages'],
        [{ ...base, push: { provider: 'carrier-pigeon', token: 'x' } }, 400, 'invalid_field'],
        [{ ...base, name: '' }, 400, 'invalid_field'],
      ];
      for (const [body, status, code] of bad) await expectCode(await api('/v1/devices', { method: 'POST', token: alice.token, body }), status, code);

      // Bob may not touch Alice's device or sessions.
      await expectCode(await api(`/v1/devices/${device_id}/key-packages`, { method: 'POST', token: bob.token, body: { key_packages: await k.packages(1) } }), 403, 'forbidden');
      await expectCode(await api(`/v1/devices/${device_id}`, { method: 'DELETE', token: bob.token }), 403, 'forbidden');
      await expectCode(await api(`/v1/sessions/${alice.session_id}`, { method: 'DELETE', token: bob.token }), 403, 'forbidden');
      await expectCode(await api('/v1/devices/nope', { method: 'DELETE', token: bob.token }), 404, 'not_found');

      // Replenish (a package sent twice is kept once) and replace the last-resort package; a
      // package of another identity key is refused.
      const more = await k.packages(3);
      r = await api(`/v1/devices/${device_id}/key-packages`, { method: 'POST', token: alice.token, body: { key_packages: [...more, more[0]] } });
      assert.equal((await r.json()).key_packages, 8);
      r = await api(`/v1/devices/${device_id}/key-packages`, { method: 'POST', token: alice.token, body: { last_resort_key_package: (await k.packages(1))[0] } });
      assert.equal(r.status, 200);
      await expectCode(await api(`/v1/devices/${device_id}/key-packages`, { method: 'POST', token: alice.token, body: { key_packages: await stranger.packages(1) } }), 400, 'key_package_signature_key');
      await expectCode(await api(`/v1/devices/${device_id}/key-packages`, { method: 'POST', token: alice.token, body: {} }), 400, 'invalid_field');

      // Up to 10 devices; the 11th is refused; deleting one makes room.
      for (let i = 1; i < 10; i++) {
        const kk = await deviceKeys(alice);
        const rr = await api('/v1/devices', { method: 'POST', token: alice.token, body: { name: `d${i}`, identity_key: kk.identity_key, last_resort_key_package: kk.last_resort_key_package } });
        assert.equal(rr.status, 201);
      }
      await expectCode(await api('/v1/devices', { method: 'POST', token: alice.token, body: base }), 409, 'too_many_devices');
      let me = await (await api('/v1/me', { token: alice.token })).json();
      assert.equal(me.devices.length, 10);
      assert.equal(me.devices.find((d) => d.device_id === device_id).key_packages, 8);
      assert.equal((await api(`/v1/devices/${device_id}`, { method: 'DELETE', token: alice.token })).status, 204);
      me = await (await api('/v1/me', { token: alice.token })).json();
      assert.equal(me.devices.length, 9);
      const removed = (await (await api('/v1/_test/outbox?topic=auth.device_removed')).json()).events;
      assert.ok(removed.some((e) => e.payload.device_id === device_id));
      assert.equal((await api('/v1/devices', { method: 'POST', token: alice.token, body: base })).status, 201);
    });

    test('50 parallel key fetches hand out each of 10 one-time key packages once', async () => {
      const owner = await signIn(Wallet.createRandom());
      const reader = await signIn(Wallet.createRandom());
      const k = await deviceKeys(owner);
      const uploaded = await k.packages(10);
      const r = await api('/v1/devices', { method: 'POST', token: owner.token, body: { name: 'laptop', identity_key: k.identity_key, key_packages: uploaded, last_resort_key_package: k.last_resort_key_package } });
      const { device_id } = await r.json();
      const fetched = await Promise.all(Array.from({ length: 50 }, async () => {
        const res = await api(`/v1/keys/${owner.address}`, { token: reader.token });
        assert.equal(res.status, 200);
        return (await res.json()).devices;
      }));
      const handed = fetched.map((d) => d[0]).filter((d) => !d.last_resort).map((d) => d.key_package);
      assert.equal(handed.length, 10);
      assert.deepEqual(new Set(handed), new Set(uploaded));
      assert.equal(fetched.filter((d) => d[0].last_resort).length, 40);
      for (const d of fetched) {
        assert.equal(d[0].device_id, device_id);
        assert.equal(d[0].identity_key, k.identity_key);
        if (d[0].last_resort) assert.equal(d[0].key_package, k.last_resort_key_package);
      }
      const low = (await (await api('/v1/_test/outbox?topic=keys.low')).json()).events.filter((e) => e.payload.device_id === device_id);
      assert.equal(low.length, 1, 'keys.low fires once when the device drops below 10');
      await expectCode(await api('/v1/keys/0xnot-an-address', { token: reader.token }), 400, 'invalid_address');
    });

    test('bot API keys: printed once, accepted on /v1/bot/* only, within scopes', async () => {
      const created = runCommand(['apikey', 'create', '--name', 'discord-bot', ...db.flags]);
      assert.equal(created.code, 0, created.stderr);
      const key = created.stdout.trim();
      assert.match(key, /^ghk_[0-9a-f]{32}_[0-9a-f]{64}$/);
      let r = await api('/v1/bot/whoami', { headers: { 'x-api-key': key } });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { key_id: key.slice(4, 36), name: 'discord-bot', scopes: ['bot.read'] });
      await expectCode(await api('/v1/bot/whoami'), 401, 'unauthenticated');
      await expectCode(await api('/v1/bot/whoami', { headers: { 'x-api-key': key.slice(0, -2) + 'ff' } }), 401, 'invalid_api_key');
      const session = await signIn(Wallet.createRandom());
      await expectCode(await api('/v1/bot/whoami', { token: session.token }), 401, 'unauthenticated');
      await expectCode(await api('/v1/me', { headers: { 'x-api-key': key } }), 401, 'unauthenticated');
      const writer = runCommand(['apikey', 'create', '--name', 'writer', '--scope', 'bot.write', ...db.flags]).stdout.trim();
      await expectCode(await api('/v1/bot/whoami', { headers: { 'x-api-key': writer } }), 403, 'missing_scope');
      const badScope = runCommand(['apikey', 'create', '--name', 'x', '--scope', 'admin', ...db.flags]);
      assert.equal(badScope.code, 2);
      assert.match(badScope.stderr, /scope/);

      // apikey list shows every key without its secret; apikey revoke takes effect at once.
      const id = key.slice(4, 36);
      const listed = runCommand(['apikey', 'list', ...db.flags]);
      assert.equal(listed.code, 0, listed.stderr);
      const line = listed.stdout.split('\n').find((l) => l.startsWith(id));
      assert.ok(line, listed.stdout);
      assert.match(line, /discord-bot\s+bot\.read\s+\S+Z\s+-$/);
      assert.ok(!listed.stdout.includes(key.slice(37)), 'no secret in the listing');
      const revoked = runCommand(['apikey', 'revoke', id, ...db.flags]);
      assert.equal(revoked.code, 0, revoked.stderr);
      await expectCode(await api('/v1/bot/whoami', { headers: { 'x-api-key': key } }), 401, 'invalid_api_key');
      assert.match(runCommand(['apikey', 'list', ...db.flags]).stdout.split('\n').find((l) => l.startsWith(id)), /Z\s+\S+Z$/);
      assert.equal(runCommand(['apikey', 'revoke', id, ...db.flags]).code, 2);
      assert.equal(runCommand(['apikey', 'revoke', 'no-such-key', ...db.flags]).code, 2);
    });
  });
}

test('sign-in is rate limited per IP and per address, with Retry-After', async () => {
  const db = freshDatabase('sqlite');
  // A wrong signature is asked of the chain (is the address a contract wallet?): a real one.
  const anvil = await startAnvil();
  let server = await startServer([...db.flags, '--siwe-domain', DOMAIN, '--chain', '31337=http://127.0.0.1:1',
    '--signin-rate-limit', '0.01', '--signin-rate-burst', '3']);
  try {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const r = await fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' });
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await errorOf(r)).code, 'rate_limited');
    await server.stop();

    server = await startServer([...db.flags, '--siwe-domain', DOMAIN, '--chain', `31337=${anvil.url}`,
      '--signin-rate-burst', '200', '--signin-address-rate-limit', '0.01', '--signin-address-rate-burst', '2']);
    const victim = Wallet.createRandom();
    const post = (body) => fetch(`${server.url}/v1/auth/verify`, { method: 'POST', body: JSON.stringify(body) });
    const issue = async () => (await (await fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' })).json()).nonce;
    const siwe = (n) => new SiweMessage({ domain: DOMAIN, address: victim.address, uri: `https://${DOMAIN}/`, version: '1', chainId: 31337, nonce: n, issuedAt: new Date().toISOString() }).prepareMessage();
    // Junk naming the victim, and well-formed messages with nonces never issued, cost an attacker
    // nothing: they must not count against the victim's address.
    for (let i = 0; i < 10; i++) {
      assert.equal((await post({ message: `x\n${victim.address}`, signature: '0x' })).status, 401);
      assert.equal((await post({ message: siwe(`NotIssuedNonce${i}00`), signature: '0x' + '11'.repeat(65) })).status, 401);
    }
    let text = siwe(await issue());
    let res = await post({ message: text, signature: await victim.signMessage(text) });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    // Live nonces with wrong signatures (each a possible contract-wallet check over the chain)
    // count: two, then 429 with Retry-After.
    const stranger = Wallet.createRandom();
    for (let i = 0; i < 2; i++) {
      text = siwe(await issue());
      res = await post({ message: text, signature: await stranger.signMessage(text) });
      assert.equal(res.status, 401);
      assert.equal((await errorOf(res)).code, 'siwe_signature_invalid');
    }
    text = siwe(await issue());
    const limited = await post({ message: text, signature: await stranger.signMessage(text) });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await errorOf(limited)).code, 'rate_limited');
    // The victim's own signature is never refused by that limit: the attack cannot lock it out.
    for (let i = 0; i < 3; i++) {
      text = siwe(await issue());
      res = await post({ message: text, signature: await victim.signMessage(text) });
      assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    }
  } finally {
    await server.stop();
    anvil.stop();
    db.drop();
  }
});

test('key fetches are limited per caller and per target account, with Retry-After', async () => {
  const db = freshDatabase('sqlite');
  const server = await startServer([...db.flags, '--siwe-domain', DOMAIN, '--chain', '31337=http://127.0.0.1:1',
    '--key-fetch-target-rate-limit', '0.01', '--key-fetch-target-rate-burst', '3',
    '--key-fetch-rate-limit', '0.01', '--key-fetch-rate-burst', '5']);
  try {
    const api = (path, { method = 'GET', token, body } = {}) => fetch(`${server.url}${path}`, {
      method, headers: token ? { authorization: `Bearer ${token}` } : {}, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const signIn = async (wallet) => {
      const n = (await (await api('/v1/auth/nonce', { method: 'POST' })).json()).nonce;
      const text = new SiweMessage({ domain: DOMAIN, address: wallet.address, uri: `https://${DOMAIN}/`, version: '1', chainId: 31337, nonce: n, issuedAt: new Date().toISOString() }).prepareMessage();
      const r = await api('/v1/auth/verify', { method: 'POST', body: { message: text, signature: await wallet.signMessage(text) } });
      assert.equal(r.status, 200);
      return r.json();
    };
    const victim = await signIn(Wallet.createRandom());
    const other = await signIn(Wallet.createRandom());
    const attacker = await signIn(Wallet.createRandom());
    const helper = await signIn(Wallet.createRandom());
    const device = new MlsDevice({ url: server.url, token: victim.token, address: victim.address });
    let r = await api('/v1/devices', { method: 'POST', token: victim.token, body: await device.registrationBody({ count: 20, name: 'phone' }) });
    assert.equal(r.status, 201);
    const victimDevice = (await r.json()).device_id;
    // Per target: three fetches of the victim's keys take one-time packages; past that, this
    // caller and any other get the last-resort package only, so the victim stays reachable
    // while its one-time keys cannot be drained.
    for (let i = 0; i < 3; i++) {
      r = await api(`/v1/keys/${victim.address}`, { token: attacker.token });
      assert.equal(r.status, 200);
      assert.deepEqual((await r.json()).devices.map((d) => d.last_resort), [false]);
    }
    for (const caller of [attacker, helper]) {
      r = await api(`/v1/keys/${victim.address}`, { token: caller.token });
      assert.equal(r.status, 200);
      const { devices } = await r.json();
      assert.deepEqual(devices.map((d) => d.last_resort), [true]);
      assert.equal(devices[0].device_id, victimDevice);
    }
    const me = await (await api('/v1/me', { token: victim.token })).json();
    assert.equal(me.devices[0].key_packages, 17, 'only the fetches within the limit took keys');
    // Per caller: the attacker has made 4 fetches; one more is admitted, then 429 whatever the target.
    assert.equal((await api(`/v1/keys/${other.address}`, { token: attacker.token })).status, 200);
    r = await api(`/v1/keys/${helper.address}`, { token: attacker.token });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await errorOf(r)).code, 'rate_limited');
    assert.equal((await api(`/v1/keys/${other.address}`, { token: helper.token })).status, 200);
  } finally {
    await server.stop();
    db.drop();
  }
});
