// Channel messaging over HTTP and the real-time gateway through the real binary, on SQLite and
// PostgreSQL: idempotent sends, gapless seqs under concurrent senders, history, edits, tombstones,
// replies, reactions, mentions, read markers and unread counts, limits; /v1/ws with token auth,
// subscribe authorization, two clients exchanging messages, resume after 500 missed messages with
// live traffic at the seam, membership removal, logout, typing, presence, ping, and drain (1012).
// Channel access comes from the test hooks' grants (POST /v1/_test/channel-access).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { startServer, freshDatabase, backends, until } from './lib/harness.mjs';
import { chatFlags, client, subscribed, assertSeqs } from './lib/chat.mjs';

for (const backend of backends()) {
  describe(`messaging and gateway (${backend})`, () => {
    let db, server, c;
    before(async () => {
      db = freshDatabase(backend);
      server = await startServer([...db.flags, ...chatFlags, '--message-rate-limit', '10000', '--message-rate-burst', '10000']);
      c = client(server);
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, server.stderr.slice(-4000));
      db.drop();
    });

    const outbox = async (topic) => (await (await c.api(`/v1/_test/outbox?topic=${topic}`)).json()).events;

    test('a send returns id, seq and created_at; a retry with the same client_id returns the first result', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'idem');
      const first = await c.api('/v1/channels/idem/messages', { method: 'POST', token: alice.token, body: { body: 'hello', client_id: 'k1' } });
      assert.equal(first.status, 201);
      const a = await first.json();
      assert.equal(a.seq, 1);
      assert.ok(a.id && a.created_at);
      const again = await c.api('/v1/channels/idem/messages', { method: 'POST', token: alice.token, body: { body: 'changed', client_id: 'k1' } });
      assert.equal(again.status, 201);
      assert.deepEqual(await again.json(), a);
      // A retry returns the message as it is now, reactions included.
      const fire = await c.api(`/v1/channels/idem/messages/${a.seq}/reactions/${encodeURIComponent('🔥')}`, { method: 'PUT', token: alice.token });
      assert.equal(fire.status, 204);
      const later = await c.api('/v1/channels/idem/messages', { method: 'POST', token: alice.token, body: { body: 'hello', client_id: 'k1' } });
      assert.equal(later.status, 201);
      assert.deepEqual(await later.json(), { ...a, change: 1, reactions: [{ emoji: '🔥', count: 1, me: true }] });
      // Concurrent retries of one client id store one message.
      const racing = await Promise.all(Array.from({ length: 8 }, () => c.api('/v1/channels/idem/messages',
        { method: 'POST', token: alice.token, body: { body: 'race', client_id: 'k2' } }).then((r) => r.json())));
      assert.equal(new Set(racing.map((m) => m.id)).size, 1);
      assert.equal(racing[0].seq, 2);
      const history = await (await c.api('/v1/channels/idem/messages', { token: alice.token })).json();
      assert.deepEqual(history.messages.map((m) => m.seq), [2, 1]);
      assert.equal((await outbox('messaging.channel_message')).filter((e) => e.payload.channel_id === 'idem').length, 2);
    });

    test('concurrent senders produce a gapless seq, and a subscribed socket gets every message once, in order', async () => {
      const senders = await Promise.all(Array.from({ length: 5 }, () => c.signIn()));
      const reader = await c.signIn();
      for (const s of [...senders, reader]) await c.grant(s, 'busy');
      const sock = c.connect(reader);
      assert.equal((await subscribed(sock, 'busy')).seq, 0);
      const posted = await Promise.all(senders.flatMap((s, i) => Array.from({ length: 40 }, (_, k) => c.post(s, 'busy', `m ${i}.${k}`))));
      assert.deepEqual(posted.map((p) => p.seq).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
      await sock.waitFor((f) => f.type === 'message' && f.seq === 200);
      assertSeqs(sock.messages('busy'), 1, 200, 'live frames');
      const page = await (await c.api('/v1/channels/busy/messages?after_seq=150&limit=100', { token: reader.token })).json();
      assertSeqs(page.messages, 151, 200, 'after_seq page');
      sock.close();
    });

    test('history pages by before_seq (newest first) and after_seq (oldest first) within limits', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'hist');
      for (let i = 1; i <= 30; i++) await c.post(alice, 'hist', `n${i}`);
      const get = async (q) => (await c.api(`/v1/channels/hist/messages${q}`, { token: alice.token }));
      let r = await (await get('?limit=10')).json();
      assert.deepEqual(r.messages.map((m) => m.seq), [30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
      r = await (await get('?before_seq=21&limit=5')).json();
      assert.deepEqual(r.messages.map((m) => m.seq), [20, 19, 18, 17, 16]);
      r = await (await get('?after_seq=27')).json();
      assert.deepEqual(r.messages.map((m) => m.seq), [28, 29, 30]);
      assert.equal(r.messages[0].body, 'n28');
      // Around a seq (a jump to a search result): it, up to limit - limit/2 - 1 below, limit/2 above, newest first.
      const around = async (q) => (await (await get(q)).json()).messages.map((m) => m.seq);
      assert.deepEqual(await around('?around_seq=15&limit=5'), [17, 16, 15, 14, 13]);
      assert.deepEqual(await around('?around_seq=15&limit=4'), [17, 16, 15, 14]);
      assert.deepEqual(await around('?around_seq=15&limit=1'), [15]);
      assert.deepEqual(await around('?around_seq=2&limit=6'), [5, 4, 3, 2, 1]);
      assert.deepEqual(await around('?around_seq=29&limit=6'), [30, 29, 28, 27]);
      assert.deepEqual(await around('?around_seq=0&limit=4'), [2, 1]);
      assert.deepEqual(await around('?around_seq=9223372036854775807&limit=4'), [30, 29]);
      for (const bad of ['?limit=0', '?limit=101', '?before_seq=x', '?after_seq=-1', '?before_seq=3&after_seq=1',
        '?around_seq=3&before_seq=9', '?around_seq=3&after_seq=1', '?around_seq=-2']) {
        assert.equal((await get(bad)).status, 400, bad);
      }
      const stranger = await c.signIn();
      assert.equal((await c.api('/v1/channels/hist/messages', { token: stranger.token })).status, 403);
      assert.equal((await c.api('/v1/channels/hist/messages', { method: 'POST', token: stranger.token, body: { body: 'x', client_id: 'z' } })).status, 403);
      await c.grant(stranger, 'hist', { read: true, post: false });
      assert.equal((await c.api('/v1/channels/hist/messages', { token: stranger.token })).status, 200);
      assert.equal((await c.api('/v1/channels/hist/messages', { method: 'POST', token: stranger.token, body: { body: 'x', client_id: 'z' } })).status, 403);
    });

    test('PUT /v1/read moves several read markers at once, all or none', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      for (const ch of ['bulk1', 'bulk2', 'bulk3']) {
        await c.grant(alice, ch);
        await c.grant(bob, ch);
      }
      for (let i = 0; i < 3; i++) await c.post(alice, 'bulk1', `one ${i}`);
      for (let i = 0; i < 5; i++) await c.post(alice, 'bulk2', `two ${i}`);
      const sock = c.connect(bob);
      await sock.waitFor((f) => f.type === 'hello');
      const read = (who, channels) => c.api('/v1/read', { method: 'PUT', token: who.token, body: { channels } });
      const unread = async () => (await (await c.api('/v1/unread?channel_ids=bulk1,bulk2,bulk3', { token: bob.token })).json()).channels
        .map((u) => [u.channel_id, u.last_read_seq, u.unread]);
      assert.deepEqual(await unread(), [['bulk1', 0, 3], ['bulk2', 0, 5], ['bulk3', 0, 0]]);

      // A channel bob may not read: 403, and no marker moved.
      const stranger = await read(bob, { bulk1: 3, secret: 1 });
      assert.equal(stranger.status, 403);
      assert.deepEqual(await unread(), [['bulk1', 0, 3], ['bulk2', 0, 5], ['bulk3', 0, 0]]);
      for (const [channels, code] of [[{}, 'invalid_channels'], [[], 'invalid_channels'], [{ bulk1: -1 }, 'invalid_seq'],
        [{ bulk1: 'x' }, 'invalid_seq'], [{ 'a/b': 1 }, 'invalid_channel_id'],
        [Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`c${i}`, 1])), 'invalid_channels']]) {
        const r = await read(bob, channels);
        assert.equal(r.status, 400, JSON.stringify(channels).slice(0, 80));
        assert.equal((await r.json()).error.code, code);
      }

      // Mark all as read: past the head is clamped, a marker never moves back.
      const r = await read(bob, { bulk1: Number.MAX_SAFE_INTEGER, bulk2: 4, bulk3: 7 });
      assert.equal(r.status, 200);
      assert.deepEqual((await r.json()).channels, { bulk1: 3, bulk2: 4, bulk3: 0 });
      assert.deepEqual(await unread(), [['bulk1', 3, 0], ['bulk2', 4, 1], ['bulk3', 0, 0]]);
      await sock.waitFor((f) => f.type === 'read' && f.channel_id === 'bulk2' && f.seq === 4);
      await sock.waitFor((f) => f.type === 'read' && f.channel_id === 'bulk1' && f.seq === 3);
      assert.deepEqual((await (await read(bob, { bulk2: 1 })).json()).channels, { bulk2: 4 });
      sock.close();
    });

    test('mark unread: a forced read marker moves back, and the messages above it count again', async () => {
      const [alice, bob] = [await c.signIn(), await c.signIn()];
      for (const who of [alice, bob]) await c.grant(who, 'unr');
      for (let i = 0; i < 5; i++) await c.post(alice, 'unr', `news ${i}`);
      const sock = c.connect(bob);
      await subscribed(sock, 'unr');
      const read = async (body) => {
        const r = await c.api('/v1/channels/unr/read', { method: 'PUT', token: bob.token, body });
        return { status: r.status, body: await r.json() };
      };
      const unread = async () => (await (await c.api('/v1/unread?channel_ids=unr', { token: bob.token })).json()).channels[0];
      assert.deepEqual((await read({ seq: 5 })).body, { channel_id: 'unr', last_read_seq: 5 });
      assert.equal((await unread()).unread, 0);
      assert.deepEqual((await read({ seq: 2 })).body.last_read_seq, 5, 'without force it never moves back');
      assert.deepEqual((await read({ seq: 2, force: true })).body, { channel_id: 'unr', last_read_seq: 2 });
      assert.deepEqual(await unread(), { channel_id: 'unr', last_seq: 5, last_read_seq: 2, unread: 3, mentions: 0 });
      await sock.waitFor((f) => f.type === 'read' && f.channel_id === 'unr' && f.seq === 2);
      assert.equal((await read({ seq: 99, force: true })).body.last_read_seq, 5, 'clamped to the head');
      assert.equal((await read({ seq: 0, force: true })).body.last_read_seq, 0);
      assert.equal((await unread()).unread, 5);
      const bad = await read({ seq: 1, force: 'yes' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_force');
      assert.equal((await unread()).last_read_seq, 0, 'a refused request changes nothing');
      sock.close();
    });

    test('a reply shows its parent: the author and the start of its text, as it is when read', async () => {
      const [alice, bob] = [await c.signIn(), await c.signIn()];
      for (const who of [alice, bob]) await c.grant(who, 'quote');
      const sock = c.connect(bob);
      await subscribed(sock, 'quote');
      // 99 ASCII bytes then a 4-byte character: the preview stops before it, at 99 bytes.
      const long = `${'a'.repeat(99)}😀 and more words after the cut`;
      const parent = await c.post(alice, 'quote', long);
      const other = await c.post(alice, 'quote', 'short one');
      const reply = await c.post(bob, 'quote', 'agreed', { reply_to: parent.seq });
      const cut = { author: alice.address, body: 'a'.repeat(99), deleted: false };
      assert.deepEqual(reply.reply_preview, cut);
      assert.deepEqual((await sock.waitFor((f) => f.type === 'message' && f.seq === reply.seq)).reply_preview, cut);
      const second = await c.post(bob, 'quote', 'me too', { reply_to: other.seq });
      assert.equal(parent.reply_preview, undefined);
      const page = async () => (await (await c.api('/v1/channels/quote/messages', { token: bob.token })).json()).messages;
      let messages = await page();
      assert.deepEqual(messages.map((m) => m.reply_preview?.body ?? null), ['short one', 'a'.repeat(99), null, null]);
      // Read when the reply is: the parent's edit shows, its delete leaves only its author.
      assert.equal((await c.api(`/v1/channels/quote/messages/${other.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'short one, edited' } })).status, 200);
      assert.equal((await c.api(`/v1/channels/quote/messages/${parent.seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      messages = await page();
      assert.deepEqual(messages[0].reply_preview, { author: alice.address, body: 'short one, edited', deleted: false });
      assert.deepEqual(messages[1].reply_preview, { author: alice.address, body: '', deleted: true });
      const one = await (await c.api(`/v1/channels/quote/messages/${second.seq}`, { token: bob.token })).json();
      assert.equal(one.reply_preview.body, 'short one, edited');
      const replies = await (await c.api(`/v1/channels/quote/messages/${parent.seq}/replies`, { token: bob.token })).json();
      assert.deepEqual(replies.messages.map((m) => m.reply_preview), [{ author: alice.address, body: '', deleted: true }]);
      // A deleted reply shows nothing of its parent.
      assert.equal((await c.api(`/v1/channels/quote/messages/${second.seq}`, { method: 'DELETE', token: bob.token })).status, 204);
      assert.equal((await page())[0].reply_preview, undefined);
      sock.close();
    });

    test('polls: one or several answers per account, counted exactly under concurrent votes, closed when they end', async () => {
      const author = await c.signIn();
      const voters = await Promise.all(Array.from({ length: 6 }, () => c.signIn()));
      const outsider = await c.signIn();
      for (const who of [author, ...voters]) await c.grant(who, 'polls');
      const sock = c.connect(voters[0]);
      await subscribed(sock, 'polls');
      const create = (poll, extra = {}) => c.api('/v1/channels/polls/messages', { method: 'POST', token: author.token,
        body: { client_id: `p${Math.random()}`.replace('.', ''), poll, ...extra } });
      const poll = { question: 'Ship on Friday?', answers: ['yes', 'no', 'next week'] };
      for (const bad of [[], 'x', { question: 'q' }, { question: '', answers: ['a', 'b'] }, { question: 'q', answers: ['a'] },
        { question: 'q', answers: Array.from({ length: 11 }, (_, i) => `a${i}`) }, { question: 'q', answers: ['a', 'a'] },
        { question: 'q', answers: ['a', ''] }, { question: 'q', answers: ['a', 'x'.repeat(101)] }, { question: 'x'.repeat(301), answers: ['a', 'b'] },
        { question: 'q', answers: ['a', 'b'], duration_hours: 0 }, { question: 'q', answers: ['a', 'b'], duration_hours: 769 },
        { question: 'q', answers: ['a', 'b'], multiple: 'yes' }, { question: 'q', answers: ['a', 1] }]) {
        const r = await create(bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).error.code, 'invalid_poll', JSON.stringify(bad));
      }
      let r = await create(poll);
      assert.equal(r.status, 201, await r.clone().text());
      const single = await r.json();
      assert.equal(single.body, '');
      assert.deepEqual(single.poll.answers, [{ id: 1, text: 'yes', votes: 0, me: false }, { id: 2, text: 'no', votes: 0, me: false },
        { id: 3, text: 'next week', votes: 0, me: false }]);
      assert.equal(single.poll.multiple, false);
      assert.equal(single.poll.total_votes, 0);
      const hours = (Date.parse(single.poll.ends_at) - Date.parse(single.created_at)) / 3600_000;
      assert.ok(Math.abs(hours - 24) < 0.01, single.poll.ends_at);
      r = await create({ ...poll, multiple: true, duration_hours: 1 }, { body: 'pick any' });
      const multi = await r.json();
      assert.equal(multi.body, 'pick any');
      assert.equal(multi.poll.multiple, true);

      const vote = (who, m, answer, method = 'PUT') => c.api(`/v1/channels/polls/messages/${m.seq}/poll/votes/${answer}`, { method, token: who.token });
      const get = async (m, who = voters[0]) => (await (await c.api(`/v1/channels/polls/messages/${m.seq}`, { token: who.token })).json()).poll;
      // Everyone at once: each counted once; in a single-answer poll a second vote replaces the first.
      const results = await Promise.all(voters.flatMap((v, i) => [vote(v, single, 1 + (i % 3)), vote(v, multi, 1), vote(v, multi, 2 + (i % 2))]));
      assert.ok(results.every((x) => x.status === 204), results.map((x) => x.status).join());
      assert.deepEqual((await get(single)).answers.map((a) => a.votes), [2, 2, 2]);
      assert.deepEqual((await get(multi)).answers.map((a) => a.votes), [6, 3, 3]);
      assert.equal((await get(multi)).total_votes, 12);
      assert.equal((await vote(voters[0], single, 2)).status, 204);
      let seen = await get(single);
      assert.deepEqual(seen.answers.map((a) => a.votes), [1, 3, 2]);
      assert.deepEqual(seen.answers.map((a) => a.me), [false, true, false]);
      assert.equal((await vote(voters[0], single, 2, 'DELETE')).status, 204);
      assert.deepEqual((await get(single)).answers.map((a) => a.votes), [1, 2, 2]);
      const live = await sock.waitFor((f) => f.type === 'poll_votes' && f.seq === single.seq && f.votes.join() === '1,2,2');
      assert.ok(live.change > 0);

      // Who chose an answer, in address order and in pages.
      const voted = async (m, answer, query = '', who = voters[2]) => {
        const res = await c.api(`/v1/channels/polls/messages/${m.seq}/poll/votes/${answer}${query}`, { token: who.token });
        return { status: res.status, body: await res.json() };
      };
      const everyone = voters.map((v) => v.address).sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
      let listed = await voted(multi, 1, '?limit=4');
      assert.deepEqual(listed.body, { accounts: everyone.slice(0, 4), next_after: everyone[3] });
      listed = await voted(multi, 1, `?limit=4&after=${everyone[3]}`);
      assert.deepEqual(listed.body, { accounts: everyone.slice(4), next_after: null });
      assert.deepEqual((await voted(single, 2)).body.accounts, voters.filter((_, i) => i % 3 === 1).map((v) => v.address)
        .sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1)));
      assert.equal((await voted(multi, 4)).body.error.code, 'invalid_answer');
      assert.equal((await voted(multi, 1, '?after=nope')).body.error.code, 'invalid_after');
      assert.equal((await voted({ seq: 999 }, 1)).status, 404);
      assert.equal((await voted(multi, 1, '', outsider)).status, 403);

      // One account voting for every answer at once, several times: one vote stays.
      const race = await (await create({ question: 'race', answers: ['a', 'b', 'c'] })).json();
      const raced = await Promise.all(Array.from({ length: 12 }, (_, i) => vote(voters[5], race, 1 + (i % 3))));
      assert.ok(raced.every((x) => x.status === 204));
      const after = await get(race, voters[5]);
      assert.equal(after.total_votes, 1);
      assert.equal(after.answers.filter((a) => a.me).length, 1);

      const code = async (res) => (await res.json()).error.code;
      r = await vote(voters[0], single, 4);
      assert.equal(r.status, 400);
      assert.equal(await code(r), 'invalid_answer');
      const plain = await c.post(author, 'polls', 'no poll here');
      r = await vote(voters[0], plain, 1);
      assert.equal(r.status, 404);
      assert.equal(await code(r), 'poll_not_found');
      assert.equal((await vote(outsider, single, 1)).status, 403);

      // Only the author ends a poll; then it takes no more votes, and its counts stay.
      r = await c.api(`/v1/channels/polls/messages/${single.seq}/poll/end`, { method: 'POST', token: voters[1].token });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'not_author');
      assert.equal((await c.api(`/v1/channels/polls/messages/${single.seq}/poll/end`, { method: 'POST', token: author.token })).status, 204);
      const ended = await sock.waitFor((f) => f.type === 'message_updated' && f.seq === single.seq);
      assert.ok(Date.parse(ended.poll.ends_at) <= Date.now());
      // Its result follows: a system message replying to it, with the final counts and the winners.
      const result = await sock.waitFor((f) => f.type === 'message' && f.system?.kind === 'poll_result');
      assert.equal(result.author, '0x0000000000000000000000000000000000000000');
      assert.equal(result.body, '');
      assert.equal(result.reply_to, single.seq);
      assert.equal(result.reply_preview.author, author.address);
      assert.deepEqual(result.system, { kind: 'poll_result', poll_seq: single.seq, question: 'Ship on Friday?',
        answers: [{ id: 1, text: 'yes', votes: 1 }, { id: 2, text: 'no', votes: 2 }, { id: 3, text: 'next week', votes: 2 }],
        multiple: false, total_votes: 5, winners: [2, 3] });
      // No account edits it, not even the poll's author.
      r = await c.api(`/v1/channels/polls/messages/${result.seq}`, { method: 'PATCH', token: author.token, body: { body: 'yes won' } });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'not_author');
      r = await vote(voters[5], single, 1);
      assert.equal(r.status, 409);
      assert.equal(await code(r), 'poll_closed');
      assert.deepEqual((await get(single)).answers.map((a) => a.votes), [1, 2, 2]);
      assert.equal((await c.api(`/v1/channels/polls/messages/${single.seq}/poll/end`, { method: 'POST', token: author.token })).status, 204);

      // History carries the polls as the viewer sees them; a deleted poll message carries none.
      const history = (await (await c.api('/v1/channels/polls/messages?after_seq=0', { token: voters[1].token })).json()).messages;
      assert.deepEqual(history.map((m) => m.poll?.answers.map((a) => a.me) ?? null), [[false, true, false], [true, false, true], [false, false, false], null, null]);
      // Ended twice, the poll has one result.
      assert.deepEqual(history.filter((m) => m.system).map((m) => [m.seq, m.system.kind]), [[result.seq, 'poll_result']]);
      assert.equal((await c.api(`/v1/channels/polls/messages/${multi.seq}`, { method: 'DELETE', token: author.token })).status, 204);
      assert.equal((await get(multi)), undefined);
      r = await vote(voters[0], multi, 1);
      assert.equal(r.status, 409);
      assert.equal(await code(r), 'message_deleted');
      sock.close();
    });

    test('a forward carries a snapshot of the message as it was, to readers of its source only', async () => {
      const [alice, bob, carol] = await Promise.all([c.signIn(), c.signIn(), c.signIn()]);
      for (const who of [alice, bob]) await c.grant(who, 'fwd-src');
      for (const who of [alice, bob, carol]) await c.grant(who, 'fwd-dst');
      const sock = c.connect(carol);
      await subscribed(sock, 'fwd-dst');
      const original = await c.post(alice, 'fwd-src', `gm @${bob.address} see https://example.org`);
      const forward = (who, source, extra = {}) => c.api('/v1/channels/fwd-dst/messages', { method: 'POST', token: who.token,
        body: { client_id: `f${Math.random()}`.replace('.', ''), forward: source, ...extra } });
      const snapshot = { channel_id: 'fwd-src', seq: original.seq, author: alice.address, body: original.body, created_at: original.created_at };

      let r = await forward(bob, { channel_id: 'fwd-src', seq: original.seq }, { client_id: 'fwd-1' });
      assert.equal(r.status, 201, await r.clone().text());
      const sent = await r.json();
      assert.equal(sent.body, '');
      assert.equal(sent.author, bob.address);
      assert.deepEqual(sent.forward, snapshot);
      assert.deepEqual(sent.mentions, []);  // the snapshot's mention pings no one
      const live = await sock.waitFor((f) => f.type === 'message' && f.seq === sent.seq);
      assert.deepEqual(live.forward, snapshot);
      const event = (await outbox('messaging.channel_message')).find((e) => e.payload.channel_id === 'fwd-dst' && e.payload.seq === sent.seq);
      assert.deepEqual(event.payload.forward, { channel_id: 'fwd-src', seq: original.seq });
      // Found by the words and links of what it forwards, and as a forward; it mentions no one.
      const found = async (q) => (await (await c.api(`/v1/channels/fwd-dst/search?${q}`, { token: carol.token })).json()).messages.map((m) => m.seq);
      assert.deepEqual(await found('q=gm'), [sent.seq]);
      assert.deepEqual(await found('has=forward'), [sent.seq]);
      assert.deepEqual(await found('has=link,forward&q=example'), [sent.seq]);
      assert.deepEqual(await found(`mentions=${bob.address}`), []);

      // With a comment; a forward of a comment-less forward passes on the original; with a comment,
      // the forward itself.
      r = await forward(alice, { channel_id: 'fwd-dst', seq: sent.seq }, { body: 'again' });
      assert.equal(r.status, 201);
      const again = await r.json();
      assert.equal(again.body, 'again');
      assert.deepEqual(again.forward, snapshot);
      r = await forward(bob, { channel_id: 'fwd-dst', seq: again.seq });
      assert.deepEqual((await r.json()).forward,
        { channel_id: 'fwd-dst', seq: again.seq, author: alice.address, body: 'again', created_at: again.created_at });

      // Only a reader of the source forwards it, and only a message that stands.
      const code = async (res) => [res.status, (await res.json()).error.code];
      assert.deepEqual(await code(await forward(carol, { channel_id: 'fwd-src', seq: original.seq })), [403, 'forbidden']);
      assert.deepEqual(await code(await forward(bob, { channel_id: 'fwd-src', seq: 999 })), [404, 'message_not_found']);
      const poll = await c.post(alice, 'fwd-src', '', { poll: { question: 'Forward me?', answers: ['yes', 'no'] } });
      assert.deepEqual(await code(await forward(bob, { channel_id: 'fwd-src', seq: poll.seq })), [400, 'cannot_forward']);
      for (const bad of ['fwd-src', { channel_id: 'fwd-src' }, { channel_id: 'fwd-src', seq: 0 }, { channel_id: 'fwd-src', seq: '1' },
        { channel_id: 'fwd-src', seq: 1, extra: true }]) {
        assert.deepEqual(await code(await forward(bob, bad)), [400, 'invalid_forward'], JSON.stringify(bad));
      }
      assert.deepEqual(await code(await forward(bob, { channel_id: 'fwd-src', seq: original.seq }, { reply_to: sent.seq })),
        [400, 'invalid_forward']);

      // The snapshot stays as it was through an edit and a delete of the original, and a retry of
      // the forward still gets it.
      assert.equal((await c.api(`/v1/channels/fwd-src/messages/${original.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'changed' } })).status, 200);
      assert.equal((await c.api(`/v1/channels/fwd-src/messages/${original.seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      assert.deepEqual(await code(await forward(bob, { channel_id: 'fwd-src', seq: original.seq })), [409, 'message_deleted']);
      r = await forward(bob, { channel_id: 'fwd-src', seq: original.seq }, { client_id: 'fwd-1' });
      assert.equal(r.status, 201);
      assert.equal((await r.json()).id, sent.id);
      const history = (await (await c.api('/v1/channels/fwd-dst/messages', { token: carol.token })).json()).messages;
      assert.deepEqual(history.find((m) => m.seq === sent.seq).forward, snapshot);
      // Deleting the forward takes its snapshot with it.
      assert.equal((await c.api(`/v1/channels/fwd-dst/messages/${sent.seq}`, { method: 'DELETE', token: bob.token })).status, 204);
      const gone = await (await c.api(`/v1/channels/fwd-dst/messages/${sent.seq}`, { token: carol.token })).json();
      assert.deepEqual([gone.deleted, gone.forward], [true, undefined]);
      assert.equal((await outbox('messaging.mention')).filter((e) => e.payload.channel_id === 'fwd-dst').length, 0);
      sock.close();
    });

    test('bodies are limited to 4 KiB of valid UTF-8', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'limits');
      const send = (body) => c.api('/v1/channels/limits/messages', { method: 'POST', token: alice.token, body: { body, client_id: `b${Math.random()}` } });
      assert.equal((await send('é'.repeat(2048))).status, 201);  // 4096 bytes
      const big = await send('é'.repeat(2048) + 'x');
      assert.equal(big.status, 413);
      assert.equal((await big.json()).error.code, 'body_too_large');
      for (const bad of ['', '   ', 'a\u0001b']) {
        const r = await send(bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).error.code, 'invalid_body');
      }
      // A lone surrogate cannot be sent as JSON text by a well-behaved client; raw invalid UTF-8 can.
      const raw = Buffer.concat([Buffer.from('{"client_id":"raw","body":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      const r = await fetch(`${server.url}/v1/channels/limits/messages`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: raw });
      assert.equal(r.status, 400);
      const missing = await c.api('/v1/channels/limits/messages', { method: 'POST', token: alice.token, body: { body: 'x' } });
      assert.equal((await missing.json()).error.code, 'invalid_client_id');
    });

    test('edit, delete (tombstone), replies, reactions, mentions and read markers', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      const carol = await c.signIn();
      const outsider = Wallet.createRandom();
      await c.grant(alice, 'room');
      await c.grant(bob, 'room', { role: 'mods' });
      await c.grant(carol, 'room');
      const bobSock = c.connect(bob);
      await subscribed(bobSock, 'room');

      const root = await c.post(alice, 'room', `hi @${bob.address.toLowerCase()} and @${outsider.address} and @&mods`);
      const reply = await c.post(carol, 'room', 'a reply', { reply_to: root.seq });
      assert.equal(reply.reply_to, root.seq);
      assert.equal((await c.api('/v1/channels/room/messages', { method: 'POST', token: carol.token, body: { body: 'x', client_id: 'orphan', reply_to: 999 } })).status, 400);
      const replies = await (await c.api(`/v1/channels/room/messages/${root.seq}/replies`, { token: bob.token })).json();
      assert.deepEqual(replies.messages.map((m) => m.seq), [reply.seq]);

      // Mentions: bob (by address and by role, once), never the outsider who cannot read the channel.
      const mentions = (await outbox('messaging.mention')).filter((e) => e.payload.channel_id === 'room');
      assert.deepEqual(mentions.map((e) => e.payload.account), [bob.address]);
      const replyEvents = (await outbox('messaging.reply')).filter((e) => e.payload.channel_id === 'room');
      assert.deepEqual(replyEvents.map((e) => e.payload.account), [alice.address]);

      const before = await (await c.api('/v1/unread?channel_ids=room', { token: bob.token })).json();
      assert.deepEqual(before.channels, [{ channel_id: 'room', last_seq: 2, last_read_seq: 0, unread: 2, mentions: 1 }]);

      // Edits by the author only, seen live as message_updated.
      assert.equal((await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'PATCH', token: bob.token, body: { body: 'hijack' } })).status, 403);
      const edited = await (await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'edited' } })).json();
      assert.equal(edited.body, 'edited');
      assert.ok(edited.edited_at);
      await bobSock.waitFor((f) => f.type === 'message_updated' && f.seq === root.seq && f.body === 'edited');

      // Reactions: one per account and emoji, counted, live.
      const react = (who, emoji, method = 'PUT') => c.api(`/v1/channels/room/messages/${root.seq}/reactions/${encodeURIComponent(emoji)}`, { method, token: who.token });
      assert.equal((await react(bob, '👍')).status, 204);
      assert.equal((await react(bob, '👍')).status, 204);
      assert.equal((await react(carol, '👍')).status, 204);
      assert.equal((await react(carol, 'a b')).status, 400);
      await bobSock.waitFor((f) => f.type === 'reaction' && f.account === carol.address && f.action === 'added');
      let one = await (await c.api(`/v1/channels/room/messages/${root.seq}`, { token: bob.token })).json();
      assert.deepEqual(one.reactions, [{ emoji: '👍', count: 2, me: true }]);
      assert.equal((await react(bob, '👍', 'DELETE')).status, 204);
      one = await (await c.api(`/v1/channels/room/messages/${root.seq}`, { token: bob.token })).json();
      assert.deepEqual(one.reactions, [{ emoji: '👍', count: 1, me: false }]);

      // Unread counts and read markers (a sender's own message counts as read).
      let unread = await (await c.api('/v1/unread?channel_ids=room', { token: bob.token })).json();
      assert.deepEqual(unread.channels, [{ channel_id: 'room', last_seq: 2, last_read_seq: 0, unread: 2, mentions: 0 }], 'the edit removed the mention');
      const marker = await c.api('/v1/channels/room/read', { method: 'PUT', token: bob.token, body: { seq: 1 } });
      assert.equal((await marker.json()).last_read_seq, 1);
      await bobSock.waitFor((f) => f.type === 'read' && f.seq === 1);
      assert.equal((await (await c.api('/v1/channels/room/read', { method: 'PUT', token: bob.token, body: { seq: 0 } })).json()).last_read_seq, 1, 'never backwards');
      assert.equal((await (await c.api('/v1/channels/room/read', { method: 'PUT', token: bob.token, body: { seq: 99 } })).json()).last_read_seq, 2, 'clamped to the head');
      bobSock.send({ type: 'ack', channel_id: 'room', seq: 2 });
      unread = await (await c.api('/v1/unread', { token: carol.token })).json();
      assert.deepEqual(unread.channels.find((u) => u.channel_id === 'room'), { channel_id: 'room', last_seq: 2, last_read_seq: 2, unread: 0, mentions: 0 });

      // Delete leaves a tombstone; seqs stay gapless; a deleted message takes no edit or reaction.
      assert.equal((await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'DELETE', token: bob.token })).status, 403);
      assert.equal((await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      assert.equal((await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      await bobSock.waitFor((f) => f.type === 'message_updated' && f.seq === root.seq && f.deleted);
      const tomb = await (await c.api(`/v1/channels/room/messages/${root.seq}`, { token: bob.token })).json();
      assert.equal(tomb.deleted, true);
      assert.equal(tomb.body, '');
      assert.deepEqual(tomb.reactions, []);
      assert.equal((await c.api(`/v1/channels/room/messages/${root.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'back' } })).status, 409);
      assert.equal((await react(bob, '👍')).status, 409);
      assert.equal((await c.api('/v1/channels/room/messages/99', { token: bob.token })).status, 404);
      bobSock.close();
    });

    test('role mentions count as mentions; edits and reactions need the post right, deleting one\'s own the read right', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      const dave = await c.signIn();
      await c.grant(alice, 'roles');
      await c.grant(bob, 'roles', { role: 'ops' });
      await c.grant(dave, 'roles');
      // '_' in a role name is a letter, not a wildcard: o_s is not ops.
      const ping = await c.post(alice, 'roles', 'deploy now @&OPS');
      assert.deepEqual(ping.mention_roles, ['ops']);
      await c.post(alice, 'roles', 'not you @&o_s');
      const mine = await c.post(dave, 'roles', 'dave was here');
      const unread = async (who) => (await (await c.api('/v1/unread?channel_ids=roles', { token: who.token })).json()).channels[0];
      assert.deepEqual(await unread(bob), { channel_id: 'roles', last_seq: 3, last_read_seq: 0, unread: 3, mentions: 1 });
      assert.equal((await unread(dave)).mentions, 0, 'dave holds no role');
      const pings = (await outbox('messaging.mention')).filter((e) => e.payload.channel_id === 'roles');
      assert.deepEqual(pings.map((e) => [e.payload.account, e.payload.seq]), [[bob.address, ping.seq]]);
      // An edit that drops the role mention drops the count.
      const edited = await c.api(`/v1/channels/roles/messages/${ping.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'never mind' } });
      assert.equal(edited.status, 200);
      assert.equal((await unread(bob)).mentions, 0);

      // Read only: dave can no longer edit or react, but can still take back his own message.
      await c.grant(dave, 'roles', { read: true, post: false });
      const patch = await c.api(`/v1/channels/roles/messages/${mine.seq}`, { method: 'PATCH', token: dave.token, body: { body: 'changed' } });
      assert.equal(patch.status, 403);
      assert.equal((await patch.json()).error.code, 'forbidden');
      for (const method of ['PUT', 'DELETE']) {
        const r = await c.api(`/v1/channels/roles/messages/${ping.seq}/reactions/${encodeURIComponent('👍')}`, { method, token: dave.token });
        assert.equal(r.status, 403, method);
      }
      const kept = await (await c.api(`/v1/channels/roles/messages/${mine.seq}`, { token: dave.token })).json();
      assert.equal(kept.body, 'dave was here');
      assert.deepEqual((await (await c.api(`/v1/channels/roles/messages/${ping.seq}`, { token: dave.token })).json()).reactions, []);
      assert.equal((await c.api(`/v1/channels/roles/messages/${mine.seq}`, { method: 'DELETE', token: dave.token })).status, 204);
      assert.equal((await (await c.api(`/v1/channels/roles/messages/${mine.seq}`, { token: dave.token })).json()).deleted, true);

      // Someone else's message: only with the moderation right.
      const erin = await c.signIn();
      await c.grant(erin, 'roles', { moderate: true });
      const notAuthor = await c.api(`/v1/channels/roles/messages/${ping.seq}`, { method: 'DELETE', token: bob.token });
      assert.equal(notAuthor.status, 403);
      assert.equal((await notAuthor.json()).error.code, 'not_author');
      assert.equal((await c.api(`/v1/channels/roles/messages/${ping.seq}`, { method: 'DELETE', token: erin.token })).status, 204);
      assert.equal((await (await c.api(`/v1/channels/roles/messages/${ping.seq}`, { token: bob.token })).json()).deleted, true);
      const deletions = (await outbox('messaging.message_deleted')).filter((e) => e.payload.channel_id === 'roles');
      assert.deepEqual(deletions.map((e) => [e.payload.seq, e.payload.author, e.payload.deleted_by]),
        [[mine.seq, dave.address, dave.address], [ping.seq, alice.address, erin.address]]);
      // @&member (everyone) counts only from a moderator.
      assert.deepEqual((await c.post(alice, 'roles', 'all of you @&member')).mention_roles, []);
      assert.deepEqual((await c.post(erin, 'roles', 'all of you @&member')).mention_roles, ['member']);
      // The moderation right does not let erin edit it.
      assert.equal((await c.api(`/v1/channels/roles/messages/2`, { method: 'PATCH', token: erin.token, body: { body: 'x' } })).status, 403);
    });

    test('unread figures of many channels at once, in the order asked', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      for (const ch of ['u-a', 'u-b', 'u-c']) await c.grant(bob, ch);
      for (const ch of ['u-a', 'u-b', 'u-d']) await c.grant(alice, ch);
      await c.post(alice, 'u-a', 'one');
      await c.post(alice, 'u-a', `two @${bob.address}`);
      await c.post(alice, 'u-b', 'read already');
      await c.post(alice, 'u-d', 'not for bob');
      assert.equal((await c.api('/v1/channels/u-b/read', { method: 'PUT', token: bob.token, body: { seq: 1 } })).status, 200);
      const r = await (await c.api('/v1/unread?channel_ids=u-c,u-d,u-a,u-b,u-a', { token: bob.token })).json();
      assert.deepEqual(r.channels, [
        { channel_id: 'u-c', last_seq: 0, last_read_seq: 0, unread: 0, mentions: 0 },
        { channel_id: 'u-a', last_seq: 2, last_read_seq: 0, unread: 2, mentions: 1 },
        { channel_id: 'u-b', last_seq: 1, last_read_seq: 1, unread: 0, mentions: 0 },
        { channel_id: 'u-a', last_seq: 2, last_read_seq: 0, unread: 2, mentions: 1 },
      ]);
      const all = await (await c.api('/v1/unread', { token: bob.token })).json();
      assert.deepEqual(all.channels.map((u) => [u.channel_id, u.unread]).sort(), [['u-a', 2], ['u-b', 0], ['u-c', 0]]);
    });

    test('a mention of a large role notifies at most 200 of its readers', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'crowd');
      const crowd = Array.from({ length: 230 }, () => Wallet.createRandom().address);
      for (let i = 0; i < crowd.length; i += 23) {
        await Promise.all(crowd.slice(i, i + 23).map((a, k) => c.grant(a, 'crowd', { role: 'many', read: (i + k) % 10 !== 0, post: (i + k) % 10 !== 0 })));
      }
      const m = await c.post(alice, 'crowd', 'hear ye @&many');
      const told = (await outbox('messaging.mention')).filter((e) => e.payload.channel_id === 'crowd' && e.payload.seq === m.seq);
      assert.equal(told.length, 200);
      // The first readers in address order; none of those who cannot read the channel.
      const readers = crowd.filter((_, i) => i % 10 !== 0).sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()));
      assert.deepEqual(told.map((e) => e.payload.account), readers.slice(0, 200));
    });

    test('the mentions and replies of an account one muted never notify; everyone else\'s still do', async () => {
      const [alice, bob, carol] = await Promise.all([c.signIn(), c.signIn(), c.signIn()]);
      for (const who of [alice, bob, carol]) await c.grant(who, 'muting');
      const settings = (body) => c.api('/v1/notification-settings', { method: 'PUT', token: bob.token, body });
      for (const bad of [['not an address'], [7], 'x']) {
        const r = await settings({ muted_accounts: bad });
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).error.code, 'invalid_field');
      }
      let r = await settings({ muted_accounts: [alice.address.toLowerCase(), alice.address] });
      assert.equal(r.status, 200);
      assert.deepEqual((await (await c.api('/v1/notification-settings', { token: bob.token })).json()).muted_accounts, [alice.address]);

      const center = async () => (await (await c.api('/v1/notifications?limit=100', { token: bob.token })).json()).notifications;
      const of = (list, m) => list.filter((n) => n.data.message_id === m.id);
      const waitFor = async (m) => {
        for (let i = 0; i < 400; i++) {
          const list = await center();
          if (of(list, m).length > 0) return list;
          await new Promise((res) => setTimeout(res, 25));
        }
        throw new Error('the notification never came');
      };
      const own = await c.post(bob, 'muting', 'bob speaks');
      const mention = await c.post(alice, 'muting', `hey @${bob.address}`);
      const reply = await c.post(alice, 'muting', 'a reply', { reply_to: own.seq });
      // Notifications of one account are made in order: once carol's is there, alice's were decided.
      const heard = await c.post(carol, 'muting', `hey @${bob.address}`);
      let list = await waitFor(heard);
      assert.deepEqual(of(list, mention), []);
      assert.deepEqual(of(list, reply), []);
      // The messages themselves are there: muting is about notifications.
      const history = (await (await c.api('/v1/channels/muting/messages', { token: bob.token })).json()).messages;
      assert.ok(history.some((m) => m.id === mention.id));

      r = await settings({ muted_accounts: [] });
      assert.equal(r.status, 200);
      const again = await c.post(alice, 'muting', `hey again @${bob.address}`);
      list = await waitFor(again);
      assert.equal(of(list, again)[0].kind, 'mention');
    });

    test('a mention reaches the center with a preview cut on a character; an edit refreshes it or withdraws it; so does a moderator\'s delete', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      const mod = await c.signIn();
      await c.grant(alice, 'notes');
      await c.grant(bob, 'notes');
      await c.grant(mod, 'notes', { moderate: true });
      const bobSock = c.connect(bob);
      await bobSock.opened;
      await bobSock.waitFor((f) => f.type === 'hello');
      // 279 bytes of ASCII, then two-byte characters: the preview's 280-byte limit falls inside one.
      const head = `hi @${bob.address} ${'a'.repeat(232)}`;
      assert.equal(Buffer.byteLength(head), 279);
      const m = await c.post(alice, 'notes', `${head}${'é'.repeat(10)}`);
      const center = async () => (await c.api('/v1/notifications', { token: bob.token })).json();
      const mine = (list) => list.notifications.filter((n) => n.data.message_id === m.id);
      const until = async (check, what) => {
        for (let i = 0; i < 400; i++) {
          const list = await center();
          if (check(list)) return list;
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await center())}`);
      };
      let list = await until((l) => mine(l).length === 1, 'the mention');
      assert.equal(mine(list)[0].kind, 'mention');
      assert.equal(mine(list)[0].body, head);
      assert.equal(list.unread_count, 1);
      // A later mention still arrives: the one before did not jam the queue.
      const next = await c.post(alice, 'notes', `again @${bob.address}`);
      list = await until((l) => l.notifications.some((n) => n.data.message_id === next.id), 'the next mention');
      const nextId = list.notifications.find((n) => n.data.message_id === next.id).id;
      assert.equal(list.unread_count, 2);

      // An edit that no longer names bob withdraws his mention, as it leaves his unread mentions.
      assert.equal((await c.api(`/v1/channels/notes/messages/${next.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'again, nobody' } })).status, 200);
      const unmentioned = await bobSock.waitFor((f) => f.type === 'notification_removed' && f.ids.includes(nextId));
      assert.deepEqual(unmentioned, { type: 'notification_removed', ids: [nextId], unread_count: 1, received_at: unmentioned.received_at });
      assert.equal((await center()).notifications.some((n) => n.id === nextId), false);

      // So does one that drops a role mention: bob holds ops.
      await c.grant(bob, 'notes', { role: 'ops' });
      const deploy = await c.post(alice, 'notes', 'deploy now @&ops');
      list = await until((l) => l.notifications.some((n) => n.data.message_id === deploy.id), 'the role mention');
      const deployId = list.notifications.find((n) => n.data.message_id === deploy.id).id;
      assert.equal((await c.api(`/v1/channels/notes/messages/${deploy.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'deploy now' } })).status, 200);
      const unroled = await bobSock.waitFor((f) => f.type === 'notification_removed' && f.ids.includes(deployId));
      assert.equal(unroled.unread_count, 1);

      const edited = await c.api(`/v1/channels/notes/messages/${m.seq}`, { method: 'PATCH', token: alice.token, body: { body: `hi @${bob.address}` } });
      assert.equal(edited.status, 200);
      list = await until((l) => mine(l)[0]?.body === `hi @${bob.address}`, 'the refreshed preview');
      const id = mine(list)[0].id;

      assert.equal((await c.api(`/v1/channels/notes/messages/${m.seq}`, { method: 'DELETE', token: mod.token })).status, 204);
      const removed = await bobSock.waitFor((f) => f.type === 'notification_removed' && f.ids.includes(id));
      assert.deepEqual(removed.ids, [id]);
      assert.equal(removed.unread_count, 0);
      list = await center();
      assert.deepEqual(mine(list), []);
      assert.equal(list.unread_count, 0);
      bobSock.close();
    });

    test('a ban with delete_messages_seconds deletes what the member wrote in that time, in every channel, live', async () => {
      const owner = await c.signIn();
      const member = await c.signIn();
      const spammer = await c.signIn();
      let r = await c.api('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Purge', slug: `purge-${backend}-${Date.now()}` } });
      assert.equal(r.status, 201, await r.clone().text());
      const community = (await r.json()).id;
      const channels = [];
      for (const name of ['general', 'random']) {
        r = await c.api(`/v1/communities/${community}/channels`, { method: 'POST', token: owner.token, body: { name } });
        assert.equal(r.status, 201, await r.clone().text());
        channels.push((await r.json()).id);
      }
      for (const who of [member, spammer]) {
        assert.equal((await c.api(`/v1/communities/${community}/join`, { method: 'POST', token: who.token })).status, 200);
      }
      const [general, random] = channels;
      const early = await c.post(spammer, general, 'an old message, outside the window');
      // Written ten seconds earlier, as the database sees it: the window below then has room on both sides.
      db.query(`UPDATE msg_messages SET created_ms = created_ms - 10000 WHERE id = '${early.id}'`);
      const earlyAt = Date.now() - 10_000;
      const sock = c.connect(member);
      await subscribed(sock, general);
      sock.send({ type: 'subscribe', channel_ids: [random] });
      await sock.waitFor((f) => f.type === 'subscribed' && f.channel_id === random);
      const spam = [];
      spam.push(await c.post(spammer, general, `@${member.address} free tokens, click here`));
      for (let i = 0; i < 240; i++) spam.push(await c.post(spammer, general, `spam ${i}`));
      for (let i = 0; i < 5; i++) spam.push(await c.post(spammer, random, `more spam ${i}`));
      const kept = await c.post(member, general, 'a member\'s own words stay');
      // The mention reached the member's notification center before the ban.
      const mentionOf = async () => (await (await c.api('/v1/notifications', { token: member.token })).json()).notifications
        .filter((n) => n.data.message_id === spam[0].id);
      for (let i = 0; i < 400 && (await mentionOf()).length === 0; i++) await new Promise((res) => setTimeout(res, 25));
      assert.equal((await mentionOf()).length, 1);

      const ban = (body) => c.api(`/v1/communities/${community}/bans`, { method: 'POST', token: owner.token, body });
      for (const bad of [604801, -1, 'x', 1.5]) {
        r = await ban({ address: spammer.address, delete_messages_seconds: bad });
        assert.equal(r.status, 400, String(bad));
        assert.equal((await r.json()).error.code, 'invalid_field');
      }
      // A reason is text that moderators read: at most 500 bytes, line breaks its only control characters.
      for (const reason of ['x'.repeat(501), 'bell\u0007', '\u001b[31mred', 'tab\there']) {
        r = await ban({ address: spammer.address, reason });
        assert.deepEqual([r.status, (await r.json()).error.code], [400, 'invalid_field'], JSON.stringify(reason));
      }
      // A window that holds every spam message but not the early one (at least 1 s on either side).
      const window = Math.floor((Date.now() - earlyAt) / 1000) - 1;
      assert.equal((await ban({ address: spammer.address, reason: 'spam', delete_messages_seconds: window })).status, 204);

      // Every spam message goes out live as deleted, in both channels.
      await sock.waitFor((_, frames) => frames.filter((f) => f.type === 'message_updated' && f.deleted).length >= spam.length, 30_000);
      const deletedIds = new Set(sock.frames.filter((f) => f.type === 'message_updated' && f.deleted).map((f) => f.id));
      assert.deepEqual([...deletedIds].sort(), spam.map((m) => m.id).sort());
      // In more than one transaction (245 messages, 200 per batch), each one a deletion by the owner.
      const continued = (await outbox('messaging.purge_continued')).filter((e) => e.payload.community_id === community);
      assert.ok(continued.length >= 1);
      const deletions = (await outbox('messaging.message_deleted')).filter((e) => channels.includes(e.payload.channel_id));
      assert.equal(deletions.length, spam.length);
      assert.ok(deletions.every((e) => e.payload.deleted_by === owner.address && e.payload.purged === true));

      // History: the spam is tombstones; the old message and the member's stay.
      const one = async (channel, seq) => (await c.api(`/v1/channels/${channel}/messages/${seq}`, { token: owner.token })).json();
      assert.equal((await one(general, early.seq)).deleted, false);
      assert.equal((await one(general, kept.seq)).deleted, false);
      assert.equal((await one(general, spam[100].seq)).deleted, true);
      assert.equal((await one(random, spam.at(-1).seq)).deleted, true);
      // The spam's mention left the member's notifications.
      for (let i = 0; i < 400 && (await mentionOf()).length > 0; i++) await new Promise((res) => setTimeout(res, 25));
      assert.deepEqual(await mentionOf(), []);

      // Moderators list the bans, in address order and in pages; members may not.
      const others = [Wallet.createRandom().address, Wallet.createRandom().address];
      for (const address of others) assert.equal((await ban({ address })).status, 204);
      const bans = [];
      let cursor = '';
      for (let page = 0; page < 5; page++) {
        r = await c.api(`/v1/communities/${community}/bans?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token });
        assert.equal(r.status, 200);
        const body = await r.json();
        bans.push(...body.bans);
        if (!body.next_cursor) break;
        cursor = body.next_cursor;
      }
      const expected = [spammer.address, ...others].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()));
      assert.deepEqual(bans.map((b) => b.address), expected);
      const spamBan = bans.find((b) => b.address === spammer.address);
      assert.equal(spamBan.reason, 'spam');
      assert.equal(spamBan.banned_by, owner.address);
      assert.ok(Date.parse(spamBan.banned_at) > 0);
      r = await c.api(`/v1/communities/${community}/bans`, { token: member.token });
      assert.equal(r.status, 403);
      assert.equal((await c.api(`/v1/communities/${community}/bans?cursor=nope`, { token: owner.token })).status, 400);
      sock.close();
    });

    test('a timed-out member reads but does not post, edit, react or pin until the timeout ends or is lifted', async () => {
      const [owner, mod, member, other] = await Promise.all(Array.from({ length: 4 }, () => c.signIn()));
      let r = await c.api('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Calm', slug: `calm-${backend}-${Date.now()}` } });
      assert.equal(r.status, 201, await r.clone().text());
      const community = (await r.json()).id;
      r = await c.api(`/v1/communities/${community}/channels`, { method: 'POST', token: owner.token, body: { name: 'general' } });
      const channel = (await r.json()).id;
      for (const who of [mod, member, other]) {
        assert.equal((await c.api(`/v1/communities/${community}/join`, { method: 'POST', token: who.token })).status, 200);
      }
      r = await c.api(`/v1/communities/${community}/members/${mod.address}/roles/moderator`, { method: 'PUT', token: owner.token });
      assert.ok(r.status < 300, await r.text());
      const mine = await c.post(member, channel, 'before the timeout', { client_id: 'calm-1' });
      const theirs = await c.post(other, channel, 'a message to react to');
      const sock = c.connect(member);
      await subscribed(sock, channel);

      const timeout = (who, target, body) => c.api(`/v1/communities/${community}/members/${target.address ?? target}/timeout`,
        { method: 'PUT', token: who.token, body });
      const lift = (who, target) => c.api(`/v1/communities/${community}/members/${target.address}/timeout`, { method: 'DELETE', token: who.token });
      const code = async (res) => (await res.json()).error.code;
      for (const bad of [{}, { seconds: 0 }, { seconds: -5 }, { seconds: 2419201 }, { seconds: 'x' }, { seconds: 1.5 }, { seconds: 60, reason: 'x'.repeat(501) },
        { seconds: 60, reason: 'bell\u0007' }, { seconds: 60, reason: '\u001b[31mred' }]) {
        r = await timeout(mod, member, bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal(await code(r), 'invalid_field');
      }
      r = await timeout(other, member, { seconds: 60 });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'missing_permission');
      r = await timeout(mod, owner, { seconds: 60 });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'outranked');
      assert.equal((await timeout(mod, Wallet.createRandom().address, { seconds: 60 })).status, 404);

      const before = Date.now();
      r = await timeout(mod, member, { seconds: 3600, reason: 'cool down' });
      assert.equal(r.status, 200, await r.clone().text());
      const set = await r.json();
      assert.equal(set.address, member.address);
      // The member's sockets learn it at once (a client disables its input until then).
      const told = await sock.waitFor((f) => f.type === 'timeout');
      assert.deepEqual(told, { type: 'timeout', community_id: community, until: set.timed_out_until, received_at: told.received_at });
      const until = Date.parse(set.timed_out_until);
      assert.ok(until >= before + 3600_000 - 1000 && until <= Date.now() + 3600_000 + 1000, set.timed_out_until);
      const members = (await (await c.api(`/v1/communities/${community}/members`, { token: other.token })).json()).members;
      assert.deepEqual(members.filter((m) => m.timed_out_until).map((m) => [m.address, m.timed_out_until]), [[member.address, set.timed_out_until]]);

      // Every write that needs the post right is refused with the timeout's end; nothing changes.
      const refused = [
        ['POST', `/v1/channels/${channel}/messages`, { body: 'during', client_id: 'calm-2' }],
        ['PATCH', `/v1/channels/${channel}/messages/${mine.seq}`, { body: 'changed' }],
        ['PUT', `/v1/channels/${channel}/messages/${theirs.seq}/reactions/${encodeURIComponent('👍')}`],
      ];
      for (const [method, path, body] of refused) {
        r = await c.api(path, { method, token: member.token, body });
        assert.equal(r.status, 403, `${method} ${path}`);
        const error = (await r.json()).error;
        assert.equal(error.code, 'timed_out');
        assert.equal(error.until, set.timed_out_until);
      }
      // A retry of a message stored before the timeout still gets it; the member still reads, live too.
      r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: member.token, body: { body: 'before the timeout', client_id: 'calm-1' } });
      assert.equal(r.status, 201);
      assert.equal((await r.json()).id, mine.id);
      const view = await (await c.api(`/v1/channels/${channel}`, { token: member.token })).json();
      assert.equal(view.can_read, true);
      assert.equal(view.can_post, false);
      const live = await c.post(other, channel, 'still heard');
      await sock.waitFor((f) => f.type === 'message' && f.id === live.id);
      // Nor does it show itself typing: its typing frame gets the error, the others see nothing.
      const otherSock = c.connect(other);
      await subscribed(otherSock, channel);
      sock.send({ type: 'typing', channel_id: channel });
      const refusedTyping = await sock.waitFor((f) => f.type === 'error' && f.channel_id === channel);
      assert.equal(refusedTyping.code, 'timed_out');
      assert.equal(refusedTyping.until, set.timed_out_until);
      otherSock.send({ type: 'ping', id: 'typing' });
      await otherSock.waitFor((f) => f.type === 'pong' && f.id === 'typing');
      assert.equal(otherSock.frames.filter((f) => f.type === 'typing').length, 0);
      const history = (await (await c.api(`/v1/channels/${channel}/messages`, { token: member.token })).json()).messages;
      assert.deepEqual(history.map((m) => m.body), ['still heard', 'a message to react to', 'before the timeout']);
      assert.deepEqual(history[1].reactions, []);
      // Leaving and joining again does not end it.
      assert.equal((await c.api(`/v1/communities/${community}/leave`, { method: 'POST', token: member.token })).status, 204);
      assert.equal((await c.api(`/v1/communities/${community}/join`, { method: 'POST', token: member.token })).status, 200);
      r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: member.token, body: { body: 'rejoined', client_id: 'calm-5' } });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'timed_out');
      await subscribed(sock, channel);
      // An author may still take back what they wrote.
      assert.equal((await c.api(`/v1/channels/${channel}/messages/${mine.seq}`, { method: 'DELETE', token: member.token })).status, 204);

      // Lifting ends it at once (again: nothing to lift, no error); a short timeout ends by itself.
      assert.equal((await lift(mod, member)).status, 204);
      await sock.waitFor((f) => f.type === 'timeout' && f.until === null);
      assert.equal((await lift(mod, member)).status, 204);
      await c.post(member, channel, 'after the lift');
      sock.send({ type: 'typing', channel_id: channel });
      assert.equal((await otherSock.waitFor((f) => f.type === 'typing')).account, member.address);
      assert.equal((await (await c.api(`/v1/channels/${channel}`, { token: member.token })).json()).can_post, true);
      assert.equal((await timeout(mod, member, { seconds: 2 })).status, 200);
      r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: member.token, body: { body: 'too soon', client_id: 'calm-3' } });
      assert.equal(r.status, 403);
      let passed = false;
      for (let i = 0; i < 100 && !passed; i++) {
        r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: member.token, body: { body: 'it ended', client_id: 'calm-4' } });
        passed = r.status === 201;
        if (!passed) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(passed, 'the member posts again once the timeout ended');
      assert.equal((await (await c.api(`/v1/communities/${community}/members`, { token: other.token })).json()).members
        .filter((m) => m.timed_out_until).length, 0);

      // A moderator timed out by the owner pins nothing until it is lifted.
      assert.equal((await timeout(owner, mod, { seconds: 600 })).status, 200);
      r = await c.api(`/v1/channels/${channel}/pins/${theirs.seq}`, { method: 'PUT', token: mod.token });
      assert.equal(r.status, 403);
      assert.equal(await code(r), 'timed_out');
      assert.equal((await lift(owner, mod)).status, 204);
      assert.equal((await c.api(`/v1/channels/${channel}/pins/${theirs.seq}`, { method: 'PUT', token: mod.token })).status, 204);

      // Those who manage the community are not timed out (as Discord's administrators): an admin
      // cannot be, and a timeout set before the role stops holding while it is held.
      const role = (who, name, method) => c.api(`/v1/communities/${community}/members/${who.address}/roles/${name}`,
        { method, token: owner.token });
      assert.equal((await timeout(owner, mod, { seconds: 600 })).status, 200);
      assert.ok((await role(mod, 'admin', 'PUT')).status < 300);
      r = await timeout(owner, mod, { seconds: 600 });
      assert.deepEqual([r.status, await code(r)], [403, 'cannot_timeout']);
      await c.post(mod, channel, 'an admin speaks');
      const listed = async () => (await (await c.api(`/v1/communities/${community}/members`, { token: other.token })).json())
        .members.find((m) => m.address === mod.address).timed_out_until;
      assert.equal(await listed(), undefined);
      assert.ok((await role(mod, 'admin', 'DELETE')).status < 300);
      r = await c.api(`/v1/channels/${channel}/messages`, { method: 'POST', token: mod.token, body: { body: 'held again', client_id: 'calm-5' } });
      assert.deepEqual([r.status, await code(r)], [403, 'timed_out']);
      assert.ok(Date.parse(await listed()) > Date.now());
      assert.equal((await lift(owner, mod)).status, 204);

      const events = (await outbox('community.member_timeout'))
        .filter((e) => e.payload.community_id === community && e.payload.account === member.address);
      assert.deepEqual(events.map((e) => [e.payload.account, e.payload.by, e.payload.until === null, e.payload.reason ?? null]),
        [[member.address, mod.address, false, 'cool down'], [member.address, mod.address, true, null], [member.address, mod.address, false, null]]);
      sock.close();
      otherSock.close();
    });

    test('moderators delete up to 100 messages at once, in one transaction; members see them go live', async () => {
      const [mod, member, writer, outsider] = await Promise.all(Array.from({ length: 4 }, () => c.signIn()));
      await c.grant(mod, 'bulk', { moderate: true });
      for (const who of [member, writer]) await c.grant(who, 'bulk');
      const posted = [];
      for (let i = 0; i < 8; i++) posted.push(await c.post(i % 2 ? writer : member, 'bulk', `raid wave${i} message`));
      const sock = c.connect(member);
      await subscribed(sock, 'bulk');
      const bulk = (who, body) => c.api('/v1/channels/bulk/messages/bulk-delete', { method: 'POST', token: who.token, body });

      for (const bad of [{}, { seqs: [] }, { seqs: 'x' }, { seqs: [0] }, { seqs: [-1] }, { seqs: ['1'] }, { seqs: [1.5] },
        { seqs: Array.from({ length: 101 }, (_, i) => i + 1) }]) {
        const r = await bulk(mod, bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal((await r.json()).error.code, 'invalid_seqs');
      }
      let r = await bulk(member, { seqs: [posted[0].seq] });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'missing_permission');
      r = await bulk(outsider, { seqs: [posted[0].seq] });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'forbidden');

      // Repeats and unknown seqs are skipped; the answer names what this call deleted.
      const gone = [posted[1], posted[2], posted[5], posted[6]];
      r = await bulk(mod, { seqs: [posted[6].seq, posted[1].seq, posted[2].seq, posted[2].seq, 999, posted[5].seq] });
      assert.equal(r.status, 200, await r.clone().text());
      assert.deepEqual(await r.json(), { deleted: gone.map((m) => m.seq) });
      await sock.waitFor((_, frames) => frames.filter((f) => f.type === 'message_updated' && f.deleted).length >= gone.length);
      const frames = sock.frames.filter((f) => f.type === 'message_updated' && f.deleted);
      assert.deepEqual(frames.map((f) => f.seq), gone.map((m) => m.seq));
      r = await bulk(mod, { seqs: [posted[1].seq, posted[5].seq] });
      assert.deepEqual(await r.json(), { deleted: [] }, 'a second time deletes nothing');

      const history = (await (await c.api('/v1/channels/bulk/messages?after_seq=0', { token: member.token })).json()).messages;
      assert.deepEqual(history.map((m) => m.deleted), posted.map((m) => gone.includes(m)));
      assert.ok(history.filter((m) => m.deleted).every((m) => m.body === ''));
      const deletions = (await outbox('messaging.message_deleted')).filter((e) => e.payload.channel_id === 'bulk');
      assert.deepEqual(deletions.map((e) => [e.payload.seq, e.payload.deleted_by]), gone.map((m) => [m.seq, mod.address]));
      // The search index forgot them.
      const found = await (await c.api('/v1/channels/bulk/search?q=raid', { token: member.token })).json();
      assert.deepEqual(found.messages.map((m) => m.seq), posted.filter((m) => !gone.includes(m)).map((m) => m.seq).reverse());
      sock.close();
    });

    test('the audit log records who moderated what, newest first, in pages, by action and actor; moderators read it', async () => {
      const [owner, mod, member, helper, outsider] = await Promise.all(Array.from({ length: 5 }, () => c.signIn()));
      const api = (path, who, method = 'GET', body) => c.api(path, { method, token: who.token, body });
      let r = await api('/v1/communities', owner, 'POST', { name: 'Audited', slug: `audited-${backend}-${Date.now()}` });
      const community = (await r.json()).id;
      const base = `/v1/communities/${community}`;
      for (const who of [mod, member, helper]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      assert.equal((await api(base, owner, 'PATCH', { name: 'Audited Hall' })).status, 200);
      r = await api(`${base}/channels`, owner, 'POST', { name: 'general' });
      const channel = (await r.json()).id;
      assert.equal((await api(`/v1/channels/${channel}`, owner, 'PATCH', { name: 'lobby' })).status, 200);
      assert.equal((await api(`${base}/roles`, owner, 'POST', { name: 'helper', permissions: ['kick_members'] })).status, 201);
      assert.ok((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'PUT')).status < 300);
      assert.ok((await api(`${base}/members/${helper.address}/roles/helper`, owner, 'PUT')).status < 300);

      const [a, b, d] = [await c.post(member, channel, 'one'), await c.post(member, channel, 'two'), await c.post(member, channel, 'three')];
      const own = await c.post(mod, channel, 'mine');
      const msg = `/v1/channels/${channel}/messages`;
      assert.equal((await api(`${msg}/${a.seq}`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`${msg}/${own.seq}`, mod, 'DELETE')).status, 204, 'one\'s own: not audited');
      assert.equal((await api(`/v1/channels/${channel}/pins/${b.seq}`, mod, 'PUT')).status, 204);
      assert.equal((await api(`/v1/channels/${channel}/pins/${b.seq}`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`${msg}/bulk-delete`, mod, 'POST', { seqs: [d.seq] })).status, 200);
      // What moderators do to messages is recorded from messaging's events, moments later: the log
      // is in the order entries were recorded, so wait for these before the next actions.
      await until('the message entries', async () =>
        (await (await api(`${base}/audit-log?limit=100`, mod)).json()).entries.length === 10);
      assert.equal((await api(`${base}/members/${member.address}/timeout`, mod, 'PUT', { seconds: 600, reason: 'spam' })).status, 200);
      assert.equal((await api(`${base}/members/${member.address}/timeout`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`${base}/members/${helper.address}/kick`, mod, 'POST')).status, 204);
      await c.post(member, channel, 'purged with the ban');
      assert.equal((await api(`${base}/bans`, owner, 'POST', { address: member.address, reason: 'raid', delete_messages_seconds: 3600 })).status, 204);
      assert.equal((await api(`${base}/bans/${member.address}`, owner, 'DELETE')).status, 204);

      const expected = [
        ['member_ban_remove', owner, member, null, null],
        ['member_ban_add', owner, member, null, 'raid'],
        ['member_kick', mod, helper, null, null],
        ['member_timeout_remove', mod, member, null, null],
        ['member_timeout', mod, member, null, 'spam'],
        ['message_bulk_delete', mod, null, channel, null],
        ['message_unpin', mod, null, channel, null],
        ['message_pin', mod, null, channel, null],
        ['message_delete', mod, member, channel, null],
        ['member_role_add', owner, helper, null, null],
        ['member_role_add', owner, mod, null, null],
        ['role_create', owner, null, null, null],
        ['channel_update', owner, null, channel, null],
        ['channel_create', owner, null, channel, null],
        ['community_update', owner, null, null, null],
      ].map(([action, actor, target, channelId, reason]) => [action, actor.address, target?.address ?? null, channelId, reason]);
      const shape = (e) => [e.action, e.actor, e.target ?? null, e.channel_id ?? null, e.reason ?? null];
      const read = async (query = '', who = mod) => {
        const res = await api(`${base}/audit-log${query}`, who);
        return { status: res.status, body: await res.json() };
      };
      const full = (await read('?limit=100')).body;
      assert.deepEqual(full.entries.map(shape), expected);
      assert.equal(full.next_before, null);
      const ids = full.entries.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort((x, y) => y - x), 'newest first');
      const byAction = Object.fromEntries(full.entries.map((e) => [e.action, e]));
      assert.equal(byAction.member_timeout.details.until.length > 0, true);
      assert.deepEqual(byAction.member_ban_add.details, { delete_messages_seconds: 3600 });
      assert.deepEqual(byAction.channel_update.details, { name: 'lobby' });
      assert.deepEqual(byAction.community_update.details, { name: 'Audited Hall' });
      assert.deepEqual(byAction.role_create.details, { role: 'helper', permissions: ['kick_members'], gate: null, rank: 20 });
      assert.deepEqual(byAction.message_pin.details, { seq: b.seq, message_id: b.id });
      assert.deepEqual(byAction.message_bulk_delete.details, { count: 1, seqs: [d.seq] });
      assert.deepEqual(byAction.message_delete.details, { seq: a.seq, message_id: a.id });
      assert.deepEqual(full.entries.filter((e) => e.action === 'member_role_add').map((e) => e.details.role), ['helper', 'moderator']);
      assert.ok(full.entries.every((e) => !Number.isNaN(Date.parse(e.created_at))));

      // Pages of 4 hand on next_before until the end, and hold the same entries.
      const paged = [];
      let before = '';
      for (;;) {
        const page = (await read(`?limit=4${before}`)).body;
        paged.push(...page.entries);
        if (page.next_before === null) break;
        before = `&before=${page.next_before}`;
      }
      assert.deepEqual(paged, full.entries);
      // Filters.
      assert.deepEqual((await read('?action=member_timeout')).body.entries.map(shape), expected.filter((e) => e[0] === 'member_timeout'));
      assert.deepEqual((await read(`?actor=${owner.address.toLowerCase()}&limit=100`)).body.entries.map(shape), expected.filter((e) => e[1] === owner.address));
      for (const [query, code] of [['?action=nuke', 'invalid_action'], ['?before=0', 'invalid_before'], ['?before=x', 'invalid_before'],
        ['?actor=0x12', 'invalid_actor'], ['?limit=0', 'invalid_limit']]) {
        const res = await read(query);
        assert.equal(res.status, 400, query);
        assert.equal(res.body.error.code, code);
      }
      // Moderators and up read it; a custom role without view_audit_log does not; nor do outsiders.
      assert.ok((await api(`${base}/join`, helper, 'POST')).status === 200);
      assert.ok((await api(`${base}/members/${helper.address}/roles/helper`, owner, 'PUT')).status < 300);
      let denied = await read('', helper);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, 'missing_permission');
      denied = await read('', outsider);
      assert.equal(denied.status, 403);
      assert.equal((await read('', owner)).status, 200);
    });

    test('moderators pin up to 50 messages, even when pinning at once; members see them live and in the list', async () => {
      const mod = await c.signIn();
      const member = await c.signIn();
      await c.grant(mod, 'pins', { moderate: true });
      await c.grant(member, 'pins');
      const sock = c.connect(member);
      await subscribed(sock, 'pins');
      const posted = [];
      for (let i = 0; i < 60; i++) posted.push(await c.post(member, 'pins', `note ${i}`));
      const pin = (who, seq, method = 'PUT') => c.api(`/v1/channels/pins/pins/${seq}`, { method, token: who.token });
      const list = async () => (await (await c.api('/v1/channels/pins/pins', { token: member.token })).json()).messages;

      let r = await pin(member, posted[0].seq);
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'missing_permission');
      assert.equal((await pin(mod, 999)).status, 404);
      assert.equal((await pin(mod, posted[0].seq)).status, 204);
      assert.equal((await pin(mod, posted[0].seq)).status, 204, 'idempotent');
      const live = await sock.waitFor((f) => f.type === 'message_updated' && f.seq === posted[0].seq && f.pinned);
      assert.ok(live.change > 0);
      let pins = await list();
      assert.deepEqual(pins.map((m) => m.seq), [posted[0].seq]);
      assert.equal(pins[0].pinned, true);
      assert.equal(pins[0].pinned_by, mod.address);
      assert.ok(pins[0].pinned_at);
      const history = await (await c.api(`/v1/channels/pins/messages?after_seq=0&limit=2`, { token: member.token })).json();
      assert.deepEqual(history.messages.map((m) => m.pinned), [true, false]);

      // 59 more at once: the channel holds 50, whatever the interleaving.
      const results = await Promise.all(posted.slice(1).map((m) => pin(mod, m.seq)));
      const statuses = results.map((x) => x.status);
      assert.equal(statuses.filter((x) => x === 204).length, 49);
      assert.equal(statuses.filter((x) => x === 409).length, 10);
      const refused = results.find((x) => x.status === 409);
      assert.equal((await refused.json()).error.code, 'too_many_pins');
      pins = await list();
      assert.equal(pins.length, 50);
      assert.ok(pins.every((m) => m.pinned));

      // Unpinning frees a place; deleting a pinned message unpins it.
      assert.equal((await pin(mod, posted[0].seq, 'DELETE')).status, 204);
      await sock.waitFor((f) => f.type === 'message_updated' && f.seq === posted[0].seq && f.pinned === false);
      const deletedSeq = pins.find((m) => m.seq !== posted[0].seq).seq;
      assert.equal((await c.api(`/v1/channels/pins/messages/${deletedSeq}`, { method: 'DELETE', token: member.token })).status, 204);
      pins = await list();
      assert.equal(pins.length, 48);
      assert.ok(!pins.some((m) => m.seq === deletedSeq || m.seq === posted[0].seq));
      assert.equal((await pin(mod, deletedSeq)).status, 409, 'a deleted message takes no pin');
      const changes = await (await c.api(`/v1/channels/pins/changes?after=${live.change - 1}&limit=100`, { token: member.token })).json();
      assert.ok(changes.messages.some((m) => m.seq === posted[0].seq && m.pinned === false));
      sock.close();
    });

    test('who reacted, in address order and in pages; a message carries at most 20 different emoji, also when added at once', async () => {
      const author = await c.signIn();
      const outsider = await c.signIn();
      const fans = await Promise.all(Array.from({ length: 7 }, () => c.signIn()));
      for (const who of [author, ...fans]) await c.grant(who, 'fans');
      const m = await c.post(author, 'fans', 'react to this');
      const path = (seq, emoji) => `/v1/channels/fans/messages/${seq}/reactions/${encodeURIComponent(emoji)}`;
      const react = (who, emoji, method = 'PUT') => c.api(path(m.seq, emoji), { method, token: who.token });
      const list = async (query = '', who = author, seq = m.seq, emoji = '🔥') => {
        const r = await c.api(`${path(seq, emoji)}${query}`, { token: who.token });
        return { status: r.status, body: await r.json() };
      };
      for (const f of fans) assert.equal((await react(f, '🔥')).status, 204);
      assert.equal((await react(fans[0], '🔥', 'DELETE')).status, 204);
      const expected = fans.slice(1).map((f) => f.address).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));

      // Pages of 4 then 2, each account once, checksummed, in lowercase-address order.
      let page = await list('?limit=4');
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.deepEqual(page.body.accounts, expected.slice(0, 4));
      assert.equal(page.body.next_after, expected[3]);
      page = await list(`?limit=4&after=${page.body.next_after.toLowerCase()}`);
      assert.deepEqual(page.body.accounts, expected.slice(4));
      assert.equal(page.body.next_after, null);
      page = await list();
      assert.deepEqual(page.body, { accounts: expected, next_after: null });
      assert.deepEqual((await list('', author, m.seq, '👀')).body, { accounts: [], next_after: null });

      const code = async (p) => (await p).body.error?.code;
      assert.equal(await code(list('?after=0x12')), 'invalid_after');
      assert.equal(await code(list('?limit=0')), 'invalid_limit');
      assert.equal(await code(list('?limit=101')), 'invalid_limit');
      assert.equal(await code(list('', author, m.seq, 'a b')), 'invalid_emoji');
      assert.equal(await code(list('', author, 999)), 'message_not_found');
      const hidden = await list('', outsider);
      assert.equal(hidden.status, 403);
      assert.equal(hidden.body.error.code, 'forbidden');

      // 19 more emoji from several accounts at once: 20 kinds in all, whatever the interleaving.
      const emoji = Array.from({ length: 25 }, (_, i) => String.fromCodePoint(0x1f600 + i));
      const results = await Promise.all(emoji.map((e, i) => react(fans[i % fans.length], e)));
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((x) => x === 204).length, 19, statuses.join());
      assert.equal(statuses.filter((x) => x === 409).length, 6, statuses.join());
      assert.equal((await results.find((r) => r.status === 409).json()).error.code, 'too_many_reactions');
      let message = await (await c.api(`/v1/channels/fans/messages/${m.seq}`, { token: author.token })).json();
      assert.equal(message.reactions.length, 20);
      // A kind it carries still takes more accounts; one more kind does not; a freed kind makes room.
      const taken = message.reactions[1].emoji;
      assert.equal((await react(author, taken)).status, 204);
      assert.equal((await react(author, '🧊')).status, 409);
      const lone = message.reactions.find((r) => r.count === 1 && r.emoji !== taken);
      const [owner] = (await list('', author, m.seq, lone.emoji)).body.accounts;
      assert.equal((await react(fans.find((f) => f.address === owner), lone.emoji, 'DELETE')).status, 204);
      assert.equal((await react(author, '🧊')).status, 204);
      message = await (await c.api(`/v1/channels/fans/messages/${m.seq}`, { token: author.token })).json();
      assert.equal(message.reactions.length, 20);
      assert.ok(message.reactions.some((r) => r.emoji === '🧊' && r.me));
      assert.ok(!message.reactions.some((r) => r.emoji === lone.emoji));

      // A tombstone lists no one.
      assert.equal((await c.api(`/v1/channels/fans/messages/${m.seq}`, { method: 'DELETE', token: author.token })).status, 204);
      assert.deepEqual((await list()).body, { accounts: [], next_after: null });
    });

    test('channels carry a topic and a position; an announcements channel takes messages from its post roles only', async () => {
      const [owner, mod, member] = [await c.signIn(), await c.signIn(), await c.signIn()];
      let r = await c.api('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Heralds', slug: `heralds-${backend}-${Date.now()}` } });
      assert.equal(r.status, 201, await r.clone().text());
      const community = (await r.json()).id;
      const base = `/v1/communities/${community}`;
      for (const who of [mod, member]) assert.equal((await c.api(`${base}/join`, { method: 'POST', token: who.token })).status, 200);
      assert.ok((await c.api(`${base}/members/${mod.address}/roles/moderator`, { method: 'PUT', token: owner.token })).status < 300);
      const create = (body) => c.api(`${base}/channels`, { method: 'POST', token: owner.token, body });
      // Bad details are refused and create nothing.
      for (const bad of [{ topic: 7 }, { topic: 'x'.repeat(1025) }, { topic: 'bell\u0007' }, { position: -1 }, { position: 1_000_001 },
        { position: 'first' }, { post_roles: ['nobody'] }, { post_roles: 'moderator' }]) {
        r = await create({ name: 'bad', ...bad });
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.ok(['invalid_field', 'invalid_role'].includes((await r.json()).error.code), JSON.stringify(bad));
      }
      r = await create({ name: 'general', position: 2 });
      const general = await r.json();
      assert.deepEqual([general.topic, general.position, general.post_roles], ['', 2, []]);
      r = await create({ name: 'announcements', topic: 'Team news.\nRead only.', position: 1, post_roles: ['moderator'] });
      assert.equal(r.status, 201, await r.clone().text());
      const news = await r.json();
      assert.deepEqual([news.topic, news.position, news.post_roles], ['Team news.\nRead only.', 1, ['moderator']]);
      // Listed by position, then by creation.
      const listed = async (who) => (await (await c.api(`${base}/channels`, { token: who.token })).json()).channels;
      assert.deepEqual((await listed(member)).map((ch) => ch.name), ['announcements', 'general']);
      // Who may post is shown to each reader.
      const seen = async (who) => (await (await c.api(`/v1/channels/${news.id}`, { token: who.token })).json());
      assert.deepEqual([(await seen(member)).can_read, (await seen(member)).can_post], [true, false]);
      assert.equal((await seen(mod)).can_post, true);
      assert.equal((await seen(owner)).can_post, true);  // managers of channels post anywhere

      const send = (who, body) => c.api(`/v1/channels/${news.id}/messages`, { method: 'POST', token: who.token, body: { body, client_id: `h-${Math.random()}` } });
      r = await send(member, 'first!');
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'forbidden');
      assert.equal((await c.api(`/v1/channels/${news.id}/typing`, { method: 'POST', token: member.token })).status, 403);
      const sock = c.connect(member);
      await subscribed(sock, news.id);
      sock.send({ type: 'typing', channel_id: news.id });
      assert.deepEqual(await sock.waitFor((f) => f.type === 'error').then((f) => [f.code, f.channel_id]), ['forbidden', news.id]);
      sock.close();
      r = await send(mod, 'v2 ships friday');
      assert.equal(r.status, 201);
      const announcement = await r.json();
      // A reader who may not post still reacts and votes, and reads.
      const react = await c.api(`/v1/channels/${news.id}/messages/${announcement.seq}/reactions/${encodeURIComponent('🎉')}`, { method: 'PUT', token: member.token });
      assert.equal(react.status, 204);
      r = await c.api(`/v1/channels/${news.id}/messages`, { method: 'POST', token: mod.token,
        body: { body: '', client_id: 'h-poll', poll: { question: 'Which day?', answers: ['friday', 'monday'] } } });
      assert.equal(r.status, 201);
      const poll = await r.json();
      assert.equal((await c.api(`/v1/channels/${news.id}/messages/${poll.seq}/poll/votes/1`, { method: 'PUT', token: member.token })).status, 204);
      const history = (await (await c.api(`/v1/channels/${news.id}/messages`, { token: member.token })).json()).messages;
      assert.deepEqual(history.map((m) => m.seq), [poll.seq, announcement.seq]);
      // Opening it to everyone: subscribed readers are told, the member posts; the change is in
      // the audit log.
      const reader = c.connect(member);
      await subscribed(reader, news.id);
      r = await c.api(`/v1/channels/${news.id}`, { method: 'PATCH', token: owner.token, body: { post_roles: [], topic: 'Open now', position: 3 } });
      assert.equal(r.status, 200);
      const told = await reader.waitFor((f) => f.type === 'channel_updated');
      assert.deepEqual(told, { type: 'channel_updated', channel_id: news.id, community_id: community,
        changes: { topic: 'Open now', position: 3, post_roles: [] }, received_at: told.received_at });
      reader.close();
      assert.deepEqual([(await r.json()).post_roles, (await seen(member)).can_post], [[], true]);
      assert.equal((await send(member, 'thanks team')).status, 201);
      assert.deepEqual((await listed(member)).map((ch) => ch.name), ['general', 'announcements']);
      const [entry] = (await (await c.api(`${base}/audit-log?action=channel_update&limit=1`, { token: owner.token })).json()).entries;
      assert.deepEqual(entry.details, { topic: 'Open now', position: 3, post_roles: [] });
    });

    test('slow mode: a member posts once per slow_mode_seconds, also when posting at once; retries and moderators pass', async () => {
      const owner = await c.signIn();
      const member = await c.signIn();
      const newcomer = await c.signIn();
      let r = await c.api('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Slow', slug: `slow-${backend}-${Date.now()}` } });
      assert.equal(r.status, 201, await r.clone().text());
      const community = (await r.json()).id;
      r = await c.api(`/v1/communities/${community}/channels`, { method: 'POST', token: owner.token, body: { name: 'mint' } });
      const ch = (await r.json()).id;
      for (const who of [member, newcomer]) {
        assert.equal((await c.api(`/v1/communities/${community}/join`, { method: 'POST', token: who.token })).status, 200);
      }
      const patch = (body) => c.api(`/v1/channels/${ch}`, { method: 'PATCH', token: owner.token, body });
      for (const bad of [21601, -1, 'x']) {
        r = await patch({ slow_mode_seconds: bad });
        assert.equal(r.status, 400, String(bad));
        assert.equal((await r.json()).error.code, 'invalid_field');
      }
      r = await patch({ slow_mode_seconds: 2 });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).slow_mode_seconds, 2);
      assert.equal((await (await c.api(`/v1/channels/${ch}`, { token: member.token })).json()).slow_mode_seconds, 2);
      // A member may not change it.
      assert.equal((await c.api(`/v1/channels/${ch}`, { method: 'PATCH', token: member.token, body: { slow_mode_seconds: 0 } })).status, 403);

      const send = (who, body, clientId = `s-${Math.random().toString(36).slice(2)}`) =>
        c.api(`/v1/channels/${ch}/messages`, { method: 'POST', token: who.token, body: { body, client_id: clientId } });
      const first = await (await send(member, 'first', 'slow-first')).json();
      r = await send(member, 'too soon');
      assert.equal(r.status, 429);
      assert.equal((await r.json()).error.code, 'slow_mode');
      assert.ok(['1', '2'].includes(r.headers.get('retry-after')), r.headers.get('retry-after'));
      // A retry of the stored message is answered as the first time.
      r = await send(member, 'first', 'slow-first');
      assert.equal(r.status, 201);
      assert.equal((await r.json()).id, first.id);
      // Moderators (the owner) are exempt.
      for (let i = 0; i < 3; i++) assert.equal((await send(owner, `announcement ${i}`)).status, 201);
      // Five posts at once from one who has not posted: exactly one passes, on both backends.
      const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => send(newcomer, `burst ${i}`)));
      assert.deepEqual(burst.map((x) => x.status).sort(), [201, 429, 429, 429, 429]);
      // The member's next post passes once the wait is over (polled, as a client honoring
      // Retry-After would), and the one after it is too soon again.
      let passed = false;
      for (let i = 0; i < 100 && !passed; i++) {
        passed = (await send(member, `again ${i}`)).status === 201;
        if (!passed) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(passed, 'the member could post again after the slow-mode wait');
      assert.equal((await send(member, 'and again')).status, 429);
      // Off again: no wait.
      assert.equal((await patch({ slow_mode_seconds: 0 })).status, 200);
      assert.equal((await send(member, 'free 1')).status, 201);
      assert.equal((await send(member, 'free 2')).status, 201);
    });

    test('a client that was away learns the edits, deletes and reactions it missed from /changes', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      const stranger = await c.signIn();
      await c.grant(alice, 'away');
      await c.grant(bob, 'away');
      const changes = async (after, limit) => {
        const r = await c.api(`/v1/channels/away/changes?after=${after}${limit ? `&limit=${limit}` : ''}`, { token: bob.token });
        assert.equal(r.status, 200);
        return r.json();
      };
      const m = [];
      for (let i = 1; i <= 4; i++) m.push(await c.post(alice, 'away', `message ${i}`));
      assert.ok(m.every((x) => x.change === 0));
      assert.deepEqual(await changes(0), { messages: [], last_change: 0 });

      // Bob saw everything up to here, live; then goes away.
      const live = c.connect(bob);
      assert.equal((await subscribed(live, 'away')).last_change, 0);
      const react = (who, seq, method) => c.api(`/v1/channels/away/messages/${seq}/reactions/${encodeURIComponent('🎉')}`, { method, token: who.token });
      assert.equal((await react(alice, m[1].seq, 'PUT')).status, 204);
      const frame = await live.waitFor((f) => f.type === 'reaction');
      assert.equal(frame.change, 1);
      live.close();
      assert.equal((await c.api(`/v1/channels/away/messages/${m[0].seq}`, { method: 'PATCH', token: alice.token, body: { body: 'edited' } })).status, 200);
      assert.equal((await c.api(`/v1/channels/away/messages/${m[2].seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      assert.equal((await react(alice, m[1].seq, 'DELETE')).status, 204);
      assert.equal((await react(alice, m[1].seq, 'DELETE')).status, 204, 'no change: no new change number');

      // Back: the subscription tells bob something changed; he reads everything after the last
      // change he saw, once per message, as it is now.
      const again = c.connect(bob);
      assert.equal((await subscribed(again, 'away')).last_change, 4);
      again.close();
      const back = await changes(frame.change);
      assert.equal(back.last_change, 4);
      assert.deepEqual(back.messages.map((x) => [x.seq, x.change]), [[m[0].seq, 2], [m[2].seq, 3], [m[1].seq, 4]]);
      assert.equal(back.messages[0].body, 'edited');
      assert.ok(back.messages[0].edited_at);
      assert.equal(back.messages[1].deleted, true);
      assert.deepEqual(back.messages[2].reactions, []);
      // Paged by limit; message 4 never changed and never shows.
      const first = await changes(0, 2);
      assert.deepEqual(first.messages.map((x) => x.change), [2, 3]);
      assert.deepEqual((await changes(3, 2)).messages.map((x) => x.change), [4]);
      assert.deepEqual(await changes(4), { messages: [], last_change: 4 });
      // The same numbers in history and on the message.
      const one = await (await c.api(`/v1/channels/away/messages/${m[0].seq}`, { token: bob.token })).json();
      assert.equal(one.change, 2);
      assert.equal((await c.api('/v1/channels/away/changes', { token: stranger.token })).status, 403);
      assert.equal((await c.api('/v1/channels/away/changes?after=-1', { token: bob.token })).status, 400);
      assert.equal((await c.api('/v1/channels/away/changes?limit=101', { token: bob.token })).status, 400);
    });

    test('/v1/ws: token auth, hello, ping, refused subscriptions, bad frames', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'open');
      const bad = c.connect({ token: 'ghs_nope' });
      await assert.rejects(bad.opened, (e) => e.status === 401);
      const plain = await c.api('/v1/ws', { token: alice.token });
      assert.equal(plain.status, 400);
      assert.equal((await plain.json()).error.code, 'upgrade_required');

      const s = c.connect(alice, { headers: { authorization: `Bearer ${alice.token}` } });
      await s.opened;
      const hello = await s.waitFor((f) => f.type === 'hello');
      assert.equal(hello.account, alice.address);
      assert.ok(hello.session);
      s.send({ type: 'ping', id: 'p1' });
      assert.equal((await s.waitFor((f) => f.type === 'pong')).id, 'p1');
      s.send({ type: 'subscribe', channel_ids: ['secret', 'open'] });
      const refused = await s.waitFor((f) => f.type === 'error' && f.channel_id === 'secret');
      assert.equal(refused.code, 'forbidden');
      await s.waitFor((f) => f.type === 'subscribed' && f.channel_id === 'open');
      s.ws.send('not json');
      assert.equal((await s.waitFor((f) => f.type === 'error' && f.code === 'bad_frame')).code, 'bad_frame');
      s.send({ type: 'nope' });
      await s.waitFor((f) => f.code === 'unknown_type');
      s.send({ type: 'typing', channel_id: 'secret' });
      await s.waitFor((f) => f.code === 'not_subscribed');
      s.close();
    });

    test('two clients exchange messages; typing and presence reach the other member', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      await c.grant(alice, 'duo');
      await c.grant(bob, 'duo');
      const a = c.connect(alice);
      await subscribed(a, 'duo');
      const b = c.connect(bob);
      await subscribed(b, 'duo');
      await a.waitFor((f) => f.type === 'presence' && f.account === bob.address && f.status === 'online');
      a.send({ type: 'presence_query', channel_id: 'duo' });
      const state = await a.waitFor((f) => f.type === 'presence_state');
      assert.deepEqual(state.online.sort(), [alice.address, bob.address].sort());

      for (let i = 0; i < 5; i++) {
        await c.post(alice, 'duo', `from alice ${i}`);
        await c.post(bob, 'duo', `from bob ${i}`);
      }
      for (const s of [a, b]) {
        await s.waitFor((f) => f.type === 'message' && f.seq === 10);
        assertSeqs(s.messages('duo'), 1, 10);
      }
      assert.equal(b.messages('duo')[0].body, 'from alice 0');
      assert.equal(b.messages('duo')[0].author, alice.address);

      a.send({ type: 'typing', channel_id: 'duo' });
      const typing = await b.waitFor((f) => f.type === 'typing');
      assert.equal(typing.account, alice.address);
      assert.equal(a.frames.filter((f) => f.type === 'typing').length, 0, 'not echoed to the typist');

      b.close();
      await a.waitFor((f) => f.type === 'presence' && f.account === bob.address && f.status === 'offline');
      a.close();
    });

    test('typing over HTTP reaches the channel\'s other subscribers, once per 2 s, with the post right', async () => {
      const [alice, bob, carol] = await Promise.all([c.signIn(), c.signIn(), c.signIn()]);
      await c.grant(alice, 'typer');
      await c.grant(bob, 'typer');
      await c.grant(carol, 'typer', { post: false });
      const a = c.connect(alice);
      await subscribed(a, 'typer');
      const b = c.connect(bob);
      await subscribed(b, 'typer');
      const typing = (who) => c.api('/v1/channels/typer/typing', { method: 'POST', token: who.token });
      assert.equal((await typing(bob)).status, 204);
      const frame = await a.waitFor((f) => f.type === 'typing');
      assert.deepEqual([frame.channel_id, frame.account], ['typer', bob.address]);
      // Within 2 s another is answered alike and dropped; a message after it is the next thing alice sees.
      assert.equal((await typing(bob)).status, 204);
      const m = await c.post(bob, 'typer', 'done typing');
      await a.waitFor((f) => f.type === 'message' && f.seq === m.seq);
      assert.equal(a.frames.filter((f) => f.type === 'typing').length, 1);
      await b.waitFor((f) => f.type === 'message' && f.seq === m.seq);
      assert.equal(b.frames.filter((f) => f.type === 'typing').length, 0, 'not echoed to the typist');
      // The post right: a reader only, a stranger, no session.
      let r = await typing(carol);
      assert.deepEqual([r.status, (await r.json()).error.code], [403, 'forbidden']);
      r = await c.api('/v1/channels/elsewhere/typing', { method: 'POST', token: alice.token });
      assert.equal(r.status, 403);
      assert.equal((await c.api('/v1/channels/typer/typing', { method: 'POST' })).status, 401);
      a.close();
      b.close();
    });

    test('an account chooses its status: idle, dnd, invisible (seen offline, from the first moment with ?status=), online again', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      await c.grant(alice, 'status');
      await c.grant(bob, 'status');
      const a = c.connect(alice);
      await subscribed(a, 'status');
      // A presence frame about bob with that status, among those alice got after the call.
      const seen = (status) => {
        const from = a.frames.length;
        return a.waitFor((f, frames) => f.type === 'presence' && f.account === bob.address && f.status === status && frames.indexOf(f) >= from);
      };
      const query = async () => {
        const id = `q${Math.random()}`;
        a.send({ type: 'presence_query', channel_id: 'status', id });
        const before = a.frames.length;
        return a.waitFor((f, frames) => f.type === 'presence_state' && frames.indexOf(f) >= before);
      };

      const refused = c.connect(bob, { query: '&status=away' });
      await assert.rejects(refused.opened, (e) => e.status === 400);
      const b1 = c.connect(bob, { query: '&status=invisible' });
      assert.equal((await b1.waitFor((f) => f.type === 'hello')).status, 'invisible');
      await subscribed(b1, 'status');
      let state = await query();
      assert.deepEqual(state.online, [alice.address]);
      assert.deepEqual(state.statuses, {});

      const dnd = seen('dnd');
      b1.send({ type: 'presence_set', status: 'dnd' });
      assert.equal((await b1.waitFor((f) => f.type === 'presence' && f.account === bob.address)).status, 'dnd', 'its own devices learn it');
      await dnd;
      state = await query();
      assert.deepEqual(state.online.sort(), [alice.address, bob.address].sort());
      assert.deepEqual(state.statuses, { [bob.address]: 'dnd' });
      // Another device of the account opens with the status the account has.
      const b2 = c.connect(bob);
      assert.equal((await b2.waitFor((f) => f.type === 'hello')).status, 'dnd');
      const hidden = seen('offline');
      b2.send({ type: 'presence_set', status: 'invisible' });
      await b1.waitFor((f) => f.type === 'presence' && f.account === bob.address && f.status === 'invisible');
      await hidden;
      assert.deepEqual((await query()).online, [alice.address]);
      let next = seen('idle');
      b1.send({ type: 'presence_set', status: 'idle' });
      await next;
      next = seen('online');
      b1.send({ type: 'presence_set', status: 'online' });
      await next;
      assert.deepEqual((await query()).statuses, {});
      b1.send({ type: 'presence_set', status: 'away' });
      assert.equal((await b1.waitFor((f) => f.type === 'error')).code, 'invalid_status');
      b1.send({ type: 'presence_set' });
      assert.equal((await b1.waitFor((f) => f.type === 'error' && f.code !== 'invalid_status')).code, 'invalid_presence');
      // An invisible account never showed online to others, and its statuses went out in order.
      const told = a.frames.filter((f) => f.type === 'presence' && f.account === bob.address).map((f) => f.status);
      assert.ok(told.indexOf('online') > told.indexOf('idle'), told.join());
      assert.equal(told.slice(0, told.indexOf('dnd')).filter((x) => x === 'online').length, 0, told.join());

      // The status lasts past the account's last socket: it comes back with it, and others see it.
      b1.send({ type: 'presence_set', status: 'dnd' });
      await b1.waitFor((f, frames) => f.type === 'presence' && f.status === 'dnd' && frames.indexOf(f) > frames.findLastIndex((x) => x.code === 'invalid_presence'));
      const gone = seen('offline');
      b1.close();
      b2.close();
      await gone;
      const back = seen('dnd');
      const b3 = c.connect(bob);
      const hello = await b3.waitFor((f) => f.type === 'hello');
      assert.equal(hello.status, 'dnd');
      assert.equal(hello.custom_status, null);
      await back;
      b3.close();
      a.close();
    });

    test('presence lasts: /v1/me/presence, a custom status members see until it expires, checked, paced', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      await c.grant(alice, 'custom');
      await c.grant(bob, 'custom');
      const me = (who = bob) => c.api('/v1/me/presence', { token: who.token }).then((r) => r.json());
      const put = (body, who = bob) => c.api('/v1/me/presence', { method: 'PUT', token: who.token, body });
      const code = async (r) => { assert.equal(r.status, 400); return (await r.json()).error.code; };
      assert.deepEqual(await me(), { status: 'online', custom_status: null });
      assert.equal((await c.api('/v1/me/presence')).status, 401);
      // Bad changes are refused and change nothing.
      assert.equal(await code(await put({ status: 'away' })), 'invalid_status');
      assert.equal(await code(await put({})), 'invalid_presence');
      assert.equal(await code(await put({ mood: 'calm' })), 'invalid_presence');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: '' } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'x'.repeat(129) } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'evil \u202e gnp.exe' } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'hi', emoji: 'two words' } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'hi', color: 'red' } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'hi', expires_at: '2000-01-01T00:00:00Z' } })), 'invalid_custom_status');
      assert.equal(await code(await put({ status: 'dnd', custom_status: { text: 'hi', expires_at: 'tomorrow' } })), 'invalid_custom_status');
      assert.deepEqual(await me(), { status: 'online', custom_status: null });

      const a = c.connect(alice);
      await subscribed(a, 'custom');
      const about = (pred) => {
        const from = a.frames.length;
        return a.waitFor((f, frames) => f.type === 'presence' && f.account === bob.address && frames.indexOf(f) >= from && pred(f));
      };
      const state = async () => {
        const before = a.frames.length;
        a.send({ type: 'presence_query', channel_id: 'custom' });
        return a.waitFor((f, frames) => f.type === 'presence_state' && frames.indexOf(f) >= before);
      };
      const online = about((f) => f.status === 'online');
      const b1 = c.connect(bob);
      assert.deepEqual((await b1.waitFor((f) => f.type === 'hello')).custom_status, null);
      await subscribed(b1, 'custom');
      assert.equal((await online).custom_status, null);

      // A custom status set over HTTP reaches the account's sockets and the members who see it.
      const expires = new Date(Date.now() + 3600_000).toISOString();
      const shipping = { text: 'Shipping v2', emoji: '🚀', expires_at: expires };
      let seen = about((f) => f.custom_status !== null);
      let r = await put({ custom_status: shipping });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'online', custom_status: shipping });
      assert.deepEqual((await seen).custom_status, shipping);
      assert.deepEqual((await b1.waitFor((f) => f.type === 'presence' && f.custom_status !== null)).custom_status, shipping);
      let st = await state();
      assert.deepEqual(st.custom_statuses, { [bob.address]: shipping });
      assert.deepEqual(await me(), { status: 'online', custom_status: shipping });
      // A frame clears it; the status stays.
      seen = about((f) => f.custom_status === null);
      b1.send({ type: 'presence_set', custom_status: null });
      assert.equal((await seen).status, 'online');
      assert.deepEqual(await me(), { status: 'online', custom_status: null });
      // Invisible hides the custom status with the account.
      seen = about((f) => f.status === 'offline');
      assert.equal((await put({ status: 'invisible', custom_status: { text: 'hidden' } })).status, 200);
      assert.equal((await seen).custom_status, null);
      st = await state();
      assert.deepEqual([st.online, st.custom_statuses], [[alice.address], {}]);

      // Chosen with no socket open, it holds when the account comes back.
      b1.close();
      await b1.waitClosed();
      assert.equal((await put({ status: 'idle' })).status, 200);
      seen = about((f) => f.status === 'idle');
      const b2 = c.connect(bob);
      const hello = await b2.waitFor((f) => f.type === 'hello');
      assert.deepEqual([hello.status, hello.custom_status], ['idle', { text: 'hidden' }]);
      assert.deepEqual((await seen).custom_status, { text: 'hidden' });

      // A custom status with an expiry is gone once it passes, and the account's sockets and the
      // members who see it are told.
      // (Announcements are paced to one per 2 s: with 3 s to live, members see the coffee first.)
      const soon = new Date(Date.now() + 3000).toISOString();
      const coffee = about((f) => f.custom_status?.emoji === '☕');
      const from = b2.frames.length;
      assert.equal((await put({ custom_status: { emoji: '☕', expires_at: soon } })).status, 200);
      await coffee;
      const gone = about((f) => f.custom_status === null);
      const goneHere = b2.waitFor((f, frames) => f.type === 'presence' && f.custom_status === null &&
        frames.slice(from, frames.indexOf(f)).some((g) => g.type === 'presence' && g.custom_status?.emoji === '☕'));
      assert.equal((await gone).status, 'idle');
      assert.ok(Date.now() >= Date.parse(soon) - 50);
      assert.equal((await goneHere).status, 'idle');
      assert.deepEqual(await me(), { status: 'idle', custom_status: null });
      b2.close();

      // Changes are paced per account; one that changes nothing is free.
      const carol = await c.signIn();
      const statuses = [];
      for (let i = 0; i < 24; i++) {
        const res = await put({ status: i % 2 ? 'online' : 'idle' }, carol);
        statuses.push(res.status);
        if (res.status === 429) {
          assert.equal((await res.json()).error.code, 'rate_limited');
          assert.ok(Number(res.headers.get('retry-after')) >= 1);
          break;
        }
      }
      assert.equal(statuses.at(-1), 429, statuses.join());
      const kept = (await me(carol)).status;
      assert.equal((await put({ status: kept }, carol)).status, 200);
      // A frame takes from the same budget (a token that came back meanwhile lets one through).
      const c1 = c.connect(carol);
      await c1.waitFor((f) => f.type === 'hello');
      let current = kept;
      let refused = null;
      for (let i = 0; i < 6 && !refused; i++) {
        const from = c1.frames.length;
        const next = current === 'idle' ? 'online' : 'idle';
        c1.send({ type: 'presence_set', status: next });
        const answer = await c1.waitFor((f, frames) => frames.indexOf(f) >= from && (f.type === 'error' || f.type === 'presence'));
        if (answer.type === 'error') refused = answer; else current = next;
      }
      assert.equal(refused?.code, 'rate_limited');
      assert.equal((await me(carol)).status, current);
      c1.close();
      a.close();
    });

    test('an account flapping its connection is announced a few times, and offline last', async () => {
      const alice = await c.signIn();
      const bob = await c.signIn();
      await c.grant(alice, 'flap');
      await c.grant(bob, 'flap');
      const a = c.connect(alice);
      await subscribed(a, 'flap');
      let lastOpen = 0;
      for (let i = 0; i < 10; i++) {
        const b = c.connect(bob);
        await b.waitFor((f) => f.type === 'hello');
        lastOpen = performance.now();
        b.close();
        await b.waitClosed();
      }
      // Offline read after bob's last socket closed (it was open until lastOpen).
      await a.waitFor((f) => f.type === 'presence' && f.account === bob.address && f.status === 'offline' && f.received_at > lastOpen);
      const told = a.frames.filter((f) => f.type === 'presence' && f.account === bob.address);
      assert.ok(told.length <= 6, `20 changes, ${told.length} presence frames`);
      assert.equal(told.at(-1).status, 'offline');
      a.close();
    });

    test('a client that resumes after 500 missed messages gets exactly those, in order, then live ones', async () => {
      const writer = await c.signIn();
      const reader = await c.signIn();
      await c.grant(writer, 'resume');
      await c.grant(reader, 'resume');
      const first = c.connect(reader);
      await subscribed(first, 'resume');
      for (let i = 0; i < 10; i++) await c.post(writer, 'resume', `before ${i}`);
      await first.waitFor((f) => f.type === 'message' && f.seq === 10);
      first.close();
      await first.waitClosed();
      // 500 missed in batches of concurrent sends.
      for (let i = 0; i < 50; i++) await Promise.all(Array.from({ length: 10 }, (_, k) => c.post(writer, 'resume', `missed ${i * 10 + k}`)));
      // Resume while the writer keeps posting: the seam between history and live must hold.
      const second = c.connect(reader);
      let live = 0;
      const writing = (async () => { for (; live < 60; live++) await c.post(writer, 'resume', `live ${live}`); })();
      const done = await subscribed(second, 'resume', 10);
      assert.equal(done.type, 'subscribed');
      await writing;
      await second.waitFor((f) => f.type === 'message' && f.seq === 570);
      assertSeqs(second.messages('resume'), 11, 570, 'resumed');
      assert.ok(second.messages('resume').slice(0, 500).every((m) => m.body.startsWith('missed ')));
      assert.ok(second.messages('resume').slice(500).every((m) => m.body.startsWith('live ')));
      // Nothing more arrives later (no duplicate replay).
      second.send({ type: 'ping', id: 'end' });
      await second.waitFor((f) => f.type === 'pong' && f.id === 'end');
      assert.equal(second.messages('resume').length, 560);
      second.close();
    });

    test('a member removed from a channel stops receiving it at once and is told', async () => {
      const writer = await c.signIn();
      const member = await c.signIn();
      await c.grant(writer, 'gated');
      await c.grant(member, 'gated');
      await c.grant(member, 'other');
      const s = c.connect(member);
      await subscribed(s, 'gated');
      s.send({ type: 'subscribe', channel_ids: ['other'] });
      await s.waitFor((f) => f.type === 'subscribed' && f.channel_id === 'other');
      await c.post(writer, 'gated', 'before');
      await s.waitFor((f) => f.type === 'message' && f.channel_id === 'gated');
      await c.grant(member, 'gated', { read: false, post: false });
      const frame = await s.waitFor((f) => f.type === 'membership');
      assert.deepEqual(frame.channel_ids, ['gated']);
      assert.equal(frame.status, 'removed');
      await c.post(writer, 'gated', 'after');
      s.send({ type: 'ping', id: 'after' });
      await s.waitFor((f) => f.type === 'pong' && f.id === 'after');
      assert.equal(s.messages('gated').length, 1);
      s.send({ type: 'subscribe', channel_ids: ['gated'] });
      assert.equal((await s.waitFor((f) => f.type === 'error' && f.channel_id === 'gated')).code, 'forbidden');
      s.close();
    });

    test('logout closes the session\'s sockets with 4001', async () => {
      const alice = await c.signIn();
      const other = await c.signIn(alice.wallet);
      const s1 = c.connect(alice);
      const s2 = c.connect(other);
      await s1.waitFor((f) => f.type === 'hello');
      await s2.waitFor((f) => f.type === 'hello');
      assert.equal((await c.api('/v1/auth/logout', { method: 'POST', token: alice.token })).status, 204);
      assert.equal((await s1.waitClosed()).code, 4001);
      s2.send({ type: 'ping', id: 'still' });
      await s2.waitFor((f) => f.type === 'pong');
      assert.equal(s2.closed, null, 'another session of the same account stays open');
      s2.close();
    });
  });
}

describe('gateway limits', () => {
  test('per-account send rate (429), frame size (1009), per-socket message rate (1008), drain (1012)', async () => {
    const db = freshDatabase('sqlite');
    const server = await startServer([...db.flags, ...chatFlags, '--message-rate-limit', '0.01', '--message-rate-burst', '3',
      '--ws-max-message-bytes', '2048', '--ws-message-rate', '1', '--ws-message-burst', '5']);
    const c = client(server);
    const alice = await c.signIn();
    await c.grant(alice, 'r');
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const r = await c.api('/v1/channels/r/messages', { method: 'POST', token: alice.token, body: { body: 'x', client_id: `r${i}` } });
      codes.push(r.status);
      if (r.status === 429) {
        assert.equal((await r.json()).error.code, 'rate_limited');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
      }
    }
    assert.deepEqual(codes, [201, 201, 201, 429, 429]);
    // Over the limit, a retry of a stored message still gets it; a new one does not.
    const retry = await c.api('/v1/channels/r/messages', { method: 'POST', token: alice.token, body: { body: 'x', client_id: 'r0' } });
    assert.equal(retry.status, 201);
    assert.equal((await retry.json()).seq, 1);
    assert.equal((await c.api('/v1/channels/r/messages', { method: 'POST', token: alice.token, body: { body: 'x', client_id: 'r3' } })).status, 429);
    // Edits, deletes, reactions and read markers take from the same budget.
    const writes = [
      ['PATCH', '/v1/channels/r/messages/1', { body: 'y' }],
      ['DELETE', '/v1/channels/r/messages/1'],
      ['PUT', `/v1/channels/r/messages/1/reactions/${encodeURIComponent('👍')}`],
      ['DELETE', `/v1/channels/r/messages/1/reactions/${encodeURIComponent('👍')}`],
      ['PUT', '/v1/channels/r/read', { seq: 1 }],
    ];
    for (const [method, path, body] of writes) {
      const r = await c.api(path, { method, token: alice.token, body });
      assert.equal(r.status, 429, `${method} ${path}`);
      assert.equal((await r.json()).error.code, 'rate_limited');
    }
    const first = await (await c.api('/v1/channels/r/messages/1', { token: alice.token })).json();
    assert.equal(first.body, 'x', 'a refused write changes nothing');
    assert.deepEqual(first.reactions, []);

    const big = c.connect(alice);
    await big.waitFor((f) => f.type === 'hello');
    big.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(4096) }));
    assert.equal((await big.waitClosed()).code, 1009);

    const chatty = c.connect(alice);
    await chatty.waitFor((f) => f.type === 'hello');
    for (let i = 0; i < 20; i++) chatty.send({ type: 'ping' });
    assert.equal((await chatty.waitClosed()).code, 1008);

    const staying = c.connect(alice);
    await subscribed(staying, 'r');
    const stopping = server.stop();
    const closed = await staying.waitClosed();
    assert.equal(closed.code, 1012);
    assert.equal((await stopping).code, 0);
    db.drop();
  });
});

describe('messaging on real communities', () => {
  test('members of a community talk in its channel; a kicked member stops receiving it at once', async () => {
    const db = freshDatabase('sqlite');
    const server = await startServer([...db.flags, ...chatFlags]);
    const c = client(server);
    const owner = await c.signIn();
    const member = await c.signIn();
    const outsider = await c.signIn();
    let r = await c.api('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Talk', slug: `talk-${Date.now()}` } });
    assert.equal(r.status, 201, await r.clone().text());
    const community = await r.json();
    r = await c.api(`/v1/communities/${community.id}/channels`, { method: 'POST', token: owner.token, body: { name: 'general' } });
    assert.equal(r.status, 201, await r.clone().text());
    const channel = (await r.json()).id;
    assert.equal((await c.api(`/v1/communities/${community.id}/join`, { method: 'POST', token: member.token })).status, 200);

    const s = c.connect(member);
    assert.equal((await subscribed(s, channel)).type, 'subscribed');
    const o = c.connect(outsider);
    assert.equal((await subscribed(o, channel)).code, 'forbidden');
    assert.equal((await c.api(`/v1/channels/${channel}/messages`, { token: outsider.token })).status, 403);

    await c.post(owner, channel, `welcome @${member.address}`);
    const got = await s.waitFor((f) => f.type === 'message' && f.channel_id === channel);
    assert.equal(got.author, owner.address);
    const mention = (await (await c.api('/v1/_test/outbox?topic=messaging.mention')).json()).events;
    assert.deepEqual(mention.map((e) => e.payload.account), [member.address]);

    // A role mention reaches the role's holders and counts in their unread mentions.
    r = await c.api(`/v1/communities/${community.id}/roles`, { method: 'POST', token: owner.token, body: { name: 'ops', permissions: [] } });
    assert.equal(r.status, 201, await r.clone().text());
    r = await c.api(`/v1/communities/${community.id}/members/${member.address}/roles/ops`, { method: 'PUT', token: owner.token });
    assert.ok(r.status < 300, await r.text());
    const standup = await c.post(owner, channel, 'standup @&ops');
    const pinged = (await (await c.api('/v1/_test/outbox?topic=messaging.mention')).json()).events;
    assert.deepEqual(pinged.map((e) => [e.payload.account, e.payload.seq]), [[member.address, 1], [member.address, standup.seq]]);
    const unread = (await (await c.api(`/v1/unread?channel_ids=${channel}`, { token: member.token })).json()).channels[0];
    assert.equal(unread.mentions, 2);
    assert.equal((await (await c.api(`/v1/unread?channel_ids=${channel}`, { token: owner.token })).json()).channels[0].mentions, 0);

    // @&member names everyone: it counts only from those allowed to mention everyone (the owner).
    const shout = await c.post(member, channel, 'hey @&member');
    assert.deepEqual(shout.mention_roles, []);
    const announce = await c.post(owner, channel, 'news for @&member');
    assert.deepEqual(announce.mention_roles, ['member']);
    const heard = (await (await c.api('/v1/_test/outbox?topic=messaging.mention')).json()).events;
    assert.deepEqual(heard.filter((e) => e.payload.seq >= shout.seq).map((e) => [e.payload.account, e.payload.seq]),
      [[member.address, announce.seq]]);

    // Members delete their own messages; the owner (manage_messages) anyone's.
    const own = await c.post(member, channel, 'gm');
    const welcome = 1;
    r = await c.api(`/v1/channels/${channel}/messages/${welcome}`, { method: 'DELETE', token: member.token });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error.code, 'not_author');
    assert.equal((await c.api(`/v1/channels/${channel}/messages/${own.seq}`, { method: 'DELETE', token: owner.token })).status, 204);
    await s.waitFor((f) => f.type === 'message_updated' && f.seq === own.seq && f.deleted);

    r = await c.api(`/v1/communities/${community.id}/members/${member.address}/kick`, { method: 'POST', token: owner.token });
    assert.ok(r.status < 300, await r.text());
    const removed = await s.waitFor((f) => f.type === 'membership');
    assert.ok(removed.channel_ids.includes(channel));
    assert.equal(removed.community_id, community.id);
    await c.post(owner, channel, 'after the kick');
    s.send({ type: 'ping', id: 'k' });
    await s.waitFor((f) => f.type === 'pong' && f.id === 'k');
    assert.equal(s.messages(channel).length, 5, "nothing after the kick");
    assert.equal((await c.api(`/v1/channels/${channel}/messages`, { token: member.token })).status, 403);

    // An archived channel is read-only: no posts, edits or reactions; authors may still delete.
    r = await c.api(`/v1/channels/${channel}`, { method: 'PATCH', token: owner.token, body: { archived: true } });
    assert.equal(r.status, 200, await r.clone().text());
    const last = await (await c.api(`/v1/channels/${channel}/messages?limit=1`, { token: owner.token })).json();
    const seq = last.messages[0].seq;
    const refused = [
      ['POST', `/v1/channels/${channel}/messages`, { body: 'late', client_id: 'late' }],
      ['PATCH', `/v1/channels/${channel}/messages/${seq}`, { body: 'changed' }],
      ['PUT', `/v1/channels/${channel}/messages/${seq}/reactions/${encodeURIComponent('👍')}`],
    ];
    for (const [method, path, body] of refused) {
      r = await c.api(path, { method, token: owner.token, body });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    assert.equal((await c.api(`/v1/channels/${channel}/messages/${seq}`, { method: 'DELETE', token: owner.token })).status, 204);
    assert.equal((await (await c.api(`/v1/channels/${channel}/messages/${seq}`, { token: owner.token })).json()).deleted, true);
    s.close();
    o.close();
    assert.equal((await server.stop()).code, 0);
    db.drop();
  });
});
