// Channel messages survive a SIGKILL of the real binary, on SQLite and PostgreSQL: four accounts
// post into one channel at once and the server is killed with their requests in flight, three
// times over one database. After each restart every message answered 201 is in history as it was
// answered, seqs are 1..N without gap or duplicate, a post whose answer was lost is retried with
// its client_id and stored once, a socket subscribed before the crash resumes from the last seq it
// saw and gets exactly the missed messages, then live ones, and read markers and unread counts
// agree with history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freshDatabase, backends, until } from './lib/harness.mjs';
import { chatFlags, client, subscribed, assertSeqs } from './lib/chat.mjs';

const channel = 'crash';
const senderCount = 4;
const loopsPerSender = 4;  // requests each sender keeps in flight
const killAfter = 150;     // 201s seen in a round before the kill
const rounds = 3;

const same = (a, b) => a.toLowerCase() === b.toLowerCase();

// The whole channel, oldest first, paged forward with after_seq; paged back with before_seq it is
// the same list.
async function history(c, account) {
  const get = async (q) => {
    const r = await c.api(`/v1/channels/${channel}/messages?limit=100&${q}`, { token: account.token });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()).messages;
  };
  const forward = [];
  for (let page = await get('after_seq=0'); page.length > 0; page = await get(`after_seq=${forward.at(-1).seq}`)) forward.push(...page);
  const backward = [];
  for (let page = await get(''); page.length > 0; page = await get(`before_seq=${page.at(-1).seq}`)) backward.push(...page);
  assert.deepEqual(backward.reverse(), forward, 'before_seq and after_seq pages hold the same messages');
  return forward;
}

// Gapless seqs from 1, one message per client_id and per body.
function assertChannel(messages, what) {
  assertSeqs(messages, 1, messages.length, what);
  assert.equal(new Set(messages.map((m) => m.client_id)).size, messages.length, `${what}: a client_id stored twice`);
  assert.equal(new Set(messages.map((m) => m.body)).size, messages.length, `${what}: a body stored twice`);
}

// The account's unread entry: its marker is `marker`, and it counts the messages above the marker
// that are not its own.
async function assertUnread(c, account, messages, marker, what) {
  const r = await c.api(`/v1/unread?channel_ids=${channel}`, { token: account.token });
  assert.equal(r.status, 200);
  const unread = messages.filter((m) => m.seq > marker && !same(m.author, account.address) && !m.deleted).length;
  assert.deepEqual((await r.json()).channels,
    [{ channel_id: channel, last_seq: messages.length, last_read_seq: marker, unread, mentions: 0 }], what);
}

// Posting moved each sender's marker to its own last message (senders never move it otherwise).
async function assertSenderMarkers(c, senders, messages, what) {
  for (const [i, sender] of senders.entries()) {
    const own = messages.filter((m) => same(m.author, sender.address)).map((m) => m.seq);
    await assertUnread(c, sender, messages, Math.max(0, ...own), `${what}: sender ${i}`);
  }
}

// Every sender posts from several loops until the server is gone; it is killed with SIGKILL from
// the callback of the killAfter-th 201 of the round, once the reader has moved its marker. A 201
// is recorded with its message; a request that fails once the server is killed has an unknown
// outcome.
async function postUntilKilled(server, c, { senders, reader, accepted, round }) {
  const unknown = [];
  let answered = 0;
  let outstanding = 0;
  let atKill;
  let readerMarker;
  const kill = () => {
    if (atKill !== undefined) return;
    atKill = outstanding;
    server.proc.kill('SIGKILL');
  };
  const killed = () => atKill !== undefined;
  const send = async (sender, i, loop) => {
    for (let k = 0; !killed(); k++) {
      const post = { client_id: `r${round}-s${i}-${loop}-${k}`, body: `round ${round} sender ${i} loop ${loop} message ${k}` };
      let status, json;
      outstanding++;
      try {
        const r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: sender.token, body: post });
        status = r.status;
        json = await r.json();
      } catch (e) {
        if (!killed()) { kill(); throw e; }
        unknown.push({ sender, ...post });
        return;
      } finally {
        outstanding--;
      }
      if (status !== 201) kill();
      assert.equal(status, 201, JSON.stringify(json));
      accepted.set(post.client_id, json);
      if (++answered >= killAfter && readerMarker !== undefined) kill();
    }
  };
  // Meanwhile the reader moves its marker to a seq it was told of.
  const reading = (async () => {
    await until('60 posts answered', () => answered >= 60 || killed());
    const seq = Math.max(...[...accepted.values()].map((m) => m.seq));
    const r = await c.api(`/v1/channels/${channel}/read`, { method: 'PUT', token: reader.token, body: { seq } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { channel_id: channel, last_read_seq: seq });
    readerMarker = seq;
  })().catch((e) => { kill(); throw e; });
  const loops = senders.flatMap((sender, i) => Array.from({ length: loopsPerSender }, (_, loop) => send(sender, i, loop)));
  await Promise.all([...loops, reading]);
  assert.equal((await server.exited).signal, 'SIGKILL');
  assert.ok(atKill > 0, 'requests were in flight at the kill');
  return { unknown, readerMarker };
}

for (const backend of backends()) {
  test(`channel messages answered 201 survive SIGKILLs under concurrent senders (${backend})`, async () => {
    const db = freshDatabase(backend);
    const flags = [...db.flags, ...chatFlags, '--message-rate-limit', '100000', '--message-rate-burst', '100000'];
    let server = await startServer(flags);
    try {
      let c = client(server);
      const senders = await Promise.all(Array.from({ length: senderCount }, () => c.signIn()));
      const reader = await c.signIn();
      for (const a of [...senders, reader]) await c.grant(a, channel);
      let watcher = c.connect(reader);
      assert.equal((await subscribed(watcher, channel)).seq, 0);
      let watched = 0;  // the last seq the watcher had when the round began
      const accepted = new Map();  // client_id -> the 201's message, over every round
      const stats = [];

      for (let round = 1; round <= rounds; round++) {
        const { unknown, readerMarker } = await postUntilKilled(server, c, { senders, reader, accepted, round });

        // What the socket saw before the crash: the seqs after `watched`, once each, in order.
        await watcher.waitClosed();
        const seen = watcher.messages(channel).filter((f) => f.seq > watched);
        const lastSeen = seen.at(-1)?.seq ?? watched;
        assertSeqs(seen, watched + 1, lastSeen, `round ${round}: live frames before the crash`);

        server = await startServer(flags);
        c = client(server);
        // Test-hook grants live in the process, not in the database.
        for (const a of [...senders, reader]) await c.grant(a, channel);

        // Every 201 is stored as it was answered; what else is stored are posts whose answer was lost.
        const before = await history(c, reader);
        assertChannel(before, `round ${round}: history after restart`);
        for (const [clientId, m] of accepted) assert.deepEqual(before[m.seq - 1], m, `round ${round}: ${clientId} as answered`);
        const unknownIds = new Set(unknown.map((u) => u.client_id));
        const lost = before.filter((m) => !accepted.has(m.client_id));
        for (const m of lost) assert.ok(unknownIds.has(m.client_id), `round ${round}: ${m.client_id} stored but never sent`);
        assert.ok(lastSeen <= before.length, `round ${round}: the socket saw a message that was not kept`);
        for (const f of seen) assert.equal(f.id, before[f.seq - 1].id);
        await assertSenderMarkers(c, senders, before, `round ${round}: after restart`);
        await assertUnread(c, reader, before, readerMarker, `round ${round}: the reader after restart`);

        // A post of unknown outcome, retried with its client_id, returns the stored message if it
        // was committed, else a new one.
        const stored = new Map(before.map((m) => [m.client_id, m]));
        for (const u of unknown) {
          const r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: u.sender.token, body: { client_id: u.client_id, body: u.body } });
          assert.equal(r.status, 201);
          const m = await r.json();
          if (stored.has(u.client_id)) assert.deepEqual(m, stored.get(u.client_id), `round ${round}: retry of committed ${u.client_id}`);
          else assert.ok(m.seq > before.length, `round ${round}: retry of uncommitted ${u.client_id} is a new message`);
          accepted.set(u.client_id, m);
        }
        // One more message the socket misses, whatever the retries stored. (client() numbers its
        // client_ids from 1 again after a restart: these name their own.)
        const away = await c.post(senders[0], channel, `after restart ${round}`, { client_id: `r${round}-away` });
        accepted.set(away.client_id, away);
        const after = await history(c, reader);
        assertChannel(after, `round ${round}: history after the retries`);
        assert.deepEqual(after.slice(0, before.length), before);
        for (const u of unknown) assert.equal(after.filter((m) => m.client_id === u.client_id && m.body === u.body).length, 1, `${u.client_id} stored once`);

        // The socket resumes from the last seq it saw: exactly the missed messages, in order, then live.
        watcher = c.connect(reader);
        assert.equal((await subscribed(watcher, channel, lastSeen)).type, 'subscribed');
        const live = await c.post(senders[1], channel, `live after resume ${round}`, { client_id: `r${round}-live` });
        accepted.set(live.client_id, live);
        await watcher.waitFor((f) => f.type === 'message' && f.seq === live.seq);
        watcher.send({ type: 'ping', id: 'end' });
        await watcher.waitFor((f) => f.type === 'pong' && f.id === 'end');
        const got = watcher.messages(channel);
        assertSeqs(got, lastSeen + 1, live.seq, `round ${round}: resumed frames`);
        assert.deepEqual(got.map((f) => [f.id, f.body]), [...after.slice(lastSeen), live].map((m) => [m.id, m.body]));
        watched = live.seq;

        const final = [...after, live];
        await assertSenderMarkers(c, senders, final, `round ${round}: at the end`);
        await assertUnread(c, reader, final, readerMarker, `round ${round}: the reader at the end`);
        stats.push(`${unknown.length} lost answers (${lost.length} committed), socket ${lastSeen}/${before.length}`);
      }
      console.log(`# ${backend}: ${accepted.size} messages; per round: ${stats.join('; ')}`);
      watcher.close();
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, server.stderr.slice(-4000));
    } finally {
      await server.stop('SIGKILL');
      db.drop();
    }
  });
}
