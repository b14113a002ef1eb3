// Threads through the real binary, on SQLite and PostgreSQL: a thread is started from a message or
// on its own in a channel, and is then a channel of its own (messages, seqs, history, live frames,
// unread counts) that its parent's access decides. Its creator or the parent's moderators rename,
// archive and bring it back; moderators lock it. A member who loses the parent loses its threads
// at once; a ban's purge, reports and the report queue reach thread messages.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freshDatabase, backends, until, runCommand } from './lib/harness.mjs';
import { chatFlags, client, subscribed } from './lib/chat.mjs';

for (const backend of backends()) {
  describe(`threads (${backend})`, () => {
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

    // A community with an owner, a moderator and a member, a channel for everyone and one for the
    // moderators; an outsider who is in no community.
    async function community(name) {
      const [owner, mod, member, outsider] = await Promise.all(Array.from({ length: 4 }, () => c.signIn()));
      const api = async (path, who, method = 'GET', body) => {
        const r = await c.api(path, { method, token: who.token, body });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : null };
      };
      let r = await api('/v1/communities', owner, 'POST', { name, slug: `${name.toLowerCase()}-${backend}-${Date.now()}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.id;
      const base = `/v1/communities/${id}`;
      for (const who of [mod, member]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      assert.ok((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'PUT')).status < 300);
      const general = (await api(`${base}/channels`, owner, 'POST', { name: 'general' })).body.id;
      const staff = (await api(`${base}/channels`, owner, 'POST', { name: 'staff', roles: ['moderator'] })).body.id;
      let n = 0;
      const post = async (who, channel, body, extra = {}) => {
        const res = await api(`/v1/channels/${channel}/messages`, who, 'POST', { body, client_id: `t${++n}`, ...extra });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body;
      };
      const start = (who, channel, body) => api(`/v1/channels/${channel}/threads`, who, 'POST', body);
      return { owner, mod, member, outsider, api, id, base, general, staff, post, start };
    }
    const code = (r) => [r.status, r.body?.error?.code];

    test('a thread started from a message or on its own is read and written as its channel, live', async () => {
      const { owner, mod, member, outsider, api, id, general, staff, post, start } = await community('Threads');
      const sock = c.connect(member);
      await subscribed(sock, general);
      const idea = await post(member, general, 'an idea');

      let r = await start(member, general, { name: 'Idea discussion', seq: idea.seq });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const { joined: creatorJoined, notify: creatorNotify, ...thread } = r.body;
      assert.deepEqual([creatorJoined, creatorNotify], [true, 'all']);
      assert.match(thread.id, /^th_/);
      assert.deepEqual({ ...thread, id: undefined, created_at: undefined, last_message_at: undefined }, {
        id: undefined, channel_id: general, seq: idea.seq, name: 'Idea discussion', creator: member.address,
        created_at: undefined, auto_archive_minutes: 1440, archived: false, archived_at: null, locked: false, last_seq: 0,
        last_message_at: undefined, message_count: 0, member_count: 1, slow_mode_seconds: 0, private: false, invitable: true,
        applied_tags: [], pinned: false });
      // The channel's followers learn it; the message shows its thread, live and when read.
      const created = await sock.waitFor((f) => f.type === 'thread_created');
      assert.deepEqual(created.thread, thread);
      const updated = await sock.waitFor((f) => f.type === 'message_updated' && f.seq === idea.seq);
      assert.deepEqual(updated.thread, { id: thread.id, name: 'Idea discussion' });
      assert.ok(updated.change > 0);
      assert.deepEqual((await api(`/v1/channels/${general}/messages/${idea.seq}`, owner)).body.thread,
        { id: thread.id, name: 'Idea discussion' });
      assert.deepEqual((await api(`/v1/channels/${general}/messages?limit=10`, owner)).body.messages
        .find((m) => m.seq === idea.seq).thread.id, thread.id);

      // One thread per message; what is refused changes nothing.
      r = await start(mod, general, { name: 'again', seq: idea.seq });
      assert.deepEqual([...code(r), r.body.error.thread_id], [409, 'thread_exists', thread.id]);
      for (const [body, want] of [[{ name: '' }, 'invalid_thread_name'], [{ name: 'x'.repeat(101) }, 'invalid_thread_name'],
        [{ name: 'a\u202eb' }, 'invalid_thread_name'], [{ name: 7 }, 'invalid_thread_name'],
        [{ name: 'ok', auto_archive_minutes: 30 }, 'invalid_auto_archive'], [{ name: 'ok', seq: 0 }, 'invalid_seq'],
        [{ name: 'ok', seq: 'one' }, 'invalid_seq'], [{ name: 'ok', color: 1 }, 'invalid_field']]) {
        assert.deepEqual(code(await start(member, general, body)), [400, want], JSON.stringify(body));
      }
      assert.deepEqual(code(await start(member, general, { name: 'ok', seq: 999 })), [404, 'message_not_found']);
      assert.deepEqual(code(await start(member, thread.id, { name: 'nested' })), [400, 'invalid_channel']);
      assert.deepEqual(code(await start(outsider, general, { name: 'stranger' })), [403, 'forbidden']);
      assert.deepEqual(code(await start(member, staff, { name: 'sneaky' })), [403, 'forbidden']);
      const gone = await post(member, general, 'oops');
      assert.equal((await api(`/v1/channels/${general}/messages/${gone.seq}`, member, 'DELETE')).status, 204);
      assert.deepEqual(code(await start(member, general, { name: 'late', seq: gone.seq })), [409, 'message_deleted']);

      // Its messages are a channel's: seqs from 1, history, live frames to its subscribers.
      const tsock = c.connect(mod);
      const sub = await subscribed(tsock, thread.id);
      assert.deepEqual([sub.type, sub.seq], ['subscribed', 0]);
      const first = await post(member, thread.id, `what do you think @${owner.address}?`);
      const second = await post(mod, thread.id, 'love it', { reply_to: first.seq });
      assert.deepEqual([first.seq, second.seq, first.channel_id], [1, 2, thread.id]);
      assert.deepEqual((await tsock.waitFor((f) => f.type === 'message' && f.seq === 2)).reply_to, 1);
      assert.deepEqual((await api(`/v1/channels/${thread.id}/messages?limit=10`, member)).body.messages.map((m) => m.body),
        ['love it', `what do you think @${owner.address}?`]);
      assert.equal((await api(`/v1/channels/${thread.id}/messages/2/reactions/%F0%9F%91%8D`, member, 'PUT')).status, 204);
      // The parent's followers do not get the thread's messages.
      assert.equal(sock.messages(thread.id).length, 0);
      // Unread counts, mentions included, when asked for by id.
      const unread = (await api(`/v1/unread?channel_ids=${thread.id}`, owner)).body.channels;
      assert.deepEqual(unread.map((u) => [u.channel_id, u.last_seq, u.unread, u.mentions]), [[thread.id, 2, 2, 1]]);
      assert.equal((await api(`/v1/threads/${thread.id}`, owner)).body.last_seq, 2);

      // An outsider reads nothing of it and learns nothing of it.
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, outsider)), [404, 'thread_not_found']);
      assert.deepEqual(code(await api('/v1/threads/th_nope', member)), [404, 'thread_not_found']);
      assert.equal((await api(`/v1/channels/${thread.id}/messages`, outsider)).status, 403);
      assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages`, outsider, 'POST', { body: 'hi', client_id: 'x1' })),
        [403, 'forbidden']);
      assert.deepEqual(code(await api(`/v1/channels/${general}/threads`, outsider)), [403, 'forbidden']);
      const osock = c.connect(outsider);
      assert.deepEqual(((f) => [f.type, f.code])(await subscribed(osock, thread.id)), ['error', 'forbidden']);
      osock.close();

      // A thread of the moderators' channel is theirs alone.
      r = await start(mod, staff, { name: 'Raid plan', auto_archive_minutes: 60 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const hidden = r.body;
      assert.deepEqual([hidden.seq, hidden.auto_archive_minutes], [null, 60]);
      assert.deepEqual(code(await api(`/v1/threads/${hidden.id}`, member)), [404, 'thread_not_found']);
      assert.equal((await api(`/v1/channels/${hidden.id}/messages`, member)).status, 403);
      assert.deepEqual((await api(`/v1/unread?channel_ids=${hidden.id},${thread.id}`, member)).body.channels
        .map((u) => u.channel_id), [thread.id]);

      // Listed by latest activity; paged.
      r = await start(member, general, { name: 'Off topic' });
      const offTopic = r.body;
      let list = (await api(`/v1/channels/${general}/threads`, member)).body;
      assert.deepEqual([list.threads.map((t) => t.id), list.next_cursor], [[offTopic.id, thread.id], null]);
      await post(owner, thread.id, 'bump');
      const page1 = (await api(`/v1/channels/${general}/threads?limit=1`, member)).body;
      assert.deepEqual(page1.threads.map((t) => t.id), [thread.id]);
      const page2 = (await api(`/v1/channels/${general}/threads?limit=1&cursor=${encodeURIComponent(page1.next_cursor)}`, member)).body;
      assert.deepEqual([page2.threads.map((t) => t.id), page2.next_cursor], [[offTopic.id], null]);
      for (const [q, want] of [['cursor=nope', 'invalid_cursor'], ['archived=maybe', 'invalid_archived'], ['limit=0', 'invalid_limit']]) {
        assert.deepEqual(code(await api(`/v1/channels/${general}/threads?${q}`, member)), [400, want], q);
      }
      assert.deepEqual((await api(`/v1/channels/${general}/threads?archived=true`, member)).body.threads, []);

      // The community's active threads: of every channel the caller reads, latest activity first.
      const active = async (who, q = '') => (await api(`/v1/communities/${id}/threads${q}`, who)).body;
      assert.deepEqual(((p) => [p.threads.map((t) => t.id), p.next_cursor])(await active(mod)),
        [[thread.id, offTopic.id, hidden.id], null]);
      assert.deepEqual((await active(member)).threads.map((t) => [t.id, t.joined]), [[thread.id, true], [offTopic.id, true]]);
      assert.deepEqual((await active(mod, '?joined=true')).threads.map((t) => t.id), [thread.id, hidden.id]);
      const seen = [];
      for (let cursor = null, i = 0; i < 5; i++) {
        const p = await active(mod, `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        seen.push(...p.threads.map((t) => t.id));
        if (!(cursor = p.next_cursor)) break;
      }
      assert.deepEqual(seen, [thread.id, offTopic.id, hidden.id]);
      assert.deepEqual(code(await api(`/v1/communities/${id}/threads`, outsider)), [403, 'not_member']);
      for (const [q, want] of [['archived=true', 'invalid_field'], ['cursor=nope', 'invalid_cursor'], ['joined=1', 'invalid_joined']]) {
        assert.deepEqual(code(await api(`/v1/communities/${id}/threads?${q}`, member)), [400, want], q);
      }
      sock.close();
      tsock.close();
    });

    test('creators and moderators archive and bring back threads; moderators lock them', async () => {
      const { owner, mod, member, api, id, base, general, post, start } = await community('Archives');
      const other = await c.signIn();
      assert.equal((await api(`${base}/join`, other, 'POST')).status, 200);
      const thread = (await start(member, general, { name: 'Plans' })).body;
      const sock = c.connect(other);
      await subscribed(sock, general);
      const patch = (who, body) => api(`/v1/threads/${thread.id}`, who, 'PATCH', body);
      const listed = async (archived) => (await api(`/v1/channels/${general}/threads?archived=${archived}`, other)).body
        .threads.map((t) => t.id);

      // Its creator renames and archives it; others may not.
      assert.deepEqual(code(await patch(other, { name: 'mine now' })), [403, 'missing_permission']);
      assert.deepEqual(code(await patch(member, { locked: true })), [403, 'missing_permission']);
      assert.deepEqual(code(await patch(member, { pinned: true })), [403, 'missing_permission']);
      for (const [body, want] of [[{}, 'invalid_field'], [{ archived: 'yes' }, 'invalid_field'], [{ name: '' }, 'invalid_thread_name'],
        [{ auto_archive_minutes: 61 }, 'invalid_auto_archive'], [{ color: 1 }, 'invalid_field']]) {
        assert.deepEqual(code(await patch(member, body)), [400, want], JSON.stringify(body));
      }
      let r = await patch(member, { name: 'Roadmap', archived: true, auto_archive_minutes: 4320 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual([r.body.name, r.body.archived, r.body.auto_archive_minutes], ['Roadmap', true, 4320]);
      assert.ok(Date.parse(r.body.archived_at) > 0);
      const frame = await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.archived);
      assert.deepEqual([frame.thread.id, frame.thread.name], [thread.id, 'Roadmap']);
      assert.deepEqual([await listed(false), await listed(true)], [[], [thread.id]]);
      // The same change again changes nothing.
      assert.equal((await patch(member, { archived: true })).body.archived_at, r.body.archived_at);

      // A message brings an archived thread back.
      await post(other, thread.id, 'still relevant?');
      assert.deepEqual([await listed(false), await listed(true)], [[thread.id], []]);
      assert.equal((await api(`/v1/threads/${thread.id}`, other)).body.archived_at, null);

      // Joined threads (by posting, or by hand) count among the caller's unread while they are active;
      // reading one is not joining it.
      const joined = async (who) => (await api('/v1/unread', who)).body.channels.map((u) => u.channel_id);
      assert.ok((await joined(other)).includes(thread.id));
      assert.ok(!(await joined(owner)).includes(thread.id));
      assert.equal((await api(`/v1/channels/${thread.id}/read`, owner, 'PUT', { seq: 0 })).status, 200);
      assert.ok(!(await joined(owner)).includes(thread.id));
      assert.equal((await api(`/v1/threads/${thread.id}/members/${owner.address}`, owner, 'PUT')).status, 204);
      const owners = (await api('/v1/unread', owner)).body.channels;
      assert.deepEqual(owners.filter((u) => u.channel_id === thread.id).map((u) => [u.last_seq, u.unread]), [[1, 1]]);
      assert.ok(owners.findIndex((u) => u.channel_id === general) < owners.findIndex((u) => u.channel_id === thread.id));

      // A moderator locks it: its creator and members write nothing there, and cannot bring it back.
      r = await patch(mod, { locked: true, archived: true });
      assert.deepEqual([r.status, r.body.locked, r.body.archived], [200, true, true]);
      await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.locked);
      assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages`, member, 'POST', { body: 'hey', client_id: 'l1' })),
        [403, 'thread_locked']);
      assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages/1/reactions/ok`, other, 'PUT')), [403, 'thread_locked']);
      assert.deepEqual(code(await patch(member, { archived: false })), [403, 'thread_locked']);
      assert.ok(!(await joined(other)).includes(thread.id));
      // They still read it.
      assert.equal((await api(`/v1/channels/${thread.id}/messages`, member)).body.messages.length, 1);
      // Moderators write in it; it comes back, still locked.
      await post(mod, thread.id, 'closing this');
      const now = (await api(`/v1/threads/${thread.id}`, member)).body;
      assert.deepEqual([now.archived, now.locked, now.last_seq], [false, true, 2]);
      r = await patch(owner, { locked: false });
      assert.equal(r.body.locked, false);
      await post(member, thread.id, 'thanks');

      // Events for other contexts.
      const events = (await (await c.api('/v1/_test/outbox?topic=messaging.thread_updated')).json()).events
        .filter((e) => e.payload.id === thread.id);
      assert.deepEqual(events.map((e) => [e.payload.by, e.payload.locked]).slice(-2), [[mod.address, true], [owner.address, false]]);
      assert.deepEqual(events.map((e) => [e.payload.changes, e.payload.moderation ?? false]), [
        [{ name: 'Roadmap', archived: true, auto_archive_minutes: 4320 }, false],
        [{ locked: true, archived: true }, true], [{ locked: false }, true]]);
      assert.ok(id);

      // Moderators give it a slow mode of its own: its members wait there, not in the channel or
      // another thread; moderators do not wait. The channel's holds in it when longer.
      const send = (who, channel, body) => api(`/v1/channels/${channel}/messages`, who, 'POST',
        { body, client_id: `slow-${Math.random().toString(36).slice(2)}` });
      assert.deepEqual(code(await patch(member, { slow_mode_seconds: 60 })), [403, 'missing_permission']);
      for (const bad of [-1, 21601, 'slow', 1.5]) {
        assert.deepEqual(code(await patch(mod, { slow_mode_seconds: bad })), [400, 'invalid_field'], String(bad));
      }
      r = await patch(mod, { slow_mode_seconds: 3600 });
      assert.deepEqual([r.status, r.body.slow_mode_seconds], [200, 3600]);
      await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.slow_mode_seconds === 3600);
      assert.deepEqual(code(await send(member, thread.id, 'more thanks')), [429, 'slow_mode']);
      const fresh = await c.signIn();
      assert.equal((await api(`${base}/join`, fresh, 'POST')).status, 200);
      assert.equal((await send(fresh, thread.id, 'first here')).status, 201);
      assert.deepEqual(code(await send(fresh, thread.id, 'second here')), [429, 'slow_mode']);
      for (const text of ['mods', 'do not wait']) assert.equal((await send(mod, thread.id, text)).status, 201);
      const elsewhere = (await start(member, general, { name: 'Elsewhere' })).body;
      for (const [channel, text] of [[general, 'a'], [general, 'b'], [elsewhere.id, 'c'], [elsewhere.id, 'd']]) {
        assert.equal((await send(member, channel, text)).status, 201, text);
      }
      assert.equal((await patch(mod, { slow_mode_seconds: 0 })).body.slow_mode_seconds, 0);
      assert.equal((await send(member, thread.id, 'free again')).status, 201);
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { slow_mode_seconds: 3600 })).status, 200);
      assert.deepEqual(code(await send(member, elsewhere.id, 'after c and d')), [429, 'slow_mode']);
      assert.equal((await send(fresh, elsewhere.id, 'once')).status, 201);
      assert.deepEqual(code(await send(fresh, elsewhere.id, 'twice')), [429, 'slow_mode']);
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { slow_mode_seconds: 0 })).status, 200);

      // What was done with moderation rights is in the community's audit log; what its creator did
      // to its own thread is not.
      const audited = async () => (await api(`${base}/audit-log?action=thread_update`, owner)).body.entries;
      await until('the thread changes audited', async () => (await audited()).length === 4);
      const thread_ = { thread_id: thread.id, name: 'Roadmap' };
      assert.deepEqual((await audited()).reverse().map((e) => [e.actor, e.target, e.channel_id, e.details]), [
        [mod.address, member.address, general, { ...thread_, locked: true, archived: true }],
        [owner.address, member.address, general, { ...thread_, locked: false }],
        [mod.address, member.address, general, { ...thread_, slow_mode_seconds: 3600 }],
        [mod.address, member.address, general, { ...thread_, slow_mode_seconds: 0 }]]);
      sock.close();
    });

    test('members join a thread by starting it, posting, being named or by hand, and leave it; joined threads follow', async () => {
      const { owner, mod, member, outsider, api, base, general, staff, post, start } = await community('Members');
      const other = await c.signIn();
      assert.equal((await api(`${base}/join`, other, 'POST')).status, 200);
      const thread = (await start(member, general, { name: 'Crew' })).body;
      assert.equal(thread.joined, true);
      const path = `/v1/threads/${thread.id}/members`;
      const listed = async (who = member) => (await api(path, who)).body.members.map((m) => m.account);
      const mine = async (who) => (await api(`/v1/channels/${general}/threads?joined=true`, who)).body.threads.map((t) => t.id);
      const unread = async (who) => (await api('/v1/unread', who)).body.channels.map((u) => u.channel_id);
      const strip = ({ received_at, ...f }) => f;
      assert.deepEqual(await listed(), [member.address]);
      assert.deepEqual((await api(path, member)).body.members[0].joined_at, thread.created_at);
      assert.deepEqual([(await api(`/v1/threads/${thread.id}`, member)).body.joined,
        (await api(`/v1/threads/${thread.id}`, other)).body.joined], [true, false]);
      assert.deepEqual((await api(`/v1/channels/${general}/threads`, other)).body.threads.map((t) => [t.id, t.joined]),
        [[thread.id, false]]);

      // Posting joins its author; a mention by address joins one who reads the thread, not a role's
      // holders nor one who cannot read it. The thread's followers and the members' own sockets hear of it.
      const tsock = c.connect(member);
      await subscribed(tsock, thread.id);
      const ownerSock = c.connect(owner);
      await ownerSock.opened;
      await ownerSock.waitFor((f) => f.type === 'hello');
      await post(other, thread.id, `hello @${owner.address}, @${outsider.address} and @&moderator`);
      const added = strip(await tsock.waitFor((f) => f.type === 'thread_members_updated'));
      assert.deepEqual({ ...added, added: [...added.added].sort() }, { type: 'thread_members_updated', thread_id: thread.id,
        channel_id: general, added: [other.address, owner.address].sort(), removed: [], member_count: 3 });
      assert.deepEqual(strip(await ownerSock.waitFor((f) => f.type === 'thread_member_updated')),
        { type: 'thread_member_updated', thread_id: thread.id, channel_id: general, joined: true, notify: 'all' });
      const members = await listed();
      assert.deepEqual([members[0], [...members.slice(1)].sort()], [member.address, [other.address, owner.address].sort()]);
      assert.deepEqual([await mine(other), await mine(mod)], [[thread.id], []]);
      assert.ok((await unread(other)).includes(thread.id));
      // Posting again, or joining again, changes nothing and tells no one.
      await post(other, thread.id, 'again');
      assert.equal((await api(`${path}/${owner.address}`, owner, 'PUT')).status, 204);

      // Reading is not joining; joining by hand is, and counts the thread in the unread list.
      assert.equal((await api(`/v1/channels/${thread.id}/read`, mod, 'PUT', { seq: 2 })).status, 200);
      assert.ok(!(await unread(mod)).includes(thread.id));
      assert.equal((await api(`${path}/${mod.address}`, mod, 'PUT')).status, 204);
      assert.ok((await unread(mod)).includes(thread.id));
      assert.deepEqual(strip(await tsock.waitFor((f) => f.type === 'thread_members_updated' && f.added.includes(mod.address))),
        { type: 'thread_members_updated', thread_id: thread.id, channel_id: general, added: [mod.address], removed: [],
          member_count: 4 });
      assert.equal(tsock.frames.filter((f) => f.type === 'thread_members_updated').length, 2);

      // Leaving takes it out of the unread list and the joined list, and is told.
      assert.equal((await api(`${path}/${other.address}`, other, 'DELETE')).status, 204);
      assert.equal((await api(`${path}/${other.address}`, other, 'DELETE')).status, 204);
      assert.deepEqual(strip(await tsock.waitFor((f) => f.type === 'thread_members_updated' && f.removed.length > 0)),
        { type: 'thread_members_updated', thread_id: thread.id, channel_id: general, added: [], removed: [other.address],
          member_count: 3 });
      assert.ok(!(await unread(other)).includes(thread.id));
      assert.deepEqual(await mine(other), []);
      assert.ok(!(await listed()).includes(other.address));

      // Others are added by one who may post there, if they read it; removed by moderators alone.
      assert.deepEqual(code(await api(`${path}/${outsider.address}`, member, 'PUT')), [400, 'invalid_member']);
      assert.deepEqual(code(await api(`${path}/0x1234`, member, 'PUT')), [400, 'invalid_address']);
      assert.deepEqual(code(await api(`${path}/${outsider.address}`, outsider, 'PUT')), [404, 'thread_not_found']);
      assert.deepEqual(code(await api(path, outsider)), [404, 'thread_not_found']);
      assert.deepEqual(code(await api(`/v1/threads/th_nope/members/${member.address}`, member, 'PUT')), [404, 'thread_not_found']);
      assert.equal((await api(`${path}/${other.address}`, member, 'PUT')).status, 204);
      assert.ok((await listed()).includes(other.address));
      assert.deepEqual(code(await api(`${path}/${mod.address}`, other, 'DELETE')), [403, 'missing_permission']);
      assert.equal((await api(`${path}/${other.address}`, mod, 'DELETE')).status, 204);
      assert.ok(!(await listed()).includes(other.address));
      // In a locked thread, members join and leave themselves; only moderators add others.
      assert.equal((await api(`/v1/threads/${thread.id}`, mod, 'PATCH', { locked: true })).status, 200);
      assert.deepEqual(code(await api(`${path}/${other.address}`, member, 'PUT')), [403, 'thread_locked']);
      assert.equal((await api(`${path}/${other.address}`, other, 'PUT')).status, 204);
      assert.equal((await api(`${path}/${member.address}`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`${path}/${member.address}`, mod, 'PUT')).status, 204);

      // Paged in the order they joined.
      const all = await listed();
      assert.equal(all.length, 4);
      const seen = [];
      let cursor = '';
      for (;;) {
        const page = (await api(`${path}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, member)).body;
        seen.push(...page.members.map((m) => m.account));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      assert.deepEqual(seen, all);
      for (const [q, want] of [['cursor=nope', 'invalid_cursor'], ['cursor=12.0xzz', 'invalid_cursor'], ['limit=0', 'invalid_limit']]) {
        assert.deepEqual(code(await api(`${path}?${q}`, member)), [400, want], q);
      }
      assert.deepEqual(code(await api(`/v1/channels/${general}/threads?joined=maybe`, member)), [400, 'invalid_joined']);

      // One who leaves the community, or is kicked, leaves its threads there: counted out, told.
      assert.equal((await api(`/v1/threads/${thread.id}`, member)).body.member_count, 4);
      const before = tsock.frames.length;
      assert.equal((await api(`${base}/members/${other.address}/kick`, owner, 'POST')).status, 204);
      const out = strip(await tsock.waitFor((f, frames) => frames.indexOf(f) >= before && f.type === 'thread_members_updated'));
      assert.deepEqual(out, { type: 'thread_members_updated', thread_id: thread.id, channel_id: general, added: [],
        removed: [other.address], member_count: 3 });
      assert.ok(!(await listed()).includes(other.address));
      assert.deepEqual([(await listed()).length, (await api(`/v1/threads/${thread.id}`, member)).body.member_count], [3, 3]);
      const left = (await (await c.api('/v1/_test/outbox?topic=messaging.thread_members_removed')).json()).events
        .filter((e) => e.payload.account === other.address);
      assert.deepEqual(left.map((e) => e.payload.threads), [[{ id: thread.id, channel_id: general, member_count: 3 }]]);
      // Coming back is not coming back to its threads.
      assert.equal((await api(`${base}/join`, other, 'POST')).status, 200);
      assert.deepEqual([(await api(`/v1/threads/${thread.id}`, other)).body.joined, await mine(other)], [false, []]);

      // One who loses a channel but stays in the community stays a member of its threads, unseen
      // and not counting them, until it reads the channel again.
      const staffThread = (await start(mod, staff, { name: 'Staff only' })).body;
      assert.equal((await api(`${base}/members/${other.address}/roles/moderator`, owner, 'PUT')).status < 300, true);
      assert.equal((await api(`/v1/threads/${staffThread.id}/members/${other.address}`, other, 'PUT')).status, 204);
      const staffListed = async () => (await api(`/v1/threads/${staffThread.id}/members`, mod)).body.members.map((m) => m.account);
      assert.deepEqual(await staffListed(), [mod.address, other.address]);
      assert.equal((await api(`${base}/members/${other.address}/roles/moderator`, owner, 'DELETE')).status < 300, true);
      assert.deepEqual(await staffListed(), [mod.address]);
      assert.equal((await api(`/v1/threads/${staffThread.id}`, mod)).body.member_count, 2);
      assert.ok(!(await unread(other)).includes(staffThread.id));
      assert.equal((await api(`${base}/members/${other.address}/roles/moderator`, owner, 'PUT')).status < 300, true);
      assert.deepEqual(await staffListed(), [mod.address, other.address]);
      tsock.close();
      ownerSock.close();
    });

    test('a thread counts its messages and members; its parent\'s subscribers follow its activity live', async () => {
      const { owner, mod, member, api, base, general, post, start } = await community('Counts');
      const psock = c.connect(owner);
      await subscribed(psock, general);
      const origin = await post(member, general, 'start here');
      const thread = (await start(member, general, { name: 'Busy', seq: origin.seq })).body;
      const tsock = c.connect(mod);
      await subscribed(tsock, thread.id);
      const shown = async () => { const { joined, notify, ...t } = (await api(`/v1/threads/${thread.id}`, owner)).body; return t; };
      // Counted independently: the thread's history without its tombstones, its member list.
      const history = async () => (await api(`/v1/channels/${thread.id}/messages?limit=100`, owner)).body.messages
        .filter((m) => !m.deleted).length;
      const listed = async () => (await api(`/v1/threads/${thread.id}/members`, owner)).body.members.length;
      const activity = (pred) => psock.waitFor((f) => f.type === 'thread_activity' && pred(f.thread));

      // Each message reaches the parent's subscribers as the thread's activity, with its counts.
      const first = await post(member, thread.id, 'one');
      let seen = await activity((t) => t.last_seq === first.seq);
      assert.deepEqual(seen.thread, await shown());
      assert.deepEqual([seen.thread.message_count, seen.thread.member_count, seen.thread.archived], [1, 1, false]);
      await post(mod, thread.id, 'two');
      const third = await post(owner, thread.id, 'three');
      seen = await activity((t) => t.last_seq === third.seq);
      assert.deepEqual([seen.thread.message_count, seen.thread.member_count], [3, 3]);
      assert.deepEqual([await history(), await listed()], [3, 3]);
      assert.equal(seen.thread.last_message_at, (await shown()).last_message_at);
      // The thread's own subscribers get its messages, not its activity; the parent's not its messages.
      assert.equal(tsock.frames.filter((f) => f.type === 'thread_activity').length, 0);
      assert.equal(psock.messages(thread.id).length, 0);

      // Deleting counts down once per message, whoever deletes it and however often.
      assert.equal((await api(`/v1/channels/${thread.id}/messages/${first.seq}`, member, 'DELETE')).status, 204);
      seen = await activity((t) => t.message_count === 2 && t.last_seq === third.seq);
      assert.equal((await api(`/v1/channels/${thread.id}/messages/${first.seq}`, member, 'DELETE')).status, 204);
      let r = await api(`/v1/channels/${thread.id}/messages/bulk-delete`, mod, 'POST', { seqs: [first.seq, third.seq] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await activity((t) => t.message_count === 1 && t.last_seq === third.seq);
      assert.deepEqual([(await shown()).message_count, await history()], [1, 1]);
      assert.equal(psock.frames.filter((f) => f.type === 'thread_activity').length, 5);

      // A message brings an archived thread back, and its subscribers see it active again.
      assert.equal((await api(`/v1/threads/${thread.id}`, member, 'PATCH', { archived: true })).status, 200);
      await psock.waitFor((f) => f.type === 'thread_updated' && f.thread.archived);
      await post(member, thread.id, 'back');
      seen = await activity((t) => t.message_count === 2 && t.last_seq > third.seq);
      assert.deepEqual([seen.thread.archived, seen.thread.archived_at], [false, null]);

      // Members: joining and leaving count once, also many at once.
      const crowd = await Promise.all(Array.from({ length: 8 }, () => c.signIn()));
      for (const who of crowd) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      const members = `/v1/threads/${thread.id}/members`;
      const results = await Promise.all(crowd.flatMap((who) => [
        api(`${members}/${who.address}`, who, 'PUT'), api(`${members}/${who.address}`, who, 'PUT')]));
      assert.deepEqual([...new Set(results.map((x) => x.status))], [204]);
      assert.deepEqual([(await shown()).member_count, await listed()], [11, 11]);
      const left = await Promise.all(crowd.slice(0, 5).flatMap((who) => [
        api(`${members}/${who.address}`, who, 'DELETE'), api(`${members}/${who.address}`, mod, 'DELETE')]));
      assert.deepEqual([...new Set(left.map((x) => x.status))], [204]);
      assert.deepEqual([(await shown()).member_count, await listed()], [6, 6]);
      // Each change told its count as it left it: one by one, whatever order the frames came in.
      const told = () => tsock.frames.filter((f) => f.type === 'thread_members_updated');
      await tsock.waitFor(() => told().length === 2 + 8 + 5);
      assert.deepEqual(told().map((f) => f.member_count).sort((a, b) => a - b),
        [2, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11]);
      // Lists and frames carry the counts.
      const listedThread = (await api(`/v1/channels/${general}/threads`, owner)).body.threads.find((t) => t.id === thread.id);
      assert.deepEqual([listedThread.message_count, listedThread.member_count], [2, 6]);

      // Many messages at once count exactly.
      const burst = await Promise.all(crowd.slice(5).flatMap((who, i) =>
        Array.from({ length: 4 }, (_, k) => api(`/v1/channels/${thread.id}/messages`, who, 'POST',
          { body: `burst ${i}.${k}`, client_id: `burst-${i}-${k}` }))));
      assert.deepEqual([...new Set(burst.map((x) => x.status))], [201]);
      assert.deepEqual([(await shown()).message_count, await history()], [14, 14]);
      psock.close();
      tsock.close();
    });

    test('a private thread is read by its members and the channel\'s moderators alone; members add others', async () => {
      const { owner, mod, member, outsider, api, id, base, general, post, start } = await community('Private');
      const [friend, stranger, bystander] = await Promise.all([c.signIn(), c.signIn(), c.signIn()]);
      for (const who of [friend, stranger, bystander]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      const origin = await post(member, general, 'hi all');
      for (const body of [{ name: 'x', private: true, seq: origin.seq }, { name: 'x', invitable: false },
        { name: 'x', private: 'yes' }]) {
        assert.deepEqual(code(await start(member, general, body)), [400, 'invalid_field'], JSON.stringify(body));
      }
      // The channel's subscribers learn nothing of it, ever; its creator's sockets do.
      const psock = c.connect(bystander);
      await subscribed(psock, general);
      const msock = c.connect(member);
      await msock.opened;
      await msock.waitFor((f) => f.type === 'hello');
      let r = await start(member, general, { name: 'Secret plans', private: true });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const thread = r.body;
      assert.deepEqual([thread.private, thread.invitable, thread.member_count, thread.seq], [true, true, 1, null]);
      assert.equal((await msock.waitFor((f) => f.type === 'thread_created' && f.thread.id === thread.id)).thread.private, true);

      // Those who read the channel but are not in it learn nothing of it.
      const hidden = async (who) => {
        assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, who)), [404, 'thread_not_found']);
        assert.equal((await api(`/v1/channels/${thread.id}/messages`, who)).status, 403);
        assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages`, who, 'POST',
          { body: 'let me in', client_id: `h${Math.random()}` })), [403, 'forbidden']);
        assert.deepEqual(code(await api(`/v1/threads/${thread.id}/members`, who)), [404, 'thread_not_found']);
        assert.deepEqual(code(await api(`/v1/threads/${thread.id}/members/${who.address}`, who, 'PUT')), [404, 'thread_not_found']);
        assert.ok(!(await api(`/v1/channels/${general}/threads`, who)).body.threads.some((t) => t.id === thread.id));
        assert.ok(!(await api(`/v1/communities/${id}/threads`, who)).body.threads.some((t) => t.id === thread.id));
        assert.deepEqual((await api(`/v1/unread?channel_ids=${thread.id}`, who)).body.channels, []);
        const s = c.connect(who);
        assert.deepEqual(((f) => [f.type, f.code])(await subscribed(s, thread.id)), ['error', 'forbidden']);
        s.close();
      };
      await hidden(stranger);
      // The channel's moderators read it, and see it listed, without joining it.
      assert.equal((await api(`/v1/threads/${thread.id}`, mod)).body.joined, false);
      assert.ok((await api(`/v1/channels/${general}/threads`, mod)).body.threads.some((t) => t.id === thread.id));
      assert.ok((await api(`/v1/communities/${id}/threads`, owner)).body.threads.some((t) => t.id === thread.id));
      assert.equal((await api(`/v1/channels/${thread.id}/messages`, mod)).status, 200);

      // A member adds another by hand, or by naming it (one who reads the channel); they read it at once.
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}/members/${outsider.address}`, member, 'PUT')), [400, 'invalid_member']);
      assert.equal((await api(`/v1/threads/${thread.id}/members/${friend.address}`, member, 'PUT')).status, 204);
      assert.equal((await api(`/v1/threads/${thread.id}`, friend)).body.joined, true);
      const fsock = c.connect(friend);
      await subscribed(fsock, thread.id);
      const named = await post(member, thread.id, `join us @${outsider.address} and @${stranger.address}`);
      assert.equal((await api(`/v1/threads/${thread.id}`, stranger)).body.joined, true);
      const members = async () => (await api(`/v1/threads/${thread.id}/members`, member)).body.members.map((m) => m.account);
      assert.deepEqual(await members(), [member.address, friend.address, stranger.address]);
      const mentioned = async (msg) => (await (await c.api('/v1/_test/outbox?topic=messaging.mention')).json()).events
        .filter((e) => e.payload.message_id === msg.id).map((e) => e.payload.account).sort();
      assert.deepEqual(await mentioned(named), [stranger.address]);
      // Everyone, in a private thread, is its members (the owner posts there as a moderator).
      const all = await post(owner, thread.id, 'hello @&member');
      assert.deepEqual(await mentioned(all), [member.address, friend.address, stranger.address].sort());

      // Leaving, or being removed, is losing it at once: replies to what one wrote there reach it no more.
      const said = await post(friend, thread.id, 'count me in');
      const replies = async (msg) => (await (await c.api('/v1/_test/outbox?topic=messaging.reply')).json()).events
        .filter((e) => e.payload.message_id === msg.id).map((e) => e.payload.account);
      assert.deepEqual(await replies(await post(member, thread.id, 'great', { reply_to: said.seq })), [friend.address]);
      assert.equal((await api(`/v1/threads/${thread.id}/members/${friend.address}`, friend, 'DELETE')).status, 204);
      const gone = await fsock.waitFor((f) => f.type === 'membership');
      assert.deepEqual([gone.status, gone.channel_ids], ['removed', [thread.id]]);
      await hidden(friend);
      assert.deepEqual(await replies(await post(member, thread.id, 'too bad', { reply_to: said.seq })), []);

      // Who invites: members, until a moderator closes it; then moderators alone.
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, member, 'PATCH', { invitable: false })), [403, 'missing_permission']);
      r = await api(`/v1/threads/${thread.id}`, mod, 'PATCH', { invitable: false });
      assert.deepEqual([r.status, r.body.invitable], [200, false]);
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}/members/${friend.address}`, member, 'PUT')), [403, 'missing_permission']);
      const closed = await post(member, thread.id, `come back @${friend.address}`);
      assert.deepEqual(await mentioned(closed), []);
      await hidden(friend);
      assert.equal((await api(`/v1/threads/${thread.id}/members/${friend.address}`, mod, 'PUT')).status, 204);
      assert.equal((await api(`/v1/threads/${thread.id}`, friend)).body.joined, true);
      assert.equal((await api(`/v1/threads/${thread.id}/members/${friend.address}`, mod, 'DELETE')).status, 204);
      await hidden(friend);
      const pub = (await start(member, general, { name: 'Open' })).body;
      assert.deepEqual(code(await api(`/v1/threads/${pub.id}`, mod, 'PATCH', { invitable: false })), [400, 'invalid_field']);

      // Deleted by a moderator; nothing of it ever reached the channel's subscribers.
      assert.equal((await api(`/v1/threads/${thread.id}`, mod, 'DELETE')).status, 204);
      await psock.waitFor((f) => f.type === 'thread_created' && f.thread.id === pub.id);
      assert.deepEqual(psock.frames.filter((f) => JSON.stringify(f).includes(thread.id)), []);
      psock.close();
      msock.close();
      fsock.close();
    });

    test('one who leaves a community leaves every thread it joined there, in batches', async () => {
      const { owner, member, api, base, general, start } = await community('Leaves');
      // More than one batch (200 per transaction).
      const ids = [];
      for (let i = 0; i < 203; i++) {
        const r = await start(member, general, { name: `topic ${i}` });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.id);
      }
      const kept = (await start(owner, general, { name: 'kept' })).body;
      assert.equal((await api(`/v1/threads/${kept.id}/members/${member.address}`, member, 'PUT')).status, 204);
      assert.equal((await api(`/v1/threads/${kept.id}`, owner)).body.member_count, 2);
      assert.equal((await api(`${base}/leave`, member, 'POST')).status, 204);
      const removed = async () => (await (await c.api('/v1/_test/outbox?topic=messaging.thread_members_removed')).json())
        .events.filter((e) => e.payload.account === member.address);
      await until('every thread left', async () =>
        (await removed()).reduce((n, e) => n + e.payload.threads.length, 0) === 204);
      const batches = await removed();
      assert.deepEqual(batches.map((e) => e.payload.threads.length).sort((a, b) => a - b), [4, 200]);
      assert.ok(batches.every((e) => e.payload.community_id === base.split('/').pop()));
      const left = new Set(batches.flatMap((e) => e.payload.threads.map((t) => t.id)));
      assert.deepEqual([...left].sort(), [...ids, kept.id].sort());
      assert.deepEqual([(await api(`/v1/threads/${ids[0]}`, owner)).body.member_count,
        (await api(`/v1/threads/${kept.id}`, owner)).body.member_count], [0, 1]);
      // Back in the community, it is in none of them.
      assert.equal((await api(`${base}/join`, member, 'POST')).status, 200);
      assert.deepEqual((await api(`/v1/channels/${general}/threads?joined=true`, member)).body.threads, []);
    });

    test('moderators delete a thread: gone for everyone at once, its messages purged in batches, its message free again; audited', async () => {
      const { owner, mod, member, outsider, api, base, general, post, start } = await community('Deletes');
      const origin = await post(member, general, 'a tempting offer');
      const thread = (await start(member, general, { name: 'Free tokens', seq: origin.seq })).body;
      const bait = await post(member, thread.id, `claim yours @${owner.address}`);
      // Named, the owner joined; the spam below is not for its notifications.
      assert.equal((await api(`/v1/threads/${thread.id}/members/${owner.address}`, owner, 'PUT', { notify: 'mentions' })).status, 204);
      // More than one purge batch (200 per transaction).
      for (let i = 0; i < 205; i++) await post(member, thread.id, `spam ${i}`);
      let r = await api(`/v1/channels/${thread.id}/messages/${bait.seq}/report`, owner, 'POST', { reason: 'scam' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const mentionOf = async () => (await api('/v1/notifications?limit=100', owner)).body.notifications
        .filter((n) => n.data.message_id === bait.id);
      await until('the mention notified', async () => (await mentionOf()).length === 1);
      const parentSock = c.connect(owner);
      await subscribed(parentSock, general);
      const threadSock = c.connect(member);
      await subscribed(threadSock, thread.id);

      // Moderators alone delete it; one who cannot read it learns nothing.
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, member, 'DELETE')), [403, 'missing_permission']);
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, outsider, 'DELETE')), [404, 'thread_not_found']);
      assert.equal((await api(`/v1/threads/${thread.id}`, mod, 'DELETE')).status, 204);
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, mod, 'DELETE')), [404, 'thread_not_found']);

      // The channel's followers learn it; the start message shows no thread; the thread's followers are let go.
      const strip = ({ received_at, ...f }) => f;
      assert.deepEqual(strip(await parentSock.waitFor((f) => f.type === 'thread_deleted')),
        { type: 'thread_deleted', thread_id: thread.id, channel_id: general });
      const freed = await parentSock.waitFor((f) => f.type === 'message_updated' && f.seq === origin.seq);
      assert.equal(freed.thread, undefined);
      const removed = await threadSock.waitFor((f) => f.type === 'membership' && f.status === 'removed');
      assert.deepEqual(removed.channel_ids, [thread.id]);

      // Gone at once, for everyone: no thread, no history, no posts, not listed, not counted.
      for (const who of [owner, mod, member]) {
        assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, who)), [404, 'thread_not_found']);
        assert.equal((await api(`/v1/channels/${thread.id}/messages`, who)).status, 403);
      }
      assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages`, member, 'POST', { body: 'still here?', client_id: 'd1' })),
        [403, 'forbidden']);
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}/members/${member.address}`, member, 'PUT')), [404, 'thread_not_found']);
      for (const archived of [false, true]) {
        assert.deepEqual((await api(`/v1/channels/${general}/threads?archived=${archived}`, owner)).body.threads, []);
      }
      assert.ok(!(await api('/v1/unread', member)).body.channels.some((u) => u.channel_id === thread.id));
      assert.deepEqual((await api(`/v1/unread?channel_ids=${thread.id}`, member)).body.channels, []);
      assert.equal((await api(`/v1/channels/${general}/messages/${origin.seq}`, member)).body.thread, undefined);
      // The message may start a thread again.
      r = await start(member, general, { name: 'Second try', seq: origin.seq });
      assert.equal(r.status, 201, JSON.stringify(r.body));

      // Its messages are tombstoned, over more than one transaction, and their notifications withdrawn.
      const live = () => Number(db.query(`SELECT count(*) FROM msg_messages WHERE channel_id = '${thread.id}' AND deleted_ms IS NULL`));
      await until('the thread purged', async () => live() === 0);
      assert.equal(Number(db.query(`SELECT count(*) FROM msg_messages WHERE channel_id = '${thread.id}' AND body <> ''`)), 0);
      const outbox = async (topic) => (await (await c.api(`/v1/_test/outbox?topic=${topic}`)).json()).events;
      assert.ok((await outbox('messaging.thread_purge_continued')).some((e) => e.payload.id === thread.id));
      const deletions = (await outbox('messaging.message_deleted')).filter((e) => e.payload.channel_id === thread.id);
      assert.equal(deletions.length, 206);
      assert.ok(deletions.every((e) => e.payload.purged === true && e.payload.deleted_by === mod.address &&
        e.payload.parent_channel_id === general));
      await until('the mention withdrawn', async () => (await mentionOf()).length === 0);

      // One entry in the audit log, not one per message; the report stays in the queue.
      const [entry] = await until('the thread_delete entry', async () => {
        const entries = (await api(`${base}/audit-log?action=thread_delete`, owner)).body.entries;
        return entries.length > 0 ? entries : null;
      });
      assert.deepEqual([entry.actor, entry.target, entry.channel_id, entry.details],
        [mod.address, member.address, general, { thread_id: thread.id, name: 'Free tokens' }]);
      assert.equal((await api(`${base}/audit-log?action=message_delete`, owner)).body.entries.length, 0);
      assert.deepEqual((await api(`${base}/reports`, mod)).body.reports.map((x) => [x.channel_id, x.seq]), [[thread.id, bait.seq]]);
      parentSock.close();
      threadSock.close();
    });

    test('a thread\'s name passes the channel\'s AutoMod rules as a message does', async () => {
      const { owner, mod, member, api, base, general, staff, start } = await community('Screened');
      let r = await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'no scams', trigger: { type: 'keyword', keywords: ['scam'] }, alert_channel: staff });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const rule = r.body;
      const modSock = c.connect(mod);
      await modSock.opened;
      await modSock.waitFor((f) => f.type === 'hello');
      modSock.send({ type: 'subscribe', report_channel_ids: [general] });
      await modSock.waitFor((f) => f.type === 'subscribed' && f.report_channel_id === general);
      assert.deepEqual(code(await start(member, general, { name: 'free scam inside' })), [403, 'automod_blocked']);
      assert.deepEqual((await api(`/v1/channels/${general}/threads`, owner)).body.threads, []);
      const thread = (await start(member, general, { name: 'fine' })).body;
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, member, 'PATCH', { name: 'scam time' })), [403, 'automod_blocked']);
      // One who may not rename it is refused as such, and leaves no block behind.
      const other = await c.signIn();
      assert.equal((await api(`${base}/join`, other, 'POST')).status, 200);
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, other, 'PATCH', { name: 'scam time' })), [403, 'missing_permission']);
      // A moderator is held to the rules as with messages; those who manage the community pass.
      assert.deepEqual(code(await api(`/v1/threads/${thread.id}`, mod, 'PATCH', { name: 'scam time' })), [403, 'automod_blocked']);
      assert.equal((await api(`/v1/threads/${thread.id}`, owner)).body.name, 'fine');
      r = await api(`/v1/threads/${thread.id}`, owner, 'PATCH', { name: 'scam reports' });
      assert.deepEqual([r.status, r.body.name], [200, 'scam reports']);
      // A message refused in the thread is the channel's block too; its moderators see it live.
      assert.deepEqual(code(await api(`/v1/channels/${thread.id}/messages`, member, 'POST', { body: 'a scam', client_id: 'scr1' })),
        [403, 'automod_blocked']);
      const live = await modSock.waitFor((f) => f.type === 'automod_block' && f.thread_id === thread.id && f.account === member.address);
      assert.deepEqual([live.report_channel_id, live.rule_id, live.matched], [general, rule.id, 'scam']);
      // Each refusal is recorded and alerted as a blocked message of the channel, naming the thread
      // once there is one.
      const blocks = (await api(`${base}/audit-log?action=automod_block`, owner)).body.entries;
      assert.deepEqual(blocks.map((e) => [e.actor, e.channel_id, e.details.rule_id, e.details.matched, e.details.thread_id]), [
        [member.address, general, rule.id, 'scam', thread.id], [mod.address, general, rule.id, 'scam', thread.id],
        [member.address, general, rule.id, 'scam', thread.id], [member.address, general, rule.id, 'scam', undefined]]);
      const alerts = async () => (await api(`/v1/channels/${staff}/messages?limit=10`, owner)).body.messages
        .filter((m) => m.system?.kind === 'automod_alert');
      await until('the blocks alerted', async () => (await alerts()).length === 4);
      assert.deepEqual((await alerts()).map((m) => [m.system.account, m.system.channel_id, m.system.thread_id, m.system.content]), [
        [member.address, general, thread.id, 'a scam'], [mod.address, general, thread.id, 'scam time'],
        [member.address, general, thread.id, 'scam time'], [member.address, general, undefined, 'free scam inside']]);
      modSock.close();
    });

    test('mentions and replies in a thread notify as in its channel; muting the channel mutes its threads', async () => {
      const { owner, member, api, id, base, general, post, start } = await community('Notified');
      const barrier = (await api(`${base}/channels`, owner, 'POST', { name: 'barrier' })).body.id;
      const thread = (await start(member, general, { name: 'Questions' })).body;
      const center = async () => (await api('/v1/notifications?limit=100', owner)).body.notifications;
      const of = (list, m) => list.filter((x) => x.data.message_id === m.id);
      // The owner's notifications are made in order: once a later mention is listed, the earlier ones were decided.
      const settle = async () => {
        const b = await post(member, barrier, `sync @${owner.address}`);
        await until('the barrier mention', async () => of(await center(), b).length === 1);
      };
      const settings = async (body) => assert.equal((await api('/v1/notification-settings', owner, 'PUT', body)).status, 200);

      const heard = await post(member, thread.id, `ping @${owner.address}`);
      await settle();
      const [n] = of(await center(), heard);
      assert.deepEqual([n.kind, n.channel_id, n.community_id, n.data.channel_id, n.data.parent_channel_id],
        ['mention', thread.id, id, thread.id, general]);

      await settings({ muted_channels: [general] });
      const mine = await post(owner, thread.id, 'my question');
      const muted = await post(member, thread.id, `again @${owner.address}`);
      const reply = await post(member, thread.id, 'an answer', { reply_to: mine.seq });
      await settle();
      let list = await center();
      assert.deepEqual([of(list, muted), of(list, reply)], [[], []]);
      // The thread alone may be muted too; the channel then is not.
      await settings({ muted_channels: [thread.id] });
      const inChannel = await post(member, general, `in the channel @${owner.address}`);
      const inThread = await post(member, thread.id, `in the thread @${owner.address}`);
      await settle();
      list = await center();
      assert.deepEqual([of(list, inChannel).length, of(list, inThread).length], [1, 0]);
      await settings({ muted_channels: [] });
      const back = await post(member, thread.id, 'another answer', { reply_to: mine.seq });
      await settle();
      assert.deepEqual(of(await center(), back).map((x) => [x.kind, x.data.parent_channel_id]), [['reply', general]]);
    });

    test('a thread archived by inactivity is recorded by the job messaging.thread_archive, and its subscribers told', async () => {
      const { owner, member, api, general, post, start } = await community('Sleepy');
      const quiet = (await start(member, general, { name: 'Quiet one', auto_archive_minutes: 60 })).body;
      const secret = (await start(member, general, { name: 'Quiet secret', private: true, auto_archive_minutes: 60 })).body;
      const busy = (await start(member, general, { name: 'Still going', auto_archive_minutes: 60 })).body;
      const longer = (await start(member, general, { name: 'Longer', auto_archive_minutes: 60 })).body;
      await post(member, quiet.id, 'last words');
      const psock = c.connect(owner);
      await subscribed(psock, general);
      const tsock = c.connect(member);
      await subscribed(tsock, quiet.id);
      tsock.send({ type: 'subscribe', channel_ids: [secret.id] });
      await tsock.waitFor((f) => f.type === 'subscribed' && f.channel_id === secret.id);
      // Two hours go by for the first two: their last activity moves back.
      for (const t of [quiet, secret, longer]) {
        db.query(`UPDATE msg_threads SET last_ms = last_ms - 7200000, created_ms = created_ms - 7200000 WHERE id = '${t.id}'`);
      }
      const shown = async (t) => (await api(`/v1/threads/${t.id}`, owner)).body;
      const before = await shown(quiet);
      const expected = new Date(Date.parse(before.last_message_at) + 3600_000).toISOString();
      assert.deepEqual([before.archived, before.archived_at], [true, expected]);
      // Archived by inactivity, a thread stays archived whatever else changes, its auto-archive time too.
      const was = await shown(longer);
      const r = await api(`/v1/threads/${longer.id}`, member, 'PATCH', { auto_archive_minutes: 10080 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual([r.body.archived, r.body.archived_at, r.body.auto_archive_minutes], [true, was.archived_at, 10080]);
      assert.equal((await psock.waitFor((f) => f.type === 'thread_updated')).thread.id, longer.id);
      // Archiving it again changes nothing and tells no one.
      assert.deepEqual((await api(`/v1/threads/${longer.id}`, member, 'PATCH', { archived: true })).body, await shown(longer).then((t) => ({ ...t, joined: true, notify: 'all' })));

      // The job, in a process of its own: the server's subscribers hear of it through the bus.
      const job = () => runCommand(['jobs', 'run', 'messaging.thread_archive', ...db.flags]);
      let run = job();
      assert.equal(run.code, 0, run.stderr);
      const strip = ({ received_at, ...f }) => f;
      const told = strip(await psock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === quiet.id));
      assert.deepEqual(told, { type: 'thread_updated', thread: { ...(({ joined, notify, ...t }) => t)(before) } });
      assert.equal((await tsock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === quiet.id)).thread.archived_at, expected);
      // A private thread's own subscribers hear of it; its channel's do not.
      assert.equal((await tsock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === secret.id)).thread.archived, true);
      assert.deepEqual(await shown(quiet), before);
      assert.deepEqual((await api(`/v1/channels/${general}/threads?archived=true`, owner)).body.threads.map((t) => t.id).sort(),
        [quiet.id, secret.id, longer.id].sort());

      // Once recorded, a run tells no one again; a message brings the thread back, and its next
      // inactivity is recorded as the first was.
      run = job();
      assert.equal(run.code, 0, run.stderr);
      await post(member, quiet.id, 'back again');
      const back = await psock.waitFor((f) => f.type === 'thread_activity' && f.thread.id === quiet.id && !f.thread.archived);
      db.query(`UPDATE msg_threads SET last_ms = last_ms - 7200000 WHERE id = '${quiet.id}'`);
      run = job();
      assert.equal(run.code, 0, run.stderr);
      const again = await psock.waitFor((f, frames) => f.type === 'thread_updated' && frames.indexOf(f) > psock.frames.indexOf(back));
      assert.deepEqual([again.thread.id, again.thread.archived], [quiet.id, true]);
      const updates = psock.frames.filter((f) => f.type === 'thread_updated');
      assert.deepEqual(updates.map((f) => f.thread.id), [longer.id, quiet.id, quiet.id]);
      assert.equal((await shown(busy)).archived, false);
      psock.close();
      tsock.close();
    });

    test('a joined thread notifies its members of every message, as each chose: all, mentions or none', async () => {
      const { owner, mod, member, api, id, base, general, staff, post, start } = await community('Following');
      const [other, quiet, poster, lapsed] = await Promise.all(Array.from({ length: 4 }, () => c.signIn()));
      for (const who of [other, quiet, poster, lapsed]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      const barrier = (await api(`${base}/channels`, owner, 'POST', { name: 'barrier' })).body.id;
      const thread = (await start(member, general, { name: 'Crew' })).body;
      assert.equal(thread.notify, 'all');
      const path = `/v1/threads/${thread.id}/members`;
      const join = (who, body) => api(`${path}/${who.address}`, who, 'PUT', body);
      const sock = c.connect(member);
      await sock.opened;
      await sock.waitFor((f) => f.type === 'hello');

      // Joining by hand: all of it by default, or as asked; another's setting is not one's to set.
      assert.equal((await join(mod)).status, 204);
      assert.equal((await join(other, { notify: 'mentions' })).status, 204);
      assert.equal((await join(quiet, { notify: 'none' })).status, 204);
      for (const [bad, want] of [[{ notify: 'loud' }, 'invalid_field'], [{ notify: 1 }, 'invalid_field'],
        [{ notify: 'all', extra: true }, 'invalid_field'], [[], 'expected_object']]) {
        assert.deepEqual(code(await join(other, bad)), [400, want], JSON.stringify(bad));
      }
      assert.deepEqual(code(await api(`${path}/${mod.address}`, member, 'PUT', { notify: 'none' })), [403, 'forbidden']);
      const shown = async (who) => { const t = (await api(`/v1/threads/${thread.id}`, who)).body; return [t.joined, t.notify]; };
      assert.deepEqual(await Promise.all([member, mod, other, quiet, owner].map(shown)),
        [[true, 'all'], [true, 'all'], [true, 'mentions'], [true, 'none'], [false, null]]);
      assert.deepEqual((await api(`/v1/channels/${general}/threads`, other)).body.threads.map((t) => [t.joined, t.notify]),
        [[true, 'mentions']]);

      // Notifications are made in order: once a later mention is listed, the earlier ones were decided.
      const center = async (who) => (await api('/v1/notifications?limit=100', who)).body.notifications;
      const everyone = [owner, mod, member, other, quiet, poster];
      const settle = async () => {
        const b = await post(owner, barrier, `sync ${everyone.filter((w) => w !== owner).map((w) => `@${w.address}`).join(' ')}`);
        for (const who of everyone.filter((w) => w !== owner)) {
          await until('the barrier mention', async () => (await center(who)).some((n) => n.data.message_id === b.id));
        }
      };
      const heard = async (m) => Object.fromEntries(await Promise.all(everyone.map(async (who) =>
        [who === owner ? 'owner' : who === mod ? 'mod' : who === member ? 'member' : who === other ? 'other' : who === quiet ? 'quiet' : 'poster',
          (await center(who)).filter((n) => n.data.message_id === m.id).map((n) => n.kind)])));
      const short = (a) => `${a.slice(0, 6)}…${a.slice(-4)}`;

      // A message: those following all of it hear of it; its author, those set to mentions or none,
      // and those who did not join do not.
      const hello = await post(poster, thread.id, 'hello crew');
      await settle();
      assert.deepEqual(await heard(hello), { owner: [], mod: ['thread'], member: ['thread'], other: [], quiet: [], poster: [] });
      const [n] = (await center(mod)).filter((x) => x.data.message_id === hello.id);
      assert.deepEqual([n.title, n.body, n.channel_id, n.community_id, n.data.parent_channel_id, n.data.seq],
        [`${short(poster.address)} in Crew`, 'hello crew', thread.id, id, general, String(hello.seq)]);
      // Posting joined its author, who now follows it.
      assert.deepEqual(await shown(poster), [true, 'all']);

      // Named or replied to, one hears of it as such, once; set to none, not at all.
      const ask = await post(quiet, thread.id, 'a question');
      const named = await post(poster, thread.id, `@${other.address} @${quiet.address} @${member.address} look`);
      const answer = await post(poster, thread.id, 'the answer', { reply_to: ask.seq });
      await settle();
      assert.deepEqual(await heard(ask), { owner: [], mod: ['thread'], member: ['thread'], other: [], quiet: [], poster: ['thread'] });
      assert.deepEqual(await heard(named), { owner: [], mod: ['thread'], member: ['mention'], other: ['mention'], quiet: [], poster: [] });
      assert.deepEqual(await heard(answer), { owner: [], mod: ['thread'], member: ['thread'], other: [], quiet: [], poster: [] });
      // A silent message notifies, without a push.
      const hush = await post(poster, thread.id, 'quietly', { silent: true });
      await settle();
      assert.equal((await center(mod)).find((x) => x.data.message_id === hush.id).data.silent, true);

      // A member changes its own setting; its sockets learn it, the thread's subscribers do not.
      assert.equal((await join(member, { notify: 'none' })).status, 204);
      const strip = ({ received_at, ...f }) => f;
      assert.deepEqual(strip(await sock.waitFor((f) => f.type === 'thread_member_updated' && f.notify === 'none')),
        { type: 'thread_member_updated', thread_id: thread.id, channel_id: general, joined: true, notify: 'none' });
      assert.equal((await api(`/v1/threads/${thread.id}`, member)).body.member_count, 5);
      assert.equal((await join(member, { notify: 'none' })).status, 204);
      // A muted kind holds for thread messages; deleting a message withdraws its notifications.
      assert.equal((await api('/v1/notification-settings', other, 'PUT', { muted_kinds: ['thread'] })).status, 200);
      assert.equal((await join(other, { notify: 'all' })).status, 204);
      const late = await post(poster, thread.id, `late @${member.address}`);
      await settle();
      assert.deepEqual(await heard(late), { owner: [], mod: ['thread'], member: [], other: [], quiet: [], poster: [] });
      assert.equal((await api(`/v1/channels/${thread.id}/messages/${hello.seq}`, poster, 'DELETE')).status, 204);
      await until('the notification withdrawn', async () => !(await center(mod)).some((x) => x.data.message_id === hello.id));

      // A member who can no longer read the channel is not told of its threads' messages.
      const staffThread = (await start(mod, staff, { name: 'Staff room' })).body;
      assert.ok((await api(`${base}/members/${lapsed.address}/roles/moderator`, owner, 'PUT')).status < 300);
      assert.equal((await api(`/v1/threads/${staffThread.id}/members/${lapsed.address}`, lapsed, 'PUT')).status, 204);
      assert.ok((await api(`${base}/members/${lapsed.address}/roles/moderator`, owner, 'DELETE')).status < 300);
      const secret = await post(mod, staffThread.id, 'staff only');
      const after = await post(owner, barrier, `sync @${lapsed.address}`);
      await until('the barrier mention', async () => (await center(lapsed)).some((x) => x.data.message_id === after.id));
      assert.deepEqual((await center(lapsed)).filter((x) => x.data.message_id === secret.id), []);

      // Reading the thread reads the notifications about its messages; the barrier's stay unread.
      const inThread = async () => (await center(mod)).filter((x) => x.channel_id === thread.id);
      assert.ok((await inThread()).length >= 4 && (await inThread()).every((x) => !x.read));
      assert.equal((await api(`/v1/channels/${thread.id}/read`, mod, 'PUT', { seq: late.seq })).status, 200);
      await until('the thread\'s notifications read', async () => (await inThread()).every((x) => x.read));
      assert.ok((await center(mod)).some((x) => x.channel_id === barrier && !x.read));
      sock.close();
    });

    test('marking a community read moves every marker the member reads there, its joined threads\' too, and reads their notifications', async () => {
      const { owner, member, outsider, api, id, base, general, staff, post, start } = await community('Caughtup');
      const news = (await api(`${base}/channels`, owner, 'POST', { name: 'news' })).body.id;
      const quiet = (await api(`${base}/channels`, owner, 'POST', { name: 'quiet' })).body.id;
      await post(owner, general, 'one');
      const named = await post(owner, general, `two @${member.address}`);
      await post(owner, news, 'extra extra');
      await post(owner, staff, 'moderators only');
      const thread = (await start(member, general, { name: 'Side talk' })).body;
      await post(owner, thread.id, `in the thread @${member.address}`);
      const other = (await start(owner, general, { name: 'Not joined' })).body;
      await post(owner, other.id, 'elsewhere');
      const center = async () => (await api('/v1/notifications?limit=100', member)).body.notifications;
      await until('two mentions', async () => (await center()).filter((x) => !x.read).length === 2);
      const sock = c.connect(member);
      await sock.opened;
      await sock.waitFor((f) => f.type === 'hello');

      const r = await api(`${base}/read`, member, 'PUT');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // Every channel it reads (staff is not one), and the thread it joined (not the other).
      assert.deepEqual(r.body.channels, { [general]: 2, [news]: 1, [quiet]: 0, [thread.id]: 1 });
      const unread = (await api(`/v1/unread?channel_ids=${general},${news},${thread.id},${other.id}`, member)).body.channels;
      assert.deepEqual(unread.map((u) => [u.channel_id, u.unread, u.last_read_seq]),
        [[general, 0, 2], [news, 0, 1], [thread.id, 0, 1], [other.id, 1, 0]]);
      // Each moved marker is told to the member's sockets; its notifications there are read.
      for (const [channel, seq] of [[general, 2], [news, 1], [thread.id, 1]]) {
        await sock.waitFor((f) => f.type === 'read' && f.channel_id === channel && f.seq === seq);
      }
      await until('the mentions read', async () => (await center()).every((x) => x.read));
      assert.ok((await center()).some((x) => x.data.message_id === named.id));
      // Again: nothing moves.
      const again = await api(`${base}/read`, member, 'PUT');
      assert.deepEqual(again.body, r.body);
      // Not a member: 403 not_member; no such community: 404.
      assert.deepEqual(code(await api(`${base}/read`, outsider, 'PUT')), [403, 'not_member']);
      assert.equal((await api('/v1/communities/nope/read', member, 'PUT')).status, 404);
      assert.equal((await api(`/v1/communities/${id}/read`, { token: 'junk' }, 'PUT')).status, 401);
      sock.close();
    });

    test('losing the channel loses its threads at once; a ban purges thread messages; thread reports reach the channel\'s moderators', async () => {
      const { owner, mod, member, api, id, base, general, post, start } = await community('Cleanup');
      const spammer = await c.signIn();
      assert.equal((await api(`${base}/join`, spammer, 'POST')).status, 200);
      const thread = (await start(owner, general, { name: 'Town hall' })).body;

      // Reports of a thread's messages: in the community's queue, and live on the channel's report topic.
      const modSock = c.connect(mod);
      await modSock.opened;
      await modSock.waitFor((f) => f.type === 'hello');
      modSock.send({ type: 'subscribe', report_channel_ids: [general] });
      await modSock.waitFor((f) => f.type === 'subscribed' && f.report_channel_id === general);
      const bad = await post(spammer, thread.id, 'buy my token');
      let r = await api(`/v1/channels/${thread.id}/messages/${bad.seq}/report`, member, 'POST', { reason: 'spam' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const live = await modSock.waitFor((f) => f.type === 'report');
      assert.deepEqual([live.report_channel_id, live.report.channel_id, live.report.seq], [general, thread.id, bad.seq]);
      const queue = (await api(`${base}/reports`, mod)).body.reports;
      assert.deepEqual(queue.map((x) => [x.channel_id, x.seq]), [[thread.id, bad.seq]]);
      r = await api(`/v1/reports/${queue[0].id}`, mod, 'PATCH', { status: 'resolved' });
      assert.equal(r.status, 200);
      await modSock.waitFor((f) => f.type === 'report' && f.report.status === 'resolved');

      // A ban that deletes the last hour's messages reaches the thread; the channel's subscribers
      // see its count go down.
      const kept = await post(member, thread.id, 'a real question');
      const parentSock = c.connect(owner);
      await subscribed(parentSock, general);
      assert.equal((await api(`/v1/threads/${thread.id}`, owner)).body.message_count, 2);
      assert.equal((await api(`${base}/bans`, owner, 'POST', { address: spammer.address, delete_messages_seconds: 3600 })).status, 204);
      await until('the thread message purged', async () =>
        (await api(`/v1/channels/${thread.id}/messages/${bad.seq}`, owner)).body.deleted);
      assert.equal((await api(`/v1/channels/${thread.id}/messages/${kept.seq}`, owner)).body.deleted, false);
      const purged = await parentSock.waitFor((f) => f.type === 'thread_activity');
      assert.deepEqual([purged.thread.id, purged.thread.message_count, purged.thread.last_seq], [thread.id, 1, kept.seq]);
      parentSock.close();

      // Moderation in a thread is in the community's audit log as its channel's, naming the thread.
      const bye = await post(member, thread.id, 'off-topic rant');
      assert.equal((await api(`/v1/channels/${thread.id}/messages/${bye.seq}`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`/v1/channels/${thread.id}/pins/${kept.seq}`, mod, 'PUT')).status, 204);
      for (const action of ['message_report_update', 'message_delete', 'message_pin']) {
        const [entry] = await until(`the ${action} entry`, async () => {
          const entries = (await api(`${base}/audit-log?action=${action}`, owner)).body.entries;
          return entries.length > 0 ? entries : null;
        });
        assert.deepEqual([entry.actor, entry.channel_id, entry.details.thread_id], [mod.address, general, thread.id], action);
      }

      // A member kicked stops receiving the thread at once.
      const sock = c.connect(member);
      await subscribed(sock, thread.id);
      assert.equal((await api(`${base}/members/${member.address}/kick`, owner, 'POST')).status, 204);
      const removed = await sock.waitFor((f) => f.type === 'membership' && f.status === 'removed');
      assert.ok(removed.channel_ids.includes(thread.id), JSON.stringify(removed));
      await post(owner, thread.id, 'after the kick');
      assert.equal(sock.messages(thread.id).filter((m) => m.body === 'after the kick').length, 0);
      assert.equal((await api(`/v1/channels/${thread.id}/messages`, member)).status, 403);
      assert.ok(id);
      sock.close();
      modSock.close();
    });
  });
}
