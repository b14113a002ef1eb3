// The authorization matrix: every route of the real server's table that is not declared public
// answers 401 without credentials and 401 with a revoked session, and a route whose parameter
// names an account's resource never lets another account act on it (403 or 404). The table comes
// from the running binary (GET /v1/_test/routes), so a new route is covered the day it is added,
// and a new route with a parameter fails here until it is classified below.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startServer, freshDatabase } from './lib/harness.mjs';
import { MlsDevice } from './lib/mls-client.mjs';

const DOMAIN = 'app.example.test';
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
// A PrivateMessage (RFC 9420) of a group at epoch 0 as the server reads it: envelope, group id,
// epoch, content type (application), then empty authenticated data, sender data and ciphertext.
const privateMessage = (groupId) => {
  const id = Buffer.from(groupId, 'base64url');
  return b64(Buffer.concat([Buffer.from([0, 1, 0, 2, id.length]), id, Buffer.alloc(8), Buffer.from([1, 0, 0, 0])]));
};

// Routes whose parameter names one account's resource: the other account must get 403 or 404,
// and the resource must be unchanged afterwards.
// Each entry gives the parameters naming the owner's resource and a body that is otherwise valid.
const OWNED = {
  'DELETE /v1/sessions/{id}': (a) => ({ params: { id: a.session_id } }),
  'DELETE /v1/devices/{device_id}': (a) => ({ params: { device_id: a.device_id } }),
  'POST /v1/devices/{device_id}/key-packages': (a) => ({ params: { device_id: a.device_id }, body: { key_packages: ['AAAA'] } }),
  'GET /v1/groups/{id}': (a) => ({ params: { id: a.group_id } }),
  'GET /v1/groups/{id}/devices': (a) => ({ params: { id: a.group_id } }),
  'GET /v1/groups/{id}/messages': (a) => ({ params: { id: a.group_id } }),
  'POST /v1/groups/{id}/messages': (a) => ({ params: { id: a.group_id }, body: { message: privateMessage(a.group_id) } }),
  'POST /v1/groups/{id}/ack': (a) => ({ params: { id: a.group_id }, body: { seq: 0 } }),
  'POST /v1/dms/{id}/consent': (a) => ({ params: { id: a.dm_id }, body: { state: 'denied' } }),
  'DELETE /v1/welcomes/{id}': (a) => ({ params: { id: a.welcome_id } }),
  // A community of the owner's that the other account has not joined.
  'PATCH /v1/communities/{id}': (a) => ({ params: { id: a.community_id }, body: { name: 'taken over' } }),
  'GET /v1/communities/{id}/members': (a) => ({ params: { id: a.community_id } }),
  'POST /v1/communities/{id}/members/{address}/kick': (a) => ({ params: { id: a.community_id, address: a.address } }),
  'PUT /v1/communities/{id}/members/{address}/timeout': (a) => ({ params: { id: a.community_id, address: a.address }, body: { seconds: 60 } }),
  'DELETE /v1/communities/{id}/members/{address}/timeout': (a) => ({ params: { id: a.community_id, address: a.address } }),
  'POST /v1/communities/{id}/bans': (a) => ({ params: { id: a.community_id }, body: { address: a.address } }),
  'DELETE /v1/communities/{id}/bans/{address}': (a) => ({ params: { id: a.community_id, address: a.address } }),
  'GET /v1/communities/{id}/bans': (a) => ({ params: { id: a.community_id } }),
  'GET /v1/communities/{id}/audit-log': (a) => ({ params: { id: a.community_id } }),
  'GET /v1/communities/{id}/automod/rules': (a) => ({ params: { id: a.community_id } }),
  'POST /v1/communities/{id}/automod/rules': (a) => ({ params: { id: a.community_id }, body: { name: 'mine', trigger: { type: 'links' } } }),
  'PATCH /v1/communities/{id}/automod/rules/{rule}': (a) => ({ params: { id: a.community_id, rule: a.rule_id }, body: { enabled: false } }),
  'DELETE /v1/communities/{id}/automod/rules/{rule}': (a) => ({ params: { id: a.community_id, rule: a.rule_id } }),
  'GET /v1/communities/{id}/reports': (a) => ({ params: { id: a.community_id } }),
  'GET /v1/communities/{id}/search': (a) => ({ params: { id: a.community_id } }),
  'PUT /v1/communities/{id}/read': (a) => ({ params: { id: a.community_id } }),
  'PATCH /v1/reports/{id}': (a) => ({ params: { id: String(a.report_id) }, body: { status: 'dismissed' } }),
  'GET /v1/communities/{id}/roles': (a) => ({ params: { id: a.community_id } }),
  'POST /v1/communities/{id}/roles': (a) => ({ params: { id: a.community_id }, body: { name: 'boss', permissions: [] } }),
  'PATCH /v1/communities/{id}/members/{address}': (a) => ({ params: { id: a.community_id, address: a.address }, body: { nickname: 'mallory' } }),
  'PATCH /v1/communities/{id}/roles/{role}': (a) => ({ params: { id: a.community_id, role: a.role }, body: { permissions: ['pin_messages'] } }),
  'DELETE /v1/communities/{id}/roles/{role}': (a) => ({ params: { id: a.community_id, role: a.role } }),
  'PUT /v1/communities/{id}/members/{address}/roles/{role}': (a) => ({ params: { id: a.community_id, address: a.address, role: 'moderator' } }),
  'DELETE /v1/communities/{id}/members/{address}/roles/{role}': (a) => ({ params: { id: a.community_id, address: a.address, role: 'moderator' } }),
  'POST /v1/communities/{id}/channels': (a) => ({ params: { id: a.community_id }, body: { name: 'mine now' } }),
  'GET /v1/communities/{id}/channels': (a) => ({ params: { id: a.community_id } }),
  'GET /v1/channels/{id}': (a) => ({ params: { id: a.channel_id } }),
  'PATCH /v1/channels/{id}': (a) => ({ params: { id: a.channel_id }, body: { archived: true } }),
  // Messages of a channel of that community: its members only.
  'POST /v1/channels/{id}/messages': (a) => ({ params: { id: a.channel_id }, body: { body: 'intruder', client_id: 'x1' } }),
  'GET /v1/channels/{id}/messages': (a) => ({ params: { id: a.channel_id } }),
  'GET /v1/channels/{id}/changes': (a) => ({ params: { id: a.channel_id } }),
  'GET /v1/channels/{id}/search': (a) => ({ params: { id: a.channel_id } }),
  'POST /v1/channels/{id}/typing': (a) => ({ params: { id: a.channel_id } }),
  'GET /v1/channels/{id}/messages/{seq}': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'GET /v1/channels/{id}/messages/{seq}/replies': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'PATCH /v1/channels/{id}/messages/{seq}': (a) => ({ params: { id: a.channel_id, seq: '1' }, body: { body: 'hijack' } }),
  'DELETE /v1/channels/{id}/messages/{seq}': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'POST /v1/channels/{id}/messages/bulk-delete': (a) => ({ params: { id: a.channel_id }, body: { seqs: [1] } }),
  'PUT /v1/channels/{id}/messages/{seq}/reactions/{emoji}': (a) => ({ params: { id: a.channel_id, seq: '1', emoji: 'x' } }),
  'DELETE /v1/channels/{id}/messages/{seq}/reactions/{emoji}': (a) => ({ params: { id: a.channel_id, seq: '1', emoji: 'x' } }),
  'GET /v1/channels/{id}/messages/{seq}/reactions/{emoji}': (a) => ({ params: { id: a.channel_id, seq: '1', emoji: 'x' } }),
  'PUT /v1/channels/{id}/messages/{seq}/poll/votes/{answer}': (a) => ({ params: { id: a.channel_id, seq: '1', answer: '1' } }),
  'DELETE /v1/channels/{id}/messages/{seq}/poll/votes/{answer}': (a) => ({ params: { id: a.channel_id, seq: '1', answer: '1' } }),
  'POST /v1/channels/{id}/messages/{seq}/poll/end': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'GET /v1/channels/{id}/messages/{seq}/poll/votes/{answer}': (a) => ({ params: { id: a.channel_id, seq: '1', answer: '1' } }),
  'PUT /v1/channels/{id}/read': (a) => ({ params: { id: a.channel_id }, body: { seq: 1 } }),
  'GET /v1/channels/{id}/pins': (a) => ({ params: { id: a.channel_id } }),
  'PUT /v1/channels/{id}/pins/{seq}': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'DELETE /v1/channels/{id}/pins/{seq}': (a) => ({ params: { id: a.channel_id, seq: '1' } }),
  'POST /v1/channels/{id}/messages/{seq}/report': (a) => ({ params: { id: a.channel_id, seq: '1' }, body: { reason: 'spam' } }),
  'POST /v1/channels/{id}/threads': (a) => ({ params: { id: a.channel_id }, body: { name: 'intruder' } }),
  'GET /v1/channels/{id}/threads': (a) => ({ params: { id: a.channel_id } }),
  'GET /v1/communities/{id}/threads': (a) => ({ params: { id: a.community_id } }),
  'GET /v1/threads/{id}': (a) => ({ params: { id: a.thread_id } }),
  'PATCH /v1/threads/{id}': (a) => ({ params: { id: a.thread_id }, body: { name: 'hijacked' } }),
  'DELETE /v1/threads/{id}': (a) => ({ params: { id: a.thread_id } }),
  'GET /v1/threads/{id}/members': (a) => ({ params: { id: a.thread_id } }),
  'PUT /v1/threads/{id}/members/{address}': (a) => ({ params: { id: a.thread_id, address: a.address } }),
  'DELETE /v1/threads/{id}/members/{address}': (a) => ({ params: { id: a.thread_id, address: a.address } }),
};
// Routes whose parameter names something every signed-in account may read, and why.
const SHARED = {
  'GET /v1/keys/{address}': 'the key directory: anyone signed in fetches a user\'s public keys to write to them',
  'GET /v1/communities/{id}': 'a community\'s name, gate and size: what joining takes is shown to everyone signed in',
  'POST /v1/communities/{id}/join': 'joins the caller itself, as far as the community\'s gate and bans allow',
  'POST /v1/communities/{id}/leave': 'acts on the caller\'s own membership only',
};

describe('authorization matrix', () => {
  let server, db;
  before(async () => {
    db = freshDatabase('sqlite');
    // The chain is named by sign-in messages only; EOA signatures never call it.
    server = await startServer([...db.flags, '--test-hooks', '--siwe-domain', DOMAIN, '--chain', '31337=http://127.0.0.1:9',
      '--rate-limit', '5000', '--rate-burst', '5000', '--signin-rate-limit', '1000', '--signin-rate-burst', '1000',
      '--signin-address-rate-limit', '1000', '--signin-address-rate-burst', '1000',
      // Every write route of channel messages is tried as another account, more than one budget's burst.
      '--message-rate-limit', '1000', '--message-rate-burst', '1000']);
  });
  after(async () => {
    assert.equal((await server.stop()).code, 0);
    db.drop();
  });

  const api = (path, { method = 'GET', token, body, headers = {} } = {}) => fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  async function signIn(wallet) {
    const { nonce } = await (await api('/v1/auth/nonce', { method: 'POST' })).json();
    const text = new SiweMessage({
      domain: DOMAIN, address: wallet.address, statement: 'Sign in to gatehouse.', uri: `https://${DOMAIN}/login`,
      version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString(),
    }).prepareMessage();
    const r = await api('/v1/auth/verify', { method: 'POST', body: { message: text, signature: await wallet.signMessage(text) } });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  }

  async function withDevice(account) {
    const device = await new MlsDevice({ url: server.url, token: account.token, address: account.address }).register({ count: 1, name: 'phone' });
    return { ...account, device, device_id: device.deviceId };
  }

  async function withCommunity(account) {
    const slug = `c-${Date.now()}`;
    let r = await api('/v1/communities', { method: 'POST', token: account.token, body: { name: 'Private', slug } });
    assert.equal(r.status, 201, await r.clone().text());
    const community_id = (await r.json()).id;
    r = await api(`/v1/communities/${community_id}/channels`, { method: 'POST', token: account.token, body: { name: 'general' } });
    assert.equal(r.status, 201, await r.clone().text());
    const channel_id = (await r.json()).id;
    r = await api(`/v1/communities/${community_id}/automod/rules`, { method: 'POST', token: account.token,
      body: { name: 'no links', trigger: { type: 'links' } } });
    assert.equal(r.status, 201, await r.clone().text());
    const rule_id = (await r.json()).id;
    r = await api(`/v1/communities/${community_id}/roles`, { method: 'POST', token: account.token, body: { name: 'helper', permissions: [] } });
    assert.equal(r.status, 201, await r.clone().text());
    // A member's message the owner reported: a report only the community's moderators handle.
    const member = await signIn(Wallet.createRandom());
    assert.equal((await api(`/v1/communities/${community_id}/join`, { method: 'POST', token: member.token })).status, 200);
    r = await api(`/v1/channels/${channel_id}/messages`, { method: 'POST', token: member.token, body: { body: 'report me', client_id: 'r1' } });
    assert.equal(r.status, 201, await r.clone().text());
    r = await api(`/v1/channels/${channel_id}/messages/${(await r.json()).seq}/report`, { method: 'POST', token: account.token, body: { reason: 'spam' } });
    assert.equal(r.status, 201, await r.clone().text());
    const report_id = (await r.json()).id;
    // A thread of the channel: read and changed as the channel is.
    r = await api(`/v1/channels/${channel_id}/threads`, { method: 'POST', token: account.token, body: { name: 'plans' } });
    assert.equal(r.status, 201, await r.clone().text());
    const thread_id = (await r.json()).id;
    return { ...account, community_id, channel_id, rule_id, role: 'helper', report_id, thread_id };
  }

  const fill = (path, values) => path.replace(/\{([^}]+)\}/g, (_, name) => encodeURIComponent(values[name] ?? `x-${name}`));
  const bodyFor = (method) => (['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined);

  test('the route table comes from the server and declares its public routes', async () => {
    const { routes } = await (await api('/v1/_test/routes')).json();
    assert.ok(routes.length > 10);
    const pub = routes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`);
    for (const expected of ['GET /healthz', 'POST /v1/auth/nonce', 'POST /v1/auth/verify']) assert.ok(pub.includes(expected), expected);
    assert.ok(!pub.includes('GET /v1/me'));
  });

  test('every non-public route answers 401 without credentials and with a revoked session', async () => {
    const { routes } = await (await api('/v1/_test/routes')).json();
    const revoked = await signIn(Wallet.createRandom());
    assert.equal((await api('/v1/auth/logout', { method: 'POST', token: revoked.token })).status, 204);
    const guarded = routes.filter((r) => !r.public);
    assert.ok(guarded.length >= 8);
    for (const { method, path } of guarded) {
      const target = fill(path, { address: Wallet.createRandom().address });
      const methods = method === 'GET' ? ['GET', 'HEAD'] : [method];
      for (const m of methods) {
        let r = await api(target, { method: m, body: bodyFor(m) });
        assert.equal(r.status, 401, `${m} ${path} without credentials`);
        if (m !== 'HEAD') assert.match((await r.json()).error.code, /^(unauthenticated|invalid_session)$/);
        else await r.body?.cancel();
        r = await api(target, { method: m, token: revoked.token, body: bodyFor(m) });
        assert.equal(r.status, 401, `${m} ${path} with a revoked session`);
        await r.body?.cancel();
      }
    }
  });

  test('a route naming another account\'s resource never serves it', async () => {
    const { routes } = await (await api('/v1/_test/routes')).json();
    const alice = await withCommunity(await withDevice(await signIn(Wallet.createRandom())));
    const bob = await withDevice(await signIn(Wallet.createRandom()));
    const carol = await signIn(Wallet.createRandom());
    // Alice's group, her DM with Carol (a second device of hers gets its welcome).
    alice.group_id = await alice.device.createGroup();
    const second = await withDevice(alice);
    alice.dm_id = await alice.device.dm(carol.address);
    alice.welcome_id = (await second.device.api('/v1/welcomes')).welcomes[0].id;
    const templated = routes.filter((r) => !r.public && r.path.includes('{'));
    for (const { method, path } of templated) {
      const key = `${method} ${path}`;
      if (SHARED[key]) continue;
      assert.ok(OWNED[key], `${key} takes a parameter: list it in OWNED (with a fixture) or SHARED (with a reason)`);
      const { params, body } = OWNED[key](alice);
      // As Bob's own device, and as Bob claiming one of Alice's devices in X-Device-Id.
      for (const device of [bob.device_id, second.device_id]) {
        const r = await api(fill(path, params), { method, token: bob.token, body, headers: { 'x-device-id': device } });
        assert.ok([403, 404].includes(r.status), `${key} as another account (device ${device === bob.device_id ? 'own' : 'claimed'}): ${r.status}`);
        await r.body?.cancel();
      }
    }
    // A resource named by a header instead of the path: every GET without parameters, as Bob
    // naming Alice's device, reveals none of Alice's private identifiers.
    const secrets = { group: alice.group_id, dm: alice.dm_id, welcome: alice.welcome_id, session: alice.session_id };
    for (const { method, path } of routes.filter((r) => !r.public && r.method === 'GET' && !r.path.includes('{'))) {
      const r = await api(path, { token: bob.token, headers: { 'x-device-id': second.device_id } });
      const text = await r.text();
      for (const [what, id] of Object.entries(secrets)) {
        assert.ok(!text.includes(id), `${method} ${path} with another account's X-Device-Id shows Alice's ${what}: ${r.status}`);
      }
    }
    // Alice's session, devices, groups and welcome are untouched.
    const me = await (await api('/v1/me', { token: alice.token })).json();
    assert.equal(me.devices.length, 2);
    assert.equal(me.devices.find((d) => d.device_id === alice.device_id).key_packages, 1);
    const group = await alice.device.api(`/v1/groups/${alice.group_id}`);
    assert.equal(group.last_seq, 0);
    assert.equal((await alice.device.api(`/v1/groups/${alice.dm_id}`)).consent, 'allowed');
    assert.equal((await second.device.api('/v1/welcomes')).welcomes.length, 1);
    for (const key of Object.keys(OWNED)) {
      assert.ok(templated.some((r) => `${r.method} ${r.path}` === key), `${key} is listed but no longer exists`);
    }
  });

  test('webhook push targets must be https URLs to public addresses', async () => {
    const owner = await signIn(Wallet.createRandom());
    const register = async (token) => {
      const device = new MlsDevice({ url: server.url, token: owner.token, address: owner.address });
      const body = await device.registrationBody({ count: 0, name: 'hook', push: { provider: 'webhook', token } });
      return api('/v1/devices', { method: 'POST', token: owner.token, body });
    };
    for (const [url, status, code] of [
      ['https://169.254.169.254/latest/meta-data/', 403, 'forbidden_destination'],
      ['https://[::ffff:127.0.0.1]/hook', 403, 'forbidden_destination'],
      ['https://10.0.0.5/hook', 403, 'forbidden_destination'],
      ['https://localhost/hook', 403, 'forbidden_destination'],
      ['http://hooks.example.com/hook', 400, 'invalid_url'],
      ['https://user:pw@hooks.example.com/hook', 400, 'invalid_url'],
      ['https://2130706433/hook', 400, 'invalid_url'],
    ]) {
      const r = await register(url);
      assert.equal(r.status, status, url);
      assert.equal((await r.json()).error.code, code, url);
    }
    assert.equal((await register('https://hooks.example.com/push/abc')).status, 201);
  });

  test('Web Push subscription endpoints must be https URLs to public addresses', async () => {
    const owner = await signIn(Wallet.createRandom());
    const keys = { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') };
    const register = async (token) => {
      const device = new MlsDevice({ url: server.url, token: owner.token, address: owner.address });
      const body = await device.registrationBody({ count: 0, name: 'browser', push: { provider: 'webpush', token } });
      return api('/v1/devices', { method: 'POST', token: owner.token, body });
    };
    for (const [endpoint, status, code] of [
      ['https://169.254.169.254/latest/meta-data/', 403, 'forbidden_destination'],
      ['https://[fd00::1]/push', 403, 'forbidden_destination'],
      ['https://127.0.0.1:8080/push', 403, 'forbidden_destination'],
      ['http://push.example.com/s/1', 400, 'invalid_url'],
    ]) {
      const r = await register(JSON.stringify({ endpoint, keys }));
      assert.equal(r.status, status, endpoint);
      assert.equal((await r.json()).error.code, code, endpoint);
    }
    for (const junk of ['not json', JSON.stringify({ keys })]) {
      const r = await register(junk);
      assert.equal(r.status, 400, junk);
      assert.equal((await r.json()).error.code, 'invalid_field');
    }
    assert.equal((await register(JSON.stringify({ endpoint: 'https://push.example.com/s/1', keys }))).status, 201);
    const me = await (await api('/v1/me', { token: owner.token })).json();
    assert.deepEqual(me.devices.map((d) => d.push_provider), ['webpush']);
  });
});
