// Hostile input, every route: starting from valid requests the other suites send
// (lib/requests.json, `make request-corpus`), each field, query parameter and path parameter in
// turn is replaced by a hostile value (wrong types, out-of-range numbers, U+0000, lone surrogates,
// very long strings and arrays, deep nesting), and bodies that are not JSON objects are sent to
// every route that takes one. No answer may be a 5xx, the server logs no error, and no route takes
// a 70,000-character string or a 3,000-item array: every field has an explicit limit. WebSocket
// frames get the same treatment (each answered, the socket left open), and so do headers.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, freshDatabase, backends } from './lib/harness.mjs';
import { client, chatFlags } from './lib/chat.mjs';
import { MlsDevice } from './lib/mls-client.mjs';

const corpus = JSON.parse(readFileSync(new URL('./lib/requests.json', import.meta.url), 'utf8'));
// Routes that would take the fixture away from the routes after them.
const SKIP = new Set(['DELETE /v1/communities/{id}', 'DELETE /v1/channels/{id}', 'POST /v1/communities/{id}/leave',
  'POST /v1/auth/logout', 'DELETE /v1/sessions/{id}', 'DELETE /v1/devices/{device_id}']);
// A documented 503: the provider webhook without a signing key (chain.md).
const documented = (status, text) => status === 503 && /webhook_not_configured/.test(text);

const LONG = 'x'.repeat(70_000);
const WIDE = Array(3000).fill('x');
const deep = (d) => (d === 0 ? 1 : [deep(d - 1)]);
const VALUES = [null, true, -1, 1e308, 9223372036854775808, 2.5, '', LONG, 'a\u0000b', 'a\ud800b', [], {}, WIDE,
  Array(3000).fill(1)];
const QUERY_VALUES = ['-1', 'abc', '1e400', '99999999999999999999', '-9223372036854775809', '', '%FF', '%00', 'x'.repeat(5000)];
const PATH_VALUES = ['-1', '0', '99999999999999999999', 'a'.repeat(300), '%20', `0x${'g'.repeat(40)}`, '..%2F..'];
const RAW = ['not json', '', '{', '[]', 'null', '"s"', '{"a":1}{"b":2}', JSON.stringify({ a: deep(40) }), '{"a":"\\u0000"}',
  Buffer.from('{"body":"\xff\xfe"}', 'latin1')];

// Frames stay under the WebSocket message limit (64 KiB: past it, close 1009 by design).
const FRAME_VALUES = [null, true, -1, 1e308, 9223372036854775808, 2.5, '', 'x'.repeat(10_000), 'a\u0000b', 'a\ud800b', [], {},
  Array(1000).fill('x'), Array(1000).fill(1)];
const RAW_FRAMES = ['not json', '', '[]', 'null', '{"type":1}', '{"type":"subscribe"}', '{"type":"nope"}', JSON.stringify({ type: 'ping', a: deep(20) })];

// Every path to a value of v, as key lists; of an array, its first two items.
const paths = (v, prefix = []) => (v === null || typeof v !== 'object' ? []
  : Object.keys(v).slice(0, Array.isArray(v) ? 2 : undefined).flatMap((k) => [[...prefix, k], ...paths(v[k], [...prefix, k])]));
const setAt = (v, path, x) => {
  const copy = structuredClone(v);
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path.at(-1)] = x;
  return copy;
};

for (const backend of backends()) {
  describe(`hostile input on every route (${backend})`, () => {
    let db, server, api, connect, routes, owner, ids, device;
    before(async () => {
      db = freshDatabase(backend);
      server = await startServer([...db.flags, ...chatFlags, '--message-rate-limit', '1000000', '--message-rate-burst', '1000000',
        '--ws-message-rate', '1000000', '--ws-message-burst', '1000000']);
      const c = client(server);
      api = c.api;
      connect = () => c.connect(owner);
      routes = (await (await api('/v1/_test/routes')).json()).routes.filter((r) => !r.path.startsWith('/v1/_test'));
      owner = await c.signIn();
      const member = await c.signIn();
      device = await new MlsDevice({ url: server.url, token: owner.token, address: owner.address }).register({ count: 20, name: 'phone' });
      const made = async (path, body, who = owner) => {
        const r = await api(path, { method: 'POST', token: who.token, body });
        assert.ok(r.status < 300, `${path}: ${r.status} ${await r.clone().text()}`);
        return r.json();
      };
      const community = (await made('/v1/communities', { name: 'Sweep', slug: `sweep-${backend}-${Date.now()}` })).id;
      await made(`/v1/communities/${community}/join`, undefined, member);
      const channel = (await made(`/v1/communities/${community}/channels`, { name: 'general' })).id;
      for (let i = 0; i < 3; ++i) await c.post(member, channel, `hello ${i}`);
      const report = (await made(`/v1/channels/${channel}/messages/1/report`, { reason: 'spam' })).id;
      const thread = (await made(`/v1/channels/${channel}/threads`, { name: 'plans' })).id;
      const rule = (await made(`/v1/communities/${community}/automod/rules`, { name: 'links', trigger: { type: 'links' } })).id;
      await made(`/v1/communities/${community}/roles`, { name: 'helper', permissions: [] });
      const group = await device.createGroup();
      ids = { community, channel, thread, rule: String(rule), report: String(report), group, device_id: device.deviceId,
        address: member.address, seq: '2', answer: '1', emoji: '👍', role: 'helper' };
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, server.stderr.slice(-4000));
      db.drop();
    });

    // The value of a path parameter that names the fixture's own resource.
    const param = (path, name) => {
      if (name !== 'id') return ids[name] ?? `x-${name}`;
      const kind = ['reports', 'rules'].find((k) => path.includes(`/${k}/{id}`)) ??
        ['communities', 'channels', 'threads', 'groups'].find((k) => path.startsWith(`/v1/${k}/`));
      return { reports: ids.report, rules: ids.rule, communities: ids.community, channels: ids.channel, threads: ids.thread, groups: ids.group }[kind] ?? 'x';
    };
    const target = (path, hostile = {}) => path.replace(/\{([^}]+)\}/g, (_, name) => hostile[name] ?? encodeURIComponent(param(path, name)));

    // Sends one request; what must not happen goes to `problems` (of the running test).
    let problems = [];
    let logged = 0;
    const begin = () => {
      problems = [];
      logged = server.lines.length;
    };
    const send = async (key, path, method, body) => {
      const r = await fetch(`${server.url}${path}`, { method, body,
        headers: { authorization: `Bearer ${owner.token}`, 'x-device-id': device.deviceId, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } });
      const text = await r.text();
      const shown = `${key} ${path.slice(0, 200)} ${String(body ?? '').slice(0, 200)}`;
      if (r.status >= 500 && !documented(r.status, text)) problems.push(`${r.status} ${shown} :: ${text.slice(0, 300)}`);
      if (r.status < 300 && typeof body === 'string' && (body.includes(LONG) || body.includes(JSON.stringify(WIDE)))) {
        problems.push(`took a value past any limit: ${r.status} ${shown.replace(/x{100,}/g, 'x…')}`);
      }
    };
    // The routes in an order that keeps the fixture: deletions last.
    const ordered = () => routes.filter((r) => !SKIP.has(`${r.method} ${r.path}`))
      .sort((a, b) => (a.method === 'DELETE') - (b.method === 'DELETE'));
    const errorsLogged = () => server.lines.slice(logged).filter((l) => l.level === 'error' || l.level === 'critical');

    test('the corpus lists every route of the table, and only those', () => {
      const table = routes.map((r) => `${r.method} ${r.path}`);
      assert.deepEqual(table.filter((k) => !corpus[k]), [], 'routes missing from lib/requests.json: run make request-corpus');
      assert.deepEqual(Object.keys(corpus).filter((k) => !table.includes(k)), [], 'lib/requests.json names routes that are gone');
    });

    test('a field, a query parameter or a path parameter replaced by a hostile value never gets a 5xx', async () => {
      begin();
      let n = 0;
      for (const { method, path } of ordered()) {
        const key = `${method} ${path}`;
        const { bodies, queries } = corpus[key] ?? { bodies: [], queries: [] };
        const at = target(path);
        for (const body of bodies) {
          for (const p of paths(body)) {
            for (const value of VALUES) {
              const b = setAt(body, p, value);
              if (typeof b.client_id === 'string') b.client_id = `sweep-${++n}`;
              await send(key, at, method, JSON.stringify(b));
            }
          }
        }
        for (const query of queries) {
          const params = [...new URLSearchParams(query)];
          for (const [name] of params) {
            for (const value of QUERY_VALUES) {
              const q = params.map(([k, v]) => `${encodeURIComponent(k)}=${k === name ? value : encodeURIComponent(v)}`).join('&');
              await send(key, `${at}?${q}`, method, undefined);
            }
          }
        }
        const body = bodies.length ? JSON.stringify(bodies[0]) : (['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined);
        for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
          for (const value of PATH_VALUES) await send(key, target(path, { [name]: value }), method, body);
        }
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(errorsLogged(), []);
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    });

    test('a WebSocket frame with a field replaced by a hostile value gets an answer, and the socket stays open', async () => {
      begin();
      const { channel, group, seq } = ids;
      const frames = [
        { type: 'subscribe', channel_ids: [channel], group_ids: [group], report_channel_ids: [channel] },
        { type: 'resume', channels: { [channel]: 1 }, groups: { [group]: 0 } },
        { type: 'unsubscribe', channel_ids: [channel], group_ids: [group] },
        { type: 'ack', channel_id: channel, seq: Number(seq) },
        { type: 'typing', channel_id: channel },
        { type: 'presence_query', channel_id: channel },
        { type: 'presence_set', status: 'online', custom_status: { text: 'here', emoji: '👍' } },
        { type: 'ping', id: 'p' },
      ];
      let ws = connect();
      await ws.opened;
      let pings = 0;
      // Every frame sent so far is answered: a ping behind them comes back.
      const settled = async (what) => {
        const id = `settled-${++pings}`;
        ws.send({ type: 'ping', id });
        try {
          await ws.waitFor((f) => f.type === 'pong' && f.id === id);
        } catch {
          problems.push(`${what}: the socket ended (${JSON.stringify(ws.closed)})`);
          ws = connect();
          await ws.opened;
        }
      };
      for (const frame of frames) {
        for (const p of paths(frame).filter((x) => x[0] !== 'type')) {
          for (const value of FRAME_VALUES) {
            const sent = setAt(frame, p, value);
            ws.send(sent);
            if (ws.frames.length > 500) ws.frames.splice(0, ws.frames.length - 100);
          }
          await settled(`${frame.type} ${p.join('.')}`);
        }
      }
      for (const raw of RAW_FRAMES) ws.ws.send(raw);
      await settled('frames that are not JSON objects with a known type');
      assert.deepEqual(problems, []);
      assert.equal(ws.closed, null);
      assert.deepEqual(ws.frames.filter((f) => f.type === 'error' && f.code === 'internal'), []);
      assert.deepEqual(errorsLogged(), []);
      ws.close();
    });

    test('a header with a hostile value never gets a 5xx', async () => {
      begin();
      // Headers may carry any byte but CR, LF and NUL: these go out as Latin-1, so 0xff 0xfe is not UTF-8.
      const values = ['x'.repeat(4000), '\u00ff\u00fe', '%00', 'a b,c;d=e'];
      const named = ['x-device-id', 'x-api-key', 'x-request-id', 'content-type'];
      for (const { method, path } of ordered()) {
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? JSON.stringify(corpus[`${method} ${path}`]?.bodies[0] ?? {}) : undefined;
        for (const name of named) {
          for (const value of values) {
            const r = await fetch(`${server.url}${target(path)}`, { method, body,
              headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json', [name]: value } });
            const text = await r.text();
            if (r.status >= 500 && !documented(r.status, text)) problems.push(`${r.status} ${method} ${path} ${name}: ${text.slice(0, 200)}`);
          }
        }
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(errorsLogged(), []);
    });

    test('a body that is not a JSON object gets a 4xx on every route that takes one', async () => {
      begin();
      for (const { method, path } of ordered().filter((r) => ['POST', 'PUT', 'PATCH'].includes(r.method))) {
        for (const raw of RAW) await send(`${method} ${path}`, target(path), method, raw);
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(errorsLogged(), []);
    });
  });
}
