// Notifications through the real binary: a notify.requested event reaches a device with each push
// provider — FCM (a node fake of Google's OAuth and messages:send), Web Push (a node push service;
// the body is decrypted with http_ece, the library under npm web-push) and a signed webhook — and
// the center lists it, counts it unread and marks it read; settings round-trip and are validated;
// a token FCM declares UNREGISTERED is cleared from the device; /metrics counts per provider.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startServer, freshDatabase, backends, errorOf } from './lib/harness.mjs';
import { startAnvil } from './lib/anvil.mjs';
import { MlsDevice } from './lib/mls-client.mjs';

const require = createRequire(import.meta.url);
const ece = require('http_ece');
const DOMAIN = 'app.example.test';
const SECRET = 'whsec_integration';


/** FCM (OAuth token + messages:send), a Web Push service and a webhook receiver. */
function startPushServices() {
  const seen = { fcm: [], webpush: [], webhook: [], tokens: 0 };
  const unregistered = new Set();
  // FCM sends for a token in `hold` wait, unanswered, in `pending` until the test answers them.
  const hold = new Set();
  const pending = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url === '/token') {
        seen.tokens += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ access_token: 'ya29.integration', expires_in: 3600 }));
      }
      if (req.url === '/v1/projects/demo/messages:send') {
        const message = JSON.parse(body.toString()).message;
        seen.fcm.push({ headers: req.headers, message });
        if (hold.delete(message.token)) {
          pending.set(message.token, res);
          return undefined;
        }
        if (unregistered.has(message.token)) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: 'gone',
            details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } }));
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"name":"projects/demo/messages/1"}');
      }
      if (req.url.startsWith('/push/')) {
        seen.webpush.push({ headers: req.headers, body });
        res.writeHead(201);
        return res.end();
      }
      if (req.url === '/hook') {
        seen.webhook.push({ headers: req.headers, body: body.toString() });
        res.writeHead(204);
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${server.address().port}`;
    resolve({ url, seen, unregistered, hold, pending, close: () => server.close() });
  }));
}

async function until(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const backend of backends()) {
  describe(`notifications (${backend})`, () => {
    let anvil, db, server, push, dir;
    before(async () => {
      anvil = await startAnvil();
      push = await startPushServices();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-notify-'));
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const account = path.join(dir, 'service-account.json');
      fs.writeFileSync(account, JSON.stringify({
        type: 'service_account', project_id: 'demo', private_key_id: 'k1', client_email: 'push@demo.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: `${push.url}/token`,
      }));
      db = freshDatabase(backend);
      server = await startServer([...db.flags, '--test-hooks', '--chain', `31337=${anvil.url}`, '--siwe-domain', DOMAIN,
        '--data-dir', dir, '--fcm-service-account', account, '--fcm-endpoint', push.url,
        '--outbound-allow-http', '--outbound-allow-network', '127.0.0.1/32', '--push-backoff-ms', '10',
        // Every request comes from one loopback client, some polling: the per-IP budget is not
        // what this suite tests.
        '--rate-limit', '10000', '--rate-burst', '10000',
        '--signin-rate-burst', '1000', '--signin-address-rate-burst', '1000'], { env: { GATEHOUSE_NOTIFY_WEBHOOK_SECRET: SECRET } });
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, `server exit ${JSON.stringify(stopped)}: ${server.stderr.slice(-4000)}`);
      anvil.stop();
      push.close();
      db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const api = (p, { method = 'GET', token, body } = {}) => fetch(`${server.url}${p}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    async function signIn(wallet) {
      const n = (await (await api('/v1/auth/nonce', { method: 'POST' })).json()).nonce;
      const text = new SiweMessage({ domain: DOMAIN, address: wallet.address, statement: 'Sign in to gatehouse.',
        uri: `https://${DOMAIN}/login`, version: '1', chainId: 31337, nonce: n, issuedAt: new Date().toISOString() }).prepareMessage();
      const r = await api('/v1/auth/verify', { method: 'POST', body: { message: text, signature: await wallet.signMessage(text) } });
      assert.equal(r.status, 200);
      return r.json();
    }
    async function device(token, name, pushTarget) {
      const answer = await api('/v1/me', { token });
      assert.equal(answer.status, 200);
      const me = await answer.json();
      const keys = new MlsDevice({ url: server.url, token, address: me.address });
      const body = await keys.registrationBody({ name, count: 1, push: pushTarget });
      const r = await api('/v1/devices', { method: 'POST', token, body });
      assert.equal(r.status, 201, JSON.stringify(await r.clone().json()));
      return (await r.json()).device_id;
    }
    // A call that must succeed: its JSON (null for 204).
    const call = async (p, token, method, body) => {
      const r = await api(p, { method, token, body });
      assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${await r.clone().text()}`);
      return r.status === 204 ? null : r.json();
    };
    const publish = (payload) => api('/v1/_test/publish', { method: 'POST', body: { topic: 'notify.requested', payload } });
    // Reading and posting in a test channel, through the test hooks.
    async function grantChannel(channel, ...accounts) {
      for (const who of accounts) {
        const r = await api('/v1/_test/channel-access', { method: 'POST', body: { account: who.address, channel_id: channel, read: true, post: true } });
        assert.equal(r.status, 204);
      }
    }
    // gatehouse_notify_held_total for one reason, from /metrics.
    const heldTotal = async (reason) => Number((await (await fetch(`${server.url}/metrics`)).text())
      .match(new RegExp(`gatehouse_notify_held_total\\{reason="${reason}"\\} (\\d+)`))[1]);

    test('a notification reaches FCM, Web Push and a signed webhook, and the center tracks it', async () => {
      const wallet = Wallet.createRandom();
      const alice = await signIn(wallet);
      const browser = crypto.createECDH('prime256v1');
      browser.generateKeys();
      const auth = crypto.randomBytes(16);
      const subscription = { endpoint: `${push.url}/push/alice`, keys: { p256dh: browser.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
      await device(alice.token, 'phone', { provider: 'fcm', token: 'fcm-alice' });
      await device(alice.token, 'browser', { provider: 'webpush', token: JSON.stringify(subscription) });
      await device(alice.token, 'bot', { provider: 'webhook', token: `${push.url}/hook` });
      const key = await (await api('/v1/notifications/webpush-key', { token: alice.token })).json();
      assert.match(key.public_key, /^[A-Za-z0-9_-]{87}$/);

      assert.equal((await publish({ kind: 'system', title: 'Maintenance tonight', body: 'From 02:00 UTC', accounts: [wallet.address],
        data: { ticket: 'T-1' } })).status, 201);
      await until(() => push.seen.fcm.length >= 1 && push.seen.webpush.length >= 1 && push.seen.webhook.length >= 1, 'three pushes');

      const fcm = push.seen.fcm[0];
      assert.equal(fcm.headers.authorization, 'Bearer ya29.integration');
      assert.equal(fcm.message.token, 'fcm-alice');
      assert.equal(fcm.message.notification.title, 'Maintenance tonight');
      assert.equal(fcm.message.data.ticket, 'T-1');

      const wp = push.seen.webpush[0];
      assert.equal(wp.headers['content-encoding'], 'aes128gcm');
      assert.match(wp.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
      assert.ok(Number(wp.headers.ttl) > 0);
      const plain = JSON.parse(ece.decrypt(wp.body, { version: 'aes128gcm', privateKey: browser, authSecret: auth }).toString());
      assert.equal(plain.title, 'Maintenance tonight');
      assert.equal(plain.kind, 'system');

      const hook = push.seen.webhook[0];
      const [t, v1] = hook.headers['x-gatehouse-signature'].split(',').map((p) => p.split('=')[1]);
      assert.ok(Math.abs(Date.now() / 1000 - Number(t)) < 300);
      assert.equal(v1, crypto.createHmac('sha256', SECRET).update(`${t}.${hook.body}`).digest('hex'));
      assert.equal(JSON.parse(hook.body).notification_id, plain.notification_id);

      const list = await (await api('/v1/notifications', { token: alice.token })).json();
      assert.equal(list.unread_count, 1);
      assert.equal(list.notifications[0].id, plain.notification_id);
      assert.equal(list.notifications[0].read, false);
      const read = await api('/v1/notifications/read', { method: 'POST', token: alice.token, body: { ids: [plain.notification_id] } });
      assert.deepEqual(await read.json(), { unread_count: 0 });
      const count = await (await api('/v1/notifications/unread-count', { token: alice.token })).json();
      assert.equal(count.unread_count, 0);

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      for (const provider of ['fcm', 'webpush', 'webhook']) {
        assert.match(metrics, new RegExp(`gatehouse_notify_sent_total\\{provider="${provider}"\\} [1-9]`));
      }
    });

    test('an account that shows do not disturb gets no push; its center still gets the notification', async () => {
      const wallet = Wallet.createRandom();
      const bob = await signIn(wallet);
      await device(bob.token, 'phone', { provider: 'fcm', token: 'fcm-dnd' });
      const held = () => heldTotal('dnd');
      const before = await held();
      const pushed = () => push.seen.fcm.filter((p) => p.message.token === 'fcm-dnd');
      // A socket (of no device) that shows do not disturb: the phone is offline, and gets no push.
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws?token=${bob.token}&status=dnd`);
      const frames = [];
      ws.on('message', (data) => frames.push(JSON.parse(data)));
      await until(() => frames.some((f) => f.type === 'hello'), 'hello');
      assert.equal(frames.find((f) => f.type === 'hello').status, 'dnd');
      assert.equal((await publish({ kind: 'system', title: 'While busy', accounts: [wallet.address] })).status, 201);
      await until(async () => (await held()) === before + 1, 'the push held back');
      assert.deepEqual(pushed(), []);
      const list = await (await api('/v1/notifications', { token: bob.token })).json();
      assert.deepEqual(list.notifications.map((n) => n.title), ['While busy']);
      ws.close();
      // The status is the account's, not the socket's: with no socket open, the push is still held.
      await new Promise((res) => ws.on('close', res));
      assert.equal((await publish({ kind: 'system', title: 'Still busy', accounts: [wallet.address] })).status, 201);
      await until(async () => (await held()) === before + 2, 'the second push held back');
      assert.deepEqual(pushed(), []);
      // Online again (over HTTP, still with no socket): the next one is pushed.
      const back = await api('/v1/me/presence', { method: 'PUT', token: bob.token, body: { status: 'online' } });
      assert.equal(back.status, 200);
      assert.equal((await publish({ kind: 'system', title: 'Available', accounts: [wallet.address] })).status, 201);
      await until(async () => pushed().length > 0, 'a push once back online');
      assert.equal(pushed()[0].message.notification.title, 'Available');
      // Do not disturb chosen over HTTP holds push back too.
      assert.equal((await api('/v1/me/presence', { method: 'PUT', token: bob.token, body: { status: 'dnd' } })).status, 200);
      assert.equal((await publish({ kind: 'system', title: 'Busy again', accounts: [wallet.address] })).status, 201);
      await until(async () => (await held()) === before + 3, 'the third push held back');
      assert.equal(pushed().length, 1);
    });

    test('a silent message notifies without a push; a reply with the ping off notifies no one', async () => {
      const [aliceWallet, bobWallet] = [Wallet.createRandom(), Wallet.createRandom()];
      const alice = await signIn(aliceWallet);
      const bob = await signIn(bobWallet);
      await device(bob.token, 'phone', { provider: 'fcm', token: 'fcm-silent' });
      await grantChannel('hush', alice, bob);
      const held = () => heldTotal('silent');
      const before = await held();
      const pushed = () => push.seen.fcm.filter((p) => p.message.token === 'fcm-silent');
      let n = 0;
      const post = async (who, body, extra = {}) => {
        const r = await api('/v1/channels/hush/messages', { method: 'POST', token: who.token, body: { body, client_id: `hush-${++n}`, ...extra } });
        assert.equal(r.status, 201, JSON.stringify(await r.clone().json()));
        return r.json();
      };
      for (const bad of [{ silent: 'yes' }, { ping_reply: 1 }]) {
        const r = await api('/v1/channels/hush/messages', { method: 'POST', token: alice.token, body: { body: 'x', client_id: `bad-${++n}`, ...bad } });
        assert.equal(r.status, 400);
        assert.equal((await r.json()).error.code, 'invalid_field');
      }
      const center = async () => (await (await api('/v1/notifications?limit=100', { token: bob.token })).json()).notifications;
      const of = (list, m) => list.filter((x) => x.data.message_id === m.id);

      // Silent: the center has the mention, marked silent; the phone gets no push.
      const quiet = await post(alice, `psst @${bob.address}`, { silent: true });
      await until(async () => (await held()) === before + 1, 'the silent push held back');
      const [silent] = of(await center(), quiet);
      assert.equal(silent.kind, 'mention');
      assert.equal(silent.data.silent, true);
      assert.deepEqual(pushed(), []);
      // A silent reply: the same.
      const own = await post(bob, 'my message');
      const quietReply = await post(alice, 'a quiet answer', { reply_to: own.seq, silent: true });
      await until(async () => (await held()) === before + 2, 'the silent reply held back');
      assert.equal(of(await center(), quietReply)[0].kind, 'reply');
      // The ping off: no reply notification at all. (Notifications of one account are made in
      // order: once the next mention is there, the reply was decided.)
      const unpinged = await post(alice, 'an answer without a ping', { reply_to: own.seq, ping_reply: false });
      const loud = await post(alice, `hey @${bob.address}`);
      await until(async () => pushed().length === 1, 'the loud mention pushed');
      const list = await center();
      assert.deepEqual(of(list, unpinged), []);
      assert.equal(of(list, loud)[0].data.silent, undefined);
      assert.match(pushed()[0].message.notification.title, /mentioned you$/);
      assert.equal(await held(), before + 2);
      // The message keeps being silent: in its answer, in history, and in a retry's answer.
      assert.equal(quiet.silent, true);
      assert.equal(own.silent, undefined);
      const history = (await (await api('/v1/channels/hush/messages?limit=10', { token: bob.token })).json()).messages;
      assert.deepEqual(history.map((m) => [m.body, m.silent ?? false]).reverse(), [
        [`psst @${bob.address}`, true], ['my message', false], ['a quiet answer', true],
        ['an answer without a ping', false], [`hey @${bob.address}`, false]]);
      const r = await api('/v1/channels/hush/messages', { method: 'POST', token: alice.token, body: { body: 'again', client_id: quiet.client_id } });
      assert.equal(r.status, 201);
      const retried = await r.json();
      assert.deepEqual([retried.id, retried.silent], [quiet.id, true]);
    });

    test('mentions say how they named the account; muted communities and suppressed role and @&member mentions notify no one', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bob = await signIn(Wallet.createRandom());
      const community = (await call('/v1/communities', alice.token, 'POST', { name: 'Quiet', slug: `quiet-${backend}-${Date.now()}` })).id;
      const channel = (await call(`/v1/communities/${community}/channels`, alice.token, 'POST', { name: 'general' })).id;
      await call(`/v1/communities/${community}/join`, bob.token, 'POST');
      await call(`/v1/communities/${community}/roles`, alice.token, 'POST', { name: 'ops', permissions: [] });
      await call(`/v1/communities/${community}/members/${bob.address}/roles/ops`, alice.token, 'PUT');
      await grantChannel('quiet-barrier', alice, bob);
      let n = 0;
      const post = (who, ch, body, extra = {}) => call(`/v1/channels/${ch}/messages`, who.token, 'POST', { body, client_id: `q-${++n}`, ...extra });
      const center = async () => (await call('/v1/notifications?limit=100', bob.token, 'GET')).notifications;
      const of = (list, m) => list.filter((x) => x.data.message_id === m.id);
      // Bob's notifications are made in order: once a later mention is listed, the earlier messages were decided.
      const settle = async () => {
        const b = await post(alice, 'quiet-barrier', `sync @${bob.address}`);
        await until(async () => of(await center(), b).length === 1, 'the barrier mention');
      };
      const settings = (body) => call('/v1/notification-settings', bob.token, 'PUT', body);

      const viaRole = await post(alice, channel, 'deploy @&ops');
      const viaEveryone = await post(alice, channel, 'news for @&member');
      const direct = await post(alice, channel, `hey @${bob.address}, @&ops and @&member`);
      await settle();
      let list = await center();
      assert.deepEqual([of(list, viaRole)[0].data.via, of(list, viaRole)[0].data.role], ['role', 'ops']);
      assert.deepEqual([of(list, viaEveryone)[0].data.via, of(list, viaEveryone)[0].data.role], ['everyone', undefined]);
      assert.equal(of(list, direct)[0].data.via, 'direct');
      assert.deepEqual([of(list, viaRole)[0].community_id, of(list, viaRole)[0].data.community_id], [community, community]);

      // Suppressed in this community: role and @&member mentions notify no more; one by address does.
      const s = await settings({ suppress_everyone: [community], suppress_roles: [community] });
      assert.deepEqual([s.suppress_everyone, s.suppress_roles], [[community], [community]]);
      for (const bad of [{ suppress_roles: community }, { suppress_everyone: [7] }]) {
        const r = await api('/v1/notification-settings', { method: 'PUT', token: bob.token, body: bad });
        assert.deepEqual([r.status, (await r.json()).error.code], [400, 'invalid_field']);
      }
      const role2 = await post(alice, channel, 'again @&ops');
      const everyone2 = await post(alice, channel, 'again @&member');
      const both = await post(alice, channel, `again @&member and @&ops`);
      const direct2 = await post(alice, channel, `again @${bob.address} and @&member`);
      await settle();
      list = await center();
      assert.deepEqual([of(list, role2), of(list, everyone2), of(list, both)], [[], [], []]);
      assert.equal(of(list, direct2)[0].data.via, 'direct');
      // Only @&member suppressed: a role mention is heard again, even beside @&member.
      await settings({ suppress_roles: [] });
      const both2 = await post(alice, channel, 'once more @&member and @&ops');
      await settle();
      assert.deepEqual(of(await center(), both2).map((x) => [x.data.via, x.data.role]), [['role', 'ops']]);

      // A muted community: neither mentions nor replies from its channels notify.
      await settings({ suppress_everyone: [], muted_communities: [community] });
      const own = await post(bob, channel, 'my message');
      const reply = await post(alice, channel, 'an answer', { reply_to: own.seq });
      const muted = await post(alice, channel, `psst @${bob.address}`);
      await settle();
      list = await center();
      assert.deepEqual([of(list, reply), of(list, muted)], [[], []]);
      await settings({ muted_communities: [] });
      const heard = await post(alice, channel, `back @${bob.address}`);
      const reply2 = await post(alice, channel, 'another answer', { reply_to: own.seq });
      await settle();
      list = await center();
      assert.equal(of(list, heard).length, 1);
      assert.deepEqual([of(list, reply2)[0].kind, of(list, reply2)[0].community_id], ['reply', community]);
    });

    test('suppressed @&member and role mentions leave the channel\'s unread mention count; mentions by address stay', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bob = await signIn(Wallet.createRandom());
      const house = async (slug) => {
        const id = (await call('/v1/communities', alice.token, 'POST', { name: slug, slug: `${slug}-${backend}-${Date.now()}` })).id;
        const ch = (await call(`/v1/communities/${id}/channels`, alice.token, 'POST', { name: 'general' })).id;
        await call(`/v1/communities/${id}/join`, bob.token, 'POST');
        await call(`/v1/communities/${id}/roles`, alice.token, 'POST', { name: 'ops', permissions: [] });
        await call(`/v1/communities/${id}/members/${bob.address}/roles/ops`, alice.token, 'PUT');
        return { id, ch };
      };
      const quiet = await house('badge');
      const loud = await house('noisy');
      let n = 0;
      for (const { ch } of [quiet, loud]) {
        for (const body of ['deploy @&ops', 'news for @&member', `hey @${bob.address}`, 'both @&ops and @&member',
          `all three @${bob.address} @&ops @&member`, 'no ping']) {
          await call(`/v1/channels/${ch}/messages`, alice.token, 'POST', { body, client_id: `badge-${++n}` });
        }
      }
      const counts = async () => {
        const listed = (await call(`/v1/unread?channel_ids=${quiet.ch},${loud.ch}`, bob.token, 'GET')).channels;
        const all = (await call('/v1/unread', bob.token, 'GET')).channels;
        const pick = (list, ch) => list.find((c) => c.channel_id === ch);
        // Asked by id or for every readable channel, the same figures.
        for (const ch of [quiet.ch, loud.ch]) assert.deepEqual(pick(all, ch), pick(listed, ch));
        return [quiet.ch, loud.ch].map((ch) => [pick(listed, ch).unread, pick(listed, ch).mentions]);
      };
      const settings = (body) => call('/v1/notification-settings', bob.token, 'PUT', body);
      assert.deepEqual(await counts(), [[6, 5], [6, 5]]);
      // @&member suppressed in one community: there the mention through it alone no longer counts.
      await settings({ suppress_everyone: [quiet.id] });
      assert.deepEqual(await counts(), [[6, 4], [6, 5]]);
      // Role mentions suppressed as well: only those naming bob by address count there.
      await settings({ suppress_roles: [quiet.id] });
      assert.deepEqual(await counts(), [[6, 2], [6, 5]]);
      // Roles alone: @&member counts again, @&ops does not.
      await settings({ suppress_everyone: [] });
      assert.deepEqual(await counts(), [[6, 4], [6, 5]]);
      // A moderator's role is a role as well: suppressing roles leaves @&moderator out too.
      await call(`/v1/communities/${quiet.id}/members/${bob.address}/roles/moderator`, alice.token, 'PUT');
      await call(`/v1/channels/${quiet.ch}/messages`, alice.token, 'POST', { body: 'mods @&moderator', client_id: `badge-${++n}` });
      assert.deepEqual(await counts(), [[7, 4], [6, 5]]);
      await settings({ suppress_roles: [] });
      assert.deepEqual(await counts(), [[7, 6], [6, 5]]);
      // Muting is not suppressing: a muted community's mentions still count on its channels.
      await settings({ muted_communities: [quiet.id] });
      assert.deepEqual(await counts(), [[7, 6], [6, 5]]);
    });

    test('a device without push hears its notifications by its socket, and a socket of no device does not', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bobWallet = Wallet.createRandom();
      const bob = await signIn(bobWallet);
      const desktop = await device(bob.token, 'desktop', { provider: 'none' });
      await grantChannel('by-socket', alice, bob);
      const open = async (query) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws?token=${bob.token}${query}`);
        const frames = [];
        ws.on('message', (data) => frames.push(JSON.parse(data)));
        await until(() => frames.some((f) => f.type === 'hello'), 'hello');
        return { ws, frames };
      };
      const onDevice = await open(`&device_id=${desktop}`);
      assert.equal(onDevice.frames.find((f) => f.type === 'hello').device_id, desktop);
      const noDevice = await open('');
      const posted = await call('/v1/channels/by-socket/messages', alice.token, 'POST',
        { body: `gm @${bobWallet.address}`, client_id: 'by-socket-1' });
      const frame = await until(() => onDevice.frames.find((f) => f.type === 'notification'), 'the notification frame');
      assert.equal(frame.notification.kind, 'mention');
      assert.equal(frame.notification.data.message_id, posted.id);
      const center = (await call('/v1/notifications?limit=10', bob.token, 'GET')).notifications;
      assert.equal(center[0].id, frame.notification.id);
      // Sent to the device's sockets alone, at once with the one above.
      assert.equal(noDevice.frames.filter((f) => f.type === 'notification').length, 0);
      for (const s of [onDevice, noDevice]) {
        s.ws.close();
        await new Promise((res) => s.ws.on('close', res));
      }
    });

    test('a push that waits for a retry is not sent again once its message is deleted', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bob = await signIn(Wallet.createRandom());
      await device(bob.token, 'phone', { provider: 'fcm', token: 'fcm-held' });
      await grantChannel('oops', alice, bob);
      const withdrawn = () => heldTotal('withdrawn');
      const before = await withdrawn();
      push.hold.add('fcm-held');
      let r = await api('/v1/channels/oops/messages', { method: 'POST', token: alice.token,
        body: { body: `my seed phrase is … @${bob.address}`, client_id: 'oops-1' } });
      assert.equal(r.status, 201);
      const message = await r.json();
      await until(() => push.pending.has('fcm-held'), 'the push waiting at FCM');
      // Deleted while FCM has not answered: the notification is withdrawn.
      r = await api(`/v1/channels/oops/messages/${message.seq}`, { method: 'DELETE', token: alice.token });
      assert.equal(r.status, 204);
      const center = async () => (await (await api('/v1/notifications?limit=100', { token: bob.token })).json()).notifications;
      await until(async () => (await center()).every((n) => n.data.message_id !== message.id), 'the notification withdrawn');
      // FCM fails that try (transient); the retry finds the notification gone and sends nothing.
      const res = push.pending.get('fcm-held');
      push.pending.delete('fcm-held');
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 503, status: 'UNAVAILABLE', message: 'try later' } }));
      await until(async () => (await withdrawn()) === before + 1, 'the retry withdrawn');
      assert.equal(push.seen.fcm.filter((p) => p.message.token === 'fcm-held').length, 1);
    });

    test('reading a channel reads its notifications up to the marker, and every socket of the account hears of it', async () => {
      const alice = await signIn(Wallet.createRandom());
      const bobWallet = Wallet.createRandom();
      const bob = await signIn(bobWallet);
      await grantChannel('seen-a', alice, bob);
      await grantChannel('seen-b', alice, bob);
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/ws?token=${bob.token}`);
      const frames = [];
      ws.on('message', (data) => frames.push(JSON.parse(data)));
      await until(() => frames.some((f) => f.type === 'hello'), 'hello');
      let n = 0;
      const post = (who, ch, body) => call(`/v1/channels/${ch}/messages`, who.token, 'POST', { body, client_id: `seen-${++n}` });
      for (let i = 1; i <= 3; i += 1) await post(alice, 'seen-a', `gm ${i} @${bobWallet.address}`);
      await post(alice, 'seen-b', `over here @${bobWallet.address}`);
      // The center, polled gently (the server's per-IP budget is shared by the whole suite).
      const center = async () => (await call('/v1/notifications?limit=100', bob.token, 'GET')).notifications;
      const centerWith = async (count, what) => until(async () => {
        await new Promise((r) => setTimeout(r, 100));
        const list = await center();
        return list.length === count ? list : null;
      }, what);
      const about = (list, ch, seq) => list.find((x) => x.channel_id === ch && x.data.seq === String(seq));
      const readFrames = () => frames.filter((f) => f.type === 'notifications_read');
      let list = await centerWith(4, 'four mentions');

      // The marker reaches seq 2 of seen-a: those two mentions are read, the third and seen-b's are not.
      const first = [about(list, 'seen-a', 1).id, about(list, 'seen-a', 2).id].sort();
      await call('/v1/channels/seen-a/read', bob.token, 'PUT', { seq: 2 });
      await until(() => readFrames().length === 1, 'a notifications_read frame');
      assert.deepEqual([...readFrames()[0].ids].sort(), first);
      assert.equal(readFrames()[0].unread_count, 2);
      list = await center();
      assert.deepEqual([[1, 'seen-a'], [2, 'seen-a'], [3, 'seen-a'], [1, 'seen-b']].map(([seq, ch]) => about(list, ch, seq).read),
        [true, true, false, false]);
      assert.deepEqual(await call('/v1/notifications/unread-count', bob.token, 'GET'), { unread_count: 2 });

      // Posting in seen-a reads it up to the post; the batch route reads seen-b.
      await post(bob, 'seen-a', 'catching up');
      await until(() => readFrames().length === 2, 'the post read the third');
      assert.deepEqual(readFrames()[1].ids, [about(list, 'seen-a', 3).id]);
      assert.equal(readFrames()[1].unread_count, 1);
      await call('/v1/read', bob.token, 'PUT', { channels: { 'seen-b': 99 } });
      await until(() => readFrames().length === 3, 'the batch read seen-b');
      assert.deepEqual(readFrames()[2].ids, [about(list, 'seen-b', 1).id]);
      assert.equal(readFrames()[2].unread_count, 0);

      // Reading no further, or marking unread, reads nothing and tells no one; a mention past the
      // marker stays unread until it is read, here from the center, which the sockets hear too.
      await call('/v1/channels/seen-a/read', bob.token, 'PUT', { seq: 1 });
      await call('/v1/channels/seen-a/read', bob.token, 'PUT', { seq: 0, force: true });
      await post(alice, 'seen-a', `again @${bobWallet.address}`);
      list = await centerWith(5, 'the fifth mention');
      const fifth = about(list, 'seen-a', 5);
      assert.equal(fifth.read, false);
      assert.equal(readFrames().length, 3);
      assert.deepEqual(await call('/v1/notifications/read', bob.token, 'POST', { ids: [fifth.id] }), { unread_count: 0 });
      await until(() => readFrames().length === 4, 'the center read told');
      assert.deepEqual(readFrames()[3].ids, [fifth.id]);
      await post(alice, 'seen-b', `last @${bobWallet.address}`);
      await centerWith(6, 'the sixth mention');
      assert.deepEqual(await call('/v1/notifications/read', bob.token, 'POST', { all: true }), { unread_count: 0 });
      await until(() => readFrames().length === 5, 'all read told');
      assert.equal(readFrames()[4].all, true);
      assert.equal(readFrames()[4].unread_count, 0);
      ws.close();
    });

    test('the center lists by kind and by community, page by page', async () => {
      const wallet = Wallet.createRandom();
      const carol = await signIn(wallet);
      for (const [kind, community_id, title] of [['reward', 'cx', 'r1'], ['system', 'cy', 's1'], ['reward', 'cy', 'r2'], ['membership', 'cy', 'm1']]) {
        assert.equal((await publish({ kind, title, community_id, accounts: [wallet.address] })).status, 201);
      }
      // Polled gently: the server's per-IP budget is shared by the whole suite.
      await until(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return (await call('/v1/notifications/unread-count', carol.token, 'GET')).unread_count === 4;
      }, 'four notifications');
      const titles = async (query) => {
        const out = [];
        let cursor = null;
        do {
          const page = await call(`/v1/notifications?limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`, carol.token, 'GET');
          assert.equal(page.unread_count, 4);
          out.push(...page.notifications.map((x) => x.title));
          cursor = page.next_cursor;
        } while (cursor);
        return out;
      };
      // Each filtered list is the whole list, in its order (made in the same millisecond, two
      // notifications go by id), less what the filter leaves out.
      const all = (await call('/v1/notifications?limit=100', carol.token, 'GET')).notifications;
      const want = (keep) => all.filter(keep).map((x) => x.title);
      assert.deepEqual(await titles('kind=reward'), want((x) => x.kind === 'reward'));
      assert.deepEqual((await titles('kind=reward')).sort(), ['r1', 'r2']);
      assert.deepEqual(await titles('kind=reward&community_id=cy'), ['r2']);
      assert.deepEqual(await titles('kind=system,reward&community_id=cy'), want((x) => x.title === 'r2' || x.title === 's1'));
      assert.deepEqual(await titles('community_id=cy&unread=true'), want((x) => x.community_id === 'cy'));
      assert.equal((await titles('community_id=cy&unread=true')).length, 3);
      assert.deepEqual(await titles('kind=dm'), []);
      for (const [query, want] of [['kind=bogus', 'invalid_kind'], ['kind=reward,', 'invalid_kind'], ['community_id=', 'invalid_community_id'],
        ['community_id=a%20b', 'invalid_community_id']]) {
        const r = await api(`/v1/notifications?${query}`, { token: carol.token });
        assert.equal(r.status, 400, query);
        assert.equal((await errorOf(r)).code, want, query);
      }
    });

    test('settings round-trip, are validated, and an UNREGISTERED token is cleared', async () => {
      const wallet = Wallet.createRandom();
      const bob = await signIn(wallet);
      let r = await api('/v1/notification-settings', { method: 'PUT', token: bob.token,
        body: { muted_channels: ['ch-1'], addm_opt_out: true, quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Europe/Paris' } } });
      assert.equal(r.status, 200);
      const s = await (await api('/v1/notification-settings', { token: bob.token })).json();
      assert.deepEqual(s.muted_channels, ['ch-1']);
      assert.equal(s.addm_opt_out, true);
      assert.deepEqual(s.quiet_hours, { start: '22:00', end: '07:00', time_zone: 'Europe/Paris' });
      r = await api('/v1/notification-settings', { method: 'PUT', token: bob.token, body: { quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Nowhere/Land' } } });
      assert.equal(r.status, 400);
      assert.equal((await errorOf(r)).code, 'invalid_field');
      assert.equal((await api('/v1/notification-settings')).status, 401);
      r = await api('/v1/notification-settings', { method: 'PUT', token: bob.token, body: { quiet_hours: null } });
      assert.equal(r.status, 200);

      push.unregistered.add('fcm-bob');
      await device(bob.token, 'old phone', { provider: 'fcm', token: 'fcm-bob' });
      const before = push.seen.fcm.length;
      await publish({ kind: 'reward', title: 'You earned 10 points', accounts: [wallet.address] });
      await until(async () => {
        const me = await (await api('/v1/me', { token: bob.token })).json();
        return me.devices[0].push_provider === 'none';
      }, 'the token to be cleared');
      assert.equal(push.seen.fcm.length, before + 1);  // UNREGISTERED is not retried
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_notify_failed_total\{provider="fcm",outcome="token_invalid"\} 1/);
    });
  });
}
