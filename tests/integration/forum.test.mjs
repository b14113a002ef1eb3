// Forum channels through the real binary, on SQLite and PostgreSQL, as Discord's: a channel made a
// forum takes posts, not messages. A post is a thread started with its first message, carrying the
// forum's tags (moderated tags are the moderators'); the forum lists its posts by tag; a tag the
// forum drops leaves its posts; a post whose message is refused leaves nothing behind. A category
// groups channels and takes neither messages nor threads.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freshDatabase, backends, until, runCommand } from './lib/harness.mjs';
import { chatFlags, client, subscribed } from './lib/chat.mjs';

for (const backend of backends()) {
  describe(`forum channels (${backend})`, () => {
    let db, server, c;
    before(async () => {
      db = freshDatabase(backend);
      server = await startServer([...db.flags, ...chatFlags, '--message-rate-limit', '10000', '--message-rate-burst', '10000',
        '--search-rate-limit', '10000', '--search-rate-burst', '10000']);
      c = client(server);
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, server.stderr.slice(-4000));
      db.drop();
    });

    // A community with an owner, a moderator and a member, a text channel and a forum with tags
    // (one moderated).
    async function community(name, forumSpec = {}) {
      const [owner, mod, member] = await Promise.all(Array.from({ length: 3 }, () => c.signIn()));
      const api = async (path, who, method = 'GET', body) => {
        const r = await c.api(path, { method, token: who.token, body });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : null };
      };
      let r = await api('/v1/communities', owner, 'POST', { name, slug: `${name.toLowerCase()}-${backend}-${Date.now()}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const base = `/v1/communities/${r.body.id}`;
      for (const who of [mod, member]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      assert.ok((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'PUT')).status < 300);
      const general = (await api(`${base}/channels`, owner, 'POST', { name: 'general' })).body.id;
      r = await api(`${base}/channels`, owner, 'POST', {
        name: 'help', type: 'forum',
        available_tags: [{ name: 'Bug' }, { name: 'Idea', emoji: '💡' }, { name: 'Solved', moderated: true, emoji: '✅' }],
        ...forumSpec,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const forum = r.body;
      const tag = Object.fromEntries(forum.available_tags.map((t) => [t.name, t.id]));
      let n = 0;
      const start = (who, channel, body) => api(`/v1/channels/${channel}/threads`, who, 'POST', body);
      const postIn = (who, channel, name, body, tags, extra = {}) =>
        start(who, channel, { name, message: { body, client_id: `p${++n}` }, applied_tags: tags, ...extra });
      return { owner, mod, member, api, base, general, forum, tag, start, postIn };
    }
    const code = (r) => [r.status, r.body?.error?.code];

    test('a forum channel is made with its tags, which its managers change', async () => {
      const { owner, mod, member, api, base, general, forum, tag } = await community('Tags');
      assert.equal(forum.type, 'forum');
      assert.equal(forum.require_tag, false);
      assert.deepEqual(forum.available_tags.map(({ id, ...t }) => t), [
        { name: 'Bug', emoji: null, moderated: false },
        { name: 'Idea', emoji: '💡', moderated: false },
        { name: 'Solved', emoji: '✅', moderated: true }]);
      for (const t of forum.available_tags) assert.match(t.id, /^tg_[0-9a-f]{24}$/);
      assert.deepEqual((await api(`/v1/channels/${forum.id}`, member)).body, { ...forum, can_post: true });
      const text = (await api(`/v1/channels/${general}`, member)).body;
      assert.deepEqual([text.type, text.available_tags, text.require_tag], ['text', [], false]);

      // What is refused changes nothing.
      const many = Array.from({ length: 21 }, (_, i) => ({ name: `t${i}` }));
      for (const [body, want] of [
        [{ name: 'x', type: 'voice' }, 'invalid_field'], [{ name: 'x', type: 7 }, 'invalid_field'],
        [{ name: 'x', available_tags: [{ name: 'a' }] }, 'invalid_field'],
        [{ name: 'x', require_tag: true }, 'invalid_field'],
        [{ name: 'x', type: 'forum', require_tag: true }, 'invalid_field'],
        [{ name: 'x', type: 'forum', require_tag: 'yes', available_tags: [{ name: 'a' }] }, 'invalid_field'],
        [{ name: 'x', type: 'forum', available_tags: many }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ name: 'Bug' }, { name: 'bug' }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ name: '' }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ name: 'y'.repeat(21) }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ name: 'a', emoji: 'a b' }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ name: 'a', color: 1 }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: [{ id: 'tg_00', name: 'a' }] }, 'invalid_tag'],
        [{ name: 'x', type: 'forum', available_tags: 'Bug' }, 'invalid_tag']]) {
        assert.deepEqual(code(await api(`${base}/channels`, owner, 'POST', body)), [400, want], JSON.stringify(body));
      }
      for (const [body, want] of [
        [{ type: 'text' }, [400, 'invalid_field']],
        [{ available_tags: [{ id: 'tg_000000000000000000000000', name: 'New' }] }, [400, 'invalid_tag']],
        [{ available_tags: [{ id: tag.Bug, name: 'A' }, { id: tag.Bug, name: 'B' }] }, [400, 'invalid_tag']],
        [{ available_tags: [], require_tag: true }, [400, 'invalid_field']]]) {
        assert.deepEqual(code(await api(`/v1/channels/${forum.id}`, owner, 'PATCH', body)), want, JSON.stringify(body));
      }
      assert.deepEqual(code(await api(`/v1/channels/${general}`, owner, 'PATCH', { available_tags: [] })), [400, 'invalid_field']);
      assert.deepEqual(code(await api(`/v1/channels/${general}`, owner, 'PATCH', { require_tag: false })), [400, 'invalid_field']);
      assert.deepEqual(code(await api(`/v1/channels/${forum.id}`, mod, 'PATCH', { available_tags: [] })), [403, 'missing_permission']);
      assert.deepEqual((await api(`/v1/channels/${forum.id}`, member)).body.available_tags, forum.available_tags);
      // A forum takes no messages: it is no system channel, and no AutoMod alert channel.
      assert.deepEqual(code(await api(base, owner, 'PATCH', { system_channel: forum.id })), [400, 'invalid_field']);
      assert.deepEqual(code(await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'r', trigger: { type: 'keyword', keywords: ['x'] }, alert_channel: forum.id })), [400, 'invalid_rule']);

      // What a channel gives its new threads, and a forum its readers.
      assert.deepEqual([forum.default_auto_archive_minutes, forum.default_sort_order, forum.default_reaction_emoji],
        [1440, 'activity', null]);
      let made = await api(`${base}/channels`, owner, 'POST', { name: 'ideas', type: 'forum', default_auto_archive_minutes: 60,
        default_sort_order: 'created', default_reaction_emoji: '👍' });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual([made.body.default_auto_archive_minutes, made.body.default_sort_order, made.body.default_reaction_emoji],
        [60, 'created', '👍']);
      const ideas = made.body.id;
      let started = await api(`/v1/channels/${ideas}/threads`, member, 'POST', { name: 'a', message: { body: 'x', client_id: 'd1' } });
      assert.equal(started.body.auto_archive_minutes, 60);
      started = await api(`/v1/channels/${ideas}/threads`, member, 'POST',
        { name: 'b', message: { body: 'x', client_id: 'd2' }, auto_archive_minutes: 4320 });
      assert.equal(started.body.auto_archive_minutes, 4320);
      made = await api(`/v1/channels/${ideas}`, owner, 'PATCH', { default_reaction_emoji: null, default_auto_archive_minutes: 10080 });
      assert.deepEqual([made.body.default_reaction_emoji, made.body.default_auto_archive_minutes], [null, 10080]);
      // A text channel's threads take its default too; the order and reaction are a forum's.
      made = await api(`${base}/channels`, owner, 'POST', { name: 'quick', default_auto_archive_minutes: 60 });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal((await api(`/v1/channels/${made.body.id}/threads`, member, 'POST', { name: 'q' })).body.auto_archive_minutes, 60);
      for (const body of [{ default_sort_order: 'created' }, { default_reaction_emoji: '👍' }, { default_auto_archive_minutes: 30 },
        { default_auto_archive_minutes: '60' }, { default_sort_order: 1 }, { default_reaction_emoji: 7 }]) {
        assert.deepEqual(code(await api(`/v1/channels/${general}`, owner, 'PATCH', body)), [400, 'invalid_field'], JSON.stringify(body));
      }
      for (const body of [{ default_sort_order: 'newest' }, { default_reaction_emoji: 'a b' }, { default_reaction_emoji: 'x'.repeat(65) }]) {
        assert.deepEqual(code(await api(`/v1/channels/${ideas}`, owner, 'PATCH', body)), [400, 'invalid_field'], JSON.stringify(body));
      }

      // A change keeps the tags named by id (renamed here), drops the others and adds new ones;
      // the forum's subscribers learn it.
      const sock = c.connect(member);
      await subscribed(sock, forum.id);
      const r = await api(`/v1/channels/${forum.id}`, owner, 'PATCH',
        { available_tags: [{ id: tag.Bug, name: 'Bugs' }, { name: 'Question' }], require_tag: true });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.require_tag, true);
      assert.deepEqual(r.body.available_tags.map((t) => [t.name, t.moderated]), [['Bugs', false], ['Question', false]]);
      assert.equal(r.body.available_tags[0].id, tag.Bug);
      assert.ok(!Object.values(tag).includes(r.body.available_tags[1].id));
      const frame = await sock.waitFor((f) => f.type === 'channel_updated' && f.channel_id === forum.id);
      assert.deepEqual(frame.changes, { available_tags: r.body.available_tags, require_tag: true });
      const entry = (await api(`${base}/audit-log?action=channel_update`, owner)).body.entries[0];
      assert.deepEqual(entry.details.available_tags, r.body.available_tags);
    });

    test('a forum takes posts, each a thread started with its message and carrying tags', async () => {
      const { owner, mod, member, api, base, general, forum, tag, start, postIn } = await community('Posts');
      const sock = c.connect(owner);
      await subscribed(sock, forum.id);

      // No message outside a post, and no typing.
      assert.deepEqual(code(await api(`/v1/channels/${forum.id}/messages`, member, 'POST', { body: 'hi', client_id: 'm1' })),
        [400, 'invalid_channel']);
      sock.send({ type: 'typing', channel_id: forum.id });
      assert.equal((await sock.waitFor((f) => f.type === 'error' && f.channel_id === forum.id)).code, 'invalid_channel');

      // What a post must be; a refused one starts nothing.
      const ok = { body: 'fine', client_id: 'bad' };
      for (const [body, want] of [
        [{ name: 'no message' }, [400, 'invalid_field']],
        [{ name: 'x', message: 'text' }, [400, 'invalid_field']],
        [{ name: 'x', message: ok, private: true }, [400, 'invalid_field']],
        [{ name: 'x', message: ok, seq: 1 }, [400, 'invalid_field']],
        [{ name: 'x', message: { body: '', client_id: 'e' } }, [400, 'invalid_body']],
        [{ name: 'x', message: { body: 'x' } }, [400, 'invalid_client_id']],
        [{ name: 'x', message: { ...ok, reply_to: 1 } }, [400, 'invalid_reply_to']],
        [{ name: 'x', message: ok, applied_tags: ['tg_000000000000000000000000'] }, [400, 'invalid_tag']],
        [{ name: 'x', message: ok, applied_tags: [tag.Bug, tag.Bug] }, [400, 'invalid_tag']],
        [{ name: 'x', message: ok, applied_tags: tag.Bug }, [400, 'invalid_tag']],
        [{ name: 'x', message: ok, applied_tags: [tag.Solved] }, [403, 'missing_permission']],
        [{ name: '', message: ok }, [400, 'invalid_thread_name']]]) {
        assert.deepEqual(code(await start(member, forum.id, body)), want, JSON.stringify(body));
      }
      // Nor does a text channel's thread start with a message or carry tags.
      assert.deepEqual(code(await start(member, general, { name: 'x', message: ok })), [400, 'invalid_field']);
      assert.deepEqual(code(await start(member, general, { name: 'x', applied_tags: [tag.Bug] })), [400, 'invalid_field']);
      assert.deepEqual((await api(`/v1/channels/${forum.id}/threads`, owner)).body.threads, []);
      assert.deepEqual((await api(`/v1/channels/${forum.id}/threads?archived=true`, owner)).body.threads, []);

      // A post: its thread, its first message, its tags; the forum's subscribers see it start.
      let r = await start(member, forum.id, {
        name: 'Crash on start', message: { body: `it crashes @${mod.address}`, client_id: 'crash-1' }, applied_tags: [tag.Bug, tag.Idea] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const { message, ...post } = r.body;
      assert.deepEqual([post.channel_id, post.seq, post.name, post.creator, post.applied_tags, post.last_seq,
        post.message_count, post.joined, post.private],
      [forum.id, null, 'Crash on start', member.address, [tag.Bug, tag.Idea], 1, 1, true, false]);
      assert.deepEqual([message.channel_id, message.seq, message.body, message.author],
        [post.id, 1, `it crashes @${mod.address}`, member.address]);
      const created = await sock.waitFor((f) => f.type === 'thread_created' && f.thread.id === post.id);
      assert.deepEqual(created.thread.applied_tags, [tag.Bug, tag.Idea]);
      const activity = await sock.waitFor((f) => f.type === 'thread_activity' && f.thread.id === post.id);
      assert.equal(activity.thread.last_seq, 1);
      // Its message is a thread's: history, and the mention made a member of the one it names.
      assert.deepEqual((await api(`/v1/channels/${post.id}/messages`, owner)).body.messages.map((m) => m.id), [message.id]);
      await until('the mentioned moderator is notified', async () =>
        (await api('/v1/notifications', mod)).body.notifications.some((x) => x.kind === 'mention'));
      // The retry of a post answers the post it made, and makes no other.
      r = await start(member, forum.id, {
        name: 'Crash on start', message: { body: `it crashes @${mod.address}`, client_id: 'crash-1' }, applied_tags: [tag.Bug, tag.Idea] });
      assert.equal(r.status, 201);
      assert.deepEqual([r.body.id, r.body.message.id, r.body.message_count], [post.id, message.id, 1]);
      // Two sends of one post at once make one post.
      const racing = { name: 'Race', message: { body: 'once', client_id: 'race-1' } };
      const raced = await Promise.all([start(member, forum.id, racing), start(member, forum.id, racing)]);
      assert.deepEqual(raced.map((x) => x.status), [201, 201]);
      assert.equal(raced[0].body.id, raced[1].body.id);
      assert.equal(raced[0].body.message.id, raced[1].body.message.id);
      assert.equal((await api(`/v1/channels/${raced[0].body.id}/messages`, member)).body.messages.length, 1);
      assert.equal((await api(`/v1/threads/${raced[0].body.id}`, mod, 'DELETE')).status, 204);
      // A moderator applies a moderated tag.
      r = await postIn(mod, forum.id, 'Known issues', 'read this first', [tag.Solved]);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const pinned = r.body;
      r = await postIn(owner, forum.id, 'Untagged', 'hello', []);
      assert.equal(r.status, 201);
      const untagged = r.body;

      // The forum lists its posts, by tag too.
      const listed = async (query) => (await api(`/v1/channels/${forum.id}/threads${query}`, member)).body.threads.map((t) => t.id);
      assert.deepEqual(await listed(''), [untagged.id, pinned.id, post.id]);
      assert.deepEqual(await listed(`?tag=${tag.Bug}`), [post.id]);
      assert.deepEqual(await listed(`?tag=${tag.Solved}`), [pinned.id]);
      assert.deepEqual(await listed(`?tag=${tag.Idea}&limit=1`), [post.id]);
      assert.deepEqual(code(await api(`/v1/channels/${forum.id}/threads?tag=a%25b`, member)), [400, 'invalid_tag']);
      // A search of the forum looks into its posts, and nowhere else.
      r = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'it crashes here too', client_id: 'g1' });
      assert.equal(r.status, 201);
      const found = (await api(`${base}/search?q=crashes&channel_id=${forum.id}`, member)).body.messages;
      assert.deepEqual(found.map((m) => [m.channel_id, m.parent_channel_id, m.seq]), [[post.id, forum.id, 1]]);
      const everywhere = (await api(`${base}/search?q=crashes`, member)).body.messages;
      assert.deepEqual(everywhere.map((m) => m.channel_id).sort(), [general, post.id].sort());
      assert.deepEqual((await api(`${base}/search?q=crashes&channel_id=${general}`, member)).body.messages.map((m) => m.channel_id),
        [general]);
      assert.deepEqual(code(await api(`${base}/search?q=crashes&channel_id=ch_elsewhere`, member)), [403, 'forbidden']);
      assert.deepEqual(code(await api(`${base}/search?q=crashes&channel_id=${post.id}`, member)), [403, 'forbidden']);
      // By creation, newest first, whatever the activity since; page by page.
      r = await api(`/v1/channels/${post.id}/messages`, member, 'POST', { body: 'any news?', client_id: 'bump' });
      assert.equal(r.status, 201);
      assert.deepEqual(await listed(''), [post.id, untagged.id, pinned.id]);
      assert.deepEqual(await listed('?sort=activity'), [post.id, untagged.id, pinned.id]);
      assert.deepEqual(await listed('?sort=created'), [untagged.id, pinned.id, post.id]);
      const pages = [];
      for (let cursor = ''; ;) {
        const page = (await api(`/v1/channels/${forum.id}/threads?sort=created&limit=1${cursor}`, member)).body;
        pages.push(...page.threads.map((t) => t.id));
        if (!page.next_cursor) break;
        cursor = `&cursor=${page.next_cursor}`;
      }
      assert.deepEqual(pages, [untagged.id, pinned.id, post.id]);
      assert.deepEqual(code(await api(`/v1/channels/${forum.id}/threads?sort=new`, member)), [400, 'invalid_sort']);
      assert.deepEqual(code(await api(`${base}/threads?tag=${tag.Bug}`, member)), [400, 'invalid_field']);

      // Each post comes with its first message (with the reader's reactions), in one request; one
      // whose first message was deleted shows none.
      assert.equal((await api(`/v1/channels/${post.id}/messages/1/reactions/%F0%9F%91%8D`, member, 'PUT')).status, 204);
      let full = (await api(`/v1/channels/${forum.id}/threads`, member)).body.threads;
      const first = full.find((t) => t.id === post.id).message;
      assert.deepEqual([first.id, first.seq, first.body], [message.id, 1, `it crashes @${mod.address}`]);
      assert.deepEqual(first.reactions.map((x) => [x.emoji, x.count, x.me]), [['👍', 1, true]]);
      assert.equal(full.find((t) => t.id === untagged.id).message.body, 'hello');
      assert.equal((await api(`/v1/channels/${untagged.id}/messages/1`, owner, 'DELETE')).status, 204);
      full = (await api(`/v1/channels/${forum.id}/threads`, member)).body.threads;
      assert.equal(full.find((t) => t.id === untagged.id).message, null);
      assert.equal((await api(`${base}/threads`, member)).body.threads.find((t) => t.id === post.id).message.id, message.id);

      // Its creator changes its tags, not the moderated ones; moderators change any.
      const patch = (who, id, tags) => api(`/v1/threads/${id}`, who, 'PATCH', { applied_tags: tags });
      assert.deepEqual(code(await patch(member, post.id, [tag.Bug, tag.Solved])), [403, 'missing_permission']);
      assert.deepEqual(code(await patch(owner, post.id, [tag.Idea])), [200, undefined]);
      assert.deepEqual(code(await patch(mod, untagged.id, [tag.Idea, tag.Idea])), [400, 'invalid_tag']);
      assert.deepEqual(code(await patch(member, untagged.id, [tag.Idea])), [403, 'missing_permission']);
      r = await patch(mod, post.id, [tag.Solved, tag.Idea]);
      assert.deepEqual(r.body.applied_tags, [tag.Solved, tag.Idea]);
      const changed = await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === post.id &&
        f.thread.applied_tags.length === 2);
      assert.deepEqual(changed.thread.applied_tags, [tag.Solved, tag.Idea]);
      assert.deepEqual(code(await patch(member, post.id, [tag.Idea])), [403, 'missing_permission']);
      assert.deepEqual(code(await patch(member, post.id, [tag.Solved])), [200, undefined]);
      assert.deepEqual((await api(`/v1/threads/${post.id}`, member)).body.applied_tags, [tag.Solved]);
      assert.deepEqual(code(await patch(member, post.id, 'x')), [400, 'invalid_tag']);
      const textThread = (await start(member, general, { name: 'chat' })).body;
      assert.deepEqual(code(await patch(member, textThread.id, [])), [400, 'invalid_field']);

      // A forum that asks for a tag refuses a post or a change without one.
      assert.equal((await api(`/v1/channels/${forum.id}`, owner, 'PATCH', { require_tag: true })).status, 200);
      assert.deepEqual(code(await postIn(member, forum.id, 'no tag', 'body', [])), [400, 'tag_required']);
      assert.deepEqual(code(await patch(owner, pinned.id, [])), [400, 'tag_required']);
      assert.equal((await postIn(member, forum.id, 'tagged', 'body', [tag.Bug])).status, 201);

      // A tag the forum drops leaves its posts.
      r = await api(`/v1/channels/${forum.id}`, owner, 'PATCH', {
        available_tags: forum.available_tags.filter((t) => t.name !== 'Solved') });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await until('the dropped tag leaves its posts', async () =>
        (await api(`/v1/threads/${post.id}`, member)).body.applied_tags.length === 0);
      assert.deepEqual((await api(`/v1/threads/${pinned.id}`, member)).body.applied_tags, []);
      assert.deepEqual(await listed(`?tag=${tag.Solved}`), []);

      // A post is found by its title, through its first message: with the message's words too, in
      // the community's search and the post's own; a rename moves it, an edit keeps it, and the
      // message's deletion drops it. Its other messages are not found by the title.
      const titled = async (q, where = `${base}/search?channel_id=${forum.id}&`) =>
        (await api(`${where}q=${encodeURIComponent(q)}`, member)).body.messages.map((m) => [m.channel_id, m.seq]);
      assert.equal((await api(`/v1/channels/${pinned.id}/messages`, owner, 'POST', { body: 'noted', client_id: 'k2' })).status, 201);
      assert.deepEqual(await titled('known issues'), [[pinned.id, 1]]);
      assert.deepEqual(await titled('known first'), [[pinned.id, 1]]);
      assert.deepEqual(await titled('known noted'), []);
      assert.deepEqual(await titled('issues', `/v1/channels/${pinned.id}/search?`), [[pinned.id, 1]]);
      assert.deepEqual(await titled('chat', `${base}/search?`), []);  // a thread without messages
      assert.equal((await api(`/v1/threads/${pinned.id}`, mod, 'PATCH', { name: 'Start here' })).status, 200);
      assert.deepEqual(await titled('known'), []);
      assert.deepEqual(await titled('start here'), [[pinned.id, 1]]);
      assert.equal((await api(`/v1/channels/${pinned.id}/messages/1`, mod, 'PATCH', { body: 'all the answers' })).status, 200);
      assert.deepEqual(await titled('here answers'), [[pinned.id, 1]]);
      assert.deepEqual(await titled('first'), []);
      assert.equal((await api(`/v1/channels/${pinned.id}/messages/1`, mod, 'DELETE')).status, 204);
      assert.deepEqual(await titled('here'), []);
      // A text channel's thread is found by its name the same way.
      assert.equal((await api(`/v1/channels/${textThread.id}/messages`, member, 'POST', { body: 'hi', client_id: 'c1' })).status, 201);
      assert.deepEqual(await titled('chat', `${base}/search?`), [[textThread.id, 1]]);
    });

    test('a category groups channels, and takes no message, thread or typing', async () => {
      const { owner, member, api, base, general, forum } = await community('Categories');
      const sock = c.connect(member);
      await subscribed(sock, general);
      let r = await api(`${base}/channels`, owner, 'POST', { name: 'Support', type: 'category', position: 5, roles: ['member'] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const cat = r.body;
      assert.deepEqual([cat.type, cat.parent_id, cat.can_post, cat.can_read, cat.topic, cat.position, cat.available_tags],
        ['category', null, false, true, '', 5, []]);
      assert.deepEqual((await api(`/v1/channels/${cat.id}`, member)).body, { ...cat, can_post: false });

      // Channels are made in it, moved into it and out of it; the readers' sockets and the audit log learn it.
      r = await api(`${base}/channels`, owner, 'POST', { name: 'faq', parent_id: cat.id });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const faq = r.body;
      assert.deepEqual([faq.type, faq.parent_id], ['text', cat.id]);
      r = await api(`/v1/channels/${general}`, owner, 'PATCH', { parent_id: cat.id });
      assert.deepEqual([r.status, r.body.parent_id], [200, cat.id]);
      let frame = await sock.waitFor((f) => f.type === 'channel_updated' && f.channel_id === general);
      assert.deepEqual(frame.changes, { parent_id: cat.id });
      assert.deepEqual((await api(`${base}/audit-log?action=channel_update`, owner)).body.entries[0].details, { parent_id: cat.id });
      assert.equal((await api(`/v1/channels/${forum.id}`, owner, 'PATCH', { parent_id: cat.id })).body.parent_id, cat.id);
      const listed = (await api(`${base}/channels`, member)).body.channels;
      assert.deepEqual(Object.fromEntries(listed.map((ch) => [ch.name, ch.parent_id])),
        { general: cat.id, help: cat.id, faq: cat.id, Support: null });
      r = await api(`/v1/channels/${general}`, owner, 'PATCH', { parent_id: null });
      assert.deepEqual([r.status, r.body.parent_id], [200, null]);
      frame = await sock.waitFor((f) => f.type === 'channel_updated' && f.channel_id === general && f.changes.parent_id === null);
      assert.deepEqual(frame.changes, { parent_id: null });
      const created = (await api(`${base}/audit-log?action=channel_create`, owner)).body.entries;
      assert.deepEqual(created.find((e) => e.channel_id === cat.id)?.details?.type, 'category');
      assert.equal(created.find((e) => e.channel_id === faq.id)?.details?.parent_id, cat.id);

      // What a category is not, and what is not a category: refused, nothing changed.
      r = await api(`/v1/communities`, owner, 'POST', { name: 'Elsewhere', slug: `elsewhere-${backend}-${Date.now()}` });
      const away = (await api(`/v1/communities/${r.body.id}/channels`, owner, 'POST', { name: 'Away', type: 'category' })).body.id;
      for (const [body, want] of [
        [{ name: 'x', type: 'category', topic: 'no' }, 'invalid_field'],
        [{ name: 'x', type: 'category', post_roles: ['moderator'] }, 'invalid_field'],
        [{ name: 'x', type: 'category', default_auto_archive_minutes: 60 }, 'invalid_field'],
        [{ name: 'x', type: 'category', default_sort_order: 'created' }, 'invalid_field'],
        [{ name: 'x', type: 'category', available_tags: [{ name: 'a' }] }, 'invalid_field'],
        [{ name: 'x', type: 'category', parent_id: cat.id }, 'invalid_parent'],
        [{ name: 'x', parent_id: general }, 'invalid_parent'],
        [{ name: 'x', parent_id: forum.id }, 'invalid_parent'],
        [{ name: 'x', parent_id: away }, 'invalid_parent'],
        [{ name: 'x', parent_id: 'ch_nothing' }, 'invalid_parent'],
        [{ name: 'x', parent_id: '' }, 'invalid_parent'],
        [{ name: 'x', parent_id: 7 }, 'invalid_parent']]) {
        assert.deepEqual(code(await api(`${base}/channels`, owner, 'POST', body)), [400, want], JSON.stringify(body));
      }
      for (const [body, want] of [[{ slow_mode_seconds: 10 }, 'invalid_field'], [{ topic: 'x' }, 'invalid_field'],
        [{ parent_id: cat.id }, 'invalid_parent'], [{ type: 'text' }, 'invalid_field']]) {
        assert.deepEqual(code(await api(`/v1/channels/${cat.id}`, owner, 'PATCH', body)), [400, want], JSON.stringify(body));
      }
      assert.deepEqual(code(await api(`/v1/channels/${faq.id}`, owner, 'PATCH', { parent_id: faq.id })), [400, 'invalid_parent']);
      assert.deepEqual(code(await api(`/v1/channels/${faq.id}`, member, 'PATCH', { parent_id: null })), [403, 'missing_permission']);
      assert.equal((await api(`/v1/channels/${faq.id}`, owner)).body.parent_id, cat.id);
      assert.deepEqual((await api(`/v1/channels/${cat.id}`, owner)).body, { ...cat, can_post: false });
      assert.equal((await api(`${base}/channels`, owner)).body.channels.filter((ch) => ch.name === 'x').length, 0);
      // It renames, moves and archives as any channel.
      r = await api(`/v1/channels/${cat.id}`, owner, 'PATCH', { name: 'Help desk', position: 1 });
      assert.deepEqual([r.status, r.body.name, r.body.position], [200, 'Help desk', 1]);

      // No message, thread or typing in it; no system channel or alert channel.
      assert.deepEqual(code(await api(`/v1/channels/${cat.id}/messages`, member, 'POST', { body: 'hi', client_id: 'c1' })),
        [400, 'invalid_channel']);
      assert.deepEqual(code(await api(`/v1/channels/${cat.id}/threads`, member, 'POST', { name: 'x' })), [400, 'invalid_channel']);
      await subscribed(sock, cat.id);
      sock.send({ type: 'typing', channel_id: cat.id });
      assert.equal((await sock.waitFor((f) => f.type === 'error' && f.channel_id === cat.id)).code, 'invalid_channel');
      assert.deepEqual((await api(`/v1/channels/${cat.id}/messages`, member)).body.messages, []);
      assert.deepEqual(code(await api(base, owner, 'PATCH', { system_channel: cat.id })), [400, 'invalid_field']);
      r = await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'alerts', trigger: { type: 'keyword', keywords: ['spam'] }, alert_channel: cat.id });
      assert.deepEqual(code(r), [400, 'invalid_rule']);
      // One who does not read the category gets a 403 before anything else.
      const outsider = await c.signIn();
      assert.deepEqual(code(await api(`/v1/channels/${cat.id}/threads`, outsider, 'POST', { name: 'x' })), [403, 'forbidden']);
      sock.close();
    });

    test('a forum counts the posts started since its reader last read it', async () => {
      const { owner, mod, member, api, base, forum, tag, postIn } = await community('Unread');
      const unread = async (who) => {
        const r = await api(`/v1/unread?channel_ids=${forum.id}`, who);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const [u] = r.body.channels;
        return [u.last_seq, u.last_read_seq, u.unread, u.mentions];
      };
      const read = (who, body) => api(`/v1/channels/${forum.id}/read`, who, 'PUT', body);
      assert.deepEqual(await unread(mod), [0, 0, 0, 0]);
      const first = (await postIn(member, forum.id, 'One', 'first words', [tag.Bug])).body;
      await postIn(owner, forum.id, 'Two', 'second words', [tag.Bug]);
      // Each post is numbered; its creator read the forum up to it; the others' posts count.
      assert.deepEqual(await unread(mod), [2, 0, 2, 0]);
      assert.deepEqual(await unread(member), [2, 1, 1, 0]);
      assert.deepEqual(await unread(owner), [2, 2, 0, 0]);
      const listed = (await api('/v1/unread', mod)).body.channels.find((u) => u.channel_id === forum.id);
      assert.deepEqual([listed.last_seq, listed.unread], [2, 2]);
      // Reading the forum reads them; a deleted post no longer counts; marking it unread counts them again.
      let r = await read(mod, { seq: 10 });
      assert.deepEqual([r.status, r.body.last_read_seq], [200, 2]);
      assert.deepEqual(await unread(mod), [2, 2, 0, 0]);
      const third = (await postIn(member, forum.id, 'Three', 'third words', [tag.Bug])).body;
      assert.deepEqual(await unread(mod), [3, 2, 1, 0]);
      assert.equal((await api(`/v1/threads/${third.id}`, mod, 'DELETE')).status, 204);
      assert.deepEqual(await unread(mod), [3, 2, 0, 0]);
      r = await read(mod, { seq: 0, force: true });
      assert.deepEqual([r.status, r.body.last_read_seq], [200, 0]);
      assert.deepEqual(await unread(mod), [3, 0, 2, 0]);
      // Marking the community read reads the forum too.
      r = await api(`${base}/read`, mod, 'PUT');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.channels[forum.id], 3);
      assert.deepEqual(await unread(mod), [3, 3, 0, 0]);
      // The forum still holds no message: its history and its own search are empty; its posts'
      // messages are found in them; a socket resuming it gets nothing but what comes next.
      assert.deepEqual((await api(`/v1/channels/${forum.id}/messages`, mod)).body.messages, []);
      assert.deepEqual((await api(`/v1/channels/${forum.id}/search?q=words`, mod)).body.messages, []);
      const found = (await api(`${base}/search?q=first`, mod)).body.messages;
      assert.deepEqual(found.map((m) => [m.channel_id, m.seq]), [[first.id, 1]]);
      const sock = c.connect(mod);
      assert.equal((await subscribed(sock, forum.id, 0)).type, 'subscribed');
      const fourth = (await postIn(member, forum.id, 'Four', 'fourth', [tag.Bug])).body;
      await sock.waitFor((f) => f.type === 'thread_created' && f.thread.id === fourth.id);
      assert.deepEqual(sock.frames.filter((f) => f.type === 'message' || f.type === 'error'), []);
      assert.deepEqual(await unread(mod), [4, 3, 1, 0]);
      sock.close();
    });

    test('a moderator pins one post of a forum: listed apart, first, and never archived by inactivity', async () => {
      const { owner, mod, member, api, general, forum, tag, postIn, start } = await community('Pins');
      const made = [];
      for (const name of ['Oldest', 'Guidelines', 'Newest']) {
        const r = await postIn(member, forum.id, name, `${name} body`, name === 'Guidelines' ? [] : [tag.Bug],
          { auto_archive_minutes: 60 });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        made.push(r.body);
      }
      const [oldest, rules, newest] = made;
      assert.equal(rules.pinned, false);
      const sock = c.connect(owner);
      await subscribed(sock, forum.id);
      const pin = (who, id, pinned) => api(`/v1/threads/${id}`, who, 'PATCH', { pinned });
      assert.deepEqual(code(await pin(member, rules.id, true)), [403, 'missing_permission']);
      const chat = (await start(member, general, { name: 'chat' })).body;
      assert.deepEqual(code(await pin(mod, chat.id, true)), [400, 'invalid_field']);
      assert.deepEqual(code(await pin(mod, rules.id, 'yes')), [400, 'invalid_field']);
      let r = await pin(mod, rules.id, true);
      assert.deepEqual([r.status, r.body.pinned], [200, true]);
      assert.equal((await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === rules.id)).thread.pinned, true);

      // The first page has it apart; the list itself, and the next pages, do not.
      const page = async (query = '') => (await api(`/v1/channels/${forum.id}/threads${query}`, member)).body;
      let listed = await page();
      assert.equal(listed.pinned.id, rules.id);
      assert.deepEqual(listed.threads.map((t) => t.id), [newest.id, oldest.id]);
      listed = await page('?sort=created&limit=1');
      assert.deepEqual([listed.pinned.id, listed.threads.map((t) => t.id)], [rules.id, [newest.id]]);
      listed = await page(`?sort=created&limit=1&cursor=${listed.next_cursor}`);
      assert.deepEqual([listed.pinned, listed.threads.map((t) => t.id), listed.next_cursor], [null, [oldest.id], null]);
      // Filters hold for it too; the community's list shows it among the others.
      listed = await page(`?tag=${tag.Bug}`);
      assert.deepEqual([listed.pinned, listed.threads.length], [null, 2]);
      assert.equal((await page('?archived=true')).pinned, undefined);
      const all = (await api(`/v1/communities/${forum.community_id}/threads`, member)).body;
      assert.deepEqual([all.pinned, all.threads.map((t) => t.id).sort()],
        [undefined, [oldest.id, rules.id, newest.id, chat.id].sort()]);

      // Two hours without a message: the others archive, the pinned post stays, through the job too.
      for (const t of [oldest, rules]) {
        db.query(`UPDATE msg_threads SET last_ms = last_ms - 7200000 WHERE id = '${t.id}'`);
      }
      assert.equal((await api(`/v1/threads/${oldest.id}`, member)).body.archived, true);
      assert.equal((await api(`/v1/threads/${rules.id}`, member)).body.archived, false);
      const run = runCommand(['jobs', 'run', 'messaging.thread_archive', ...db.flags]);
      assert.equal(run.code, 0, run.stderr);
      await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === oldest.id && f.thread.archived);
      assert.equal((await api(`/v1/threads/${rules.id}`, member)).body.archived, false);
      assert.equal((await page()).pinned.id, rules.id);

      // Pinning another moves the forum's pin; the one before counts its inactivity from then.
      r = await pin(owner, newest.id, true);
      assert.equal(r.status, 200);
      const moved = await sock.waitFor((f) => f.type === 'thread_updated' && f.thread.id === rules.id && !f.thread.pinned);
      assert.equal(moved.thread.archived, false);
      assert.deepEqual((await api(`/v1/threads/${rules.id}`, member)).body.pinned, false);
      listed = await page();
      assert.deepEqual([listed.pinned.id, listed.threads.map((t) => t.id)], [newest.id, [rules.id]]);
      // Pinning an archived post brings it back; unpinning leaves the forum with none.
      r = await pin(mod, oldest.id, true);
      assert.deepEqual([r.body.pinned, r.body.archived], [true, false]);
      assert.equal((await api(`/v1/threads/${newest.id}`, member)).body.pinned, false);
      r = await pin(mod, oldest.id, false);
      assert.deepEqual([r.body.pinned, r.body.archived], [false, false]);
      listed = await page();
      assert.equal(listed.pinned, null);
      assert.equal(listed.threads.length, 3);
    });

    test('a forum\'s slow mode spaces the posts each member starts', async () => {
      const { owner, mod, member, api, forum, tag, postIn, start } = await community('Slow');
      assert.equal((await api(`/v1/channels/${forum.id}`, owner, 'PATCH', { slow_mode_seconds: 600 })).status, 200);
      const first = { name: 'First', message: { body: 'one', client_id: 's1' }, applied_tags: [tag.Bug] };
      let r = await start(member, forum.id, first);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const made = r.body;
      const refused = await c.api(`/v1/channels/${forum.id}/threads`, { method: 'POST', token: member.token,
        body: { name: 'Second', message: { body: 'two', client_id: 's2' } } });
      assert.equal(refused.status, 429);
      assert.equal((await refused.json()).error.code, 'slow_mode');
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait > 0 && wait <= 600, `Retry-After ${wait}`);
      // The retry of the first post is answered; another member and a moderator post freely.
      r = await start(member, forum.id, first);
      assert.deepEqual([r.status, r.body.id], [201, made.id]);
      assert.equal((await postIn(owner, forum.id, 'Owner', 'hi', [])).status, 201);
      assert.equal((await postIn(mod, forum.id, 'Mod', 'hi', [])).status, 201);
      assert.equal((await postIn(mod, forum.id, 'Mod again', 'hi', [])).status, 201);
      assert.equal((await api(`/v1/channels/${forum.id}/threads`, member)).body.threads.length, 4);
    });

    test('following a channel notifies of its every message, and following a forum of its every new post', async () => {
      const { owner, mod, member, api, base, general, forum, tag, postIn } = await community('Follow');
      const id = base.split('/').pop();
      const [reader, lapsed] = await Promise.all(Array.from({ length: 2 }, () => c.signIn()));
      for (const who of [reader, lapsed]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      const staff = (await api(`${base}/channels`, owner, 'POST', { name: 'staff', roles: ['moderator'] })).body.id;
      const barrier = (await api(`${base}/channels`, owner, 'POST', { name: 'barrier' })).body.id;
      let n = 0;
      const post = async (who, channel, body, extra = {}) => {
        const r = await api(`/v1/channels/${channel}/messages`, who, 'POST', { body, client_id: `f${++n}`, ...extra });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body;
      };
      const settings = (who, body) => api('/v1/notification-settings', who, 'PUT', body);
      const center = async (who) => (await api('/v1/notifications?limit=100', who)).body.notifications;
      const everyone = { owner, mod, member, reader, lapsed };
      // Notifications are made in order: once a later mention is listed, the earlier ones were decided.
      const settle = async () => {
        const others = Object.values(everyone).filter((w) => w !== owner);
        const b = await post(owner, barrier, `sync ${others.map((w) => `@${w.address}`).join(' ')}`);
        for (const who of others) {
          await until('the barrier mention', async () => (await center(who)).some((x) => x.data.message_id === b.id));
        }
      };
      const heard = async (m) => Object.fromEntries(await Promise.all(Object.entries(everyone).map(async ([name, who]) =>
        [name, (await center(who)).filter((x) => x.data.message_id === m.id).map((x) => x.kind)])));
      const short = (a) => `${a.slice(0, 6)}…${a.slice(-4)}`;

      // The setting: a list of channel ids, shown as given; what is refused changes nothing.
      let r = await settings(member, { all_messages: [general, forum.id, staff, general] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.all_messages, [general, forum.id, staff]);
      for (const bad of ['general', [''], [7], Array.from({ length: 1001 }, (_, i) => `ch${i}`)]) {
        assert.deepEqual(code(await settings(member, { all_messages: bad })), [400, 'invalid_field']);
      }
      assert.deepEqual((await api('/v1/notification-settings', member)).body.all_messages, [general, forum.id, staff]);
      assert.deepEqual((await api('/v1/notification-settings', reader)).body.all_messages, []);
      for (const who of [mod, lapsed]) assert.equal((await settings(who, { all_messages: [staff, forum.id, general] })).status, 200);
      assert.equal((await settings(owner, { all_messages: [staff] })).status, 200);

      // Each message of a followed channel notifies its followers, never its author.
      const hello = await post(owner, general, 'hello all');
      await settle();
      assert.deepEqual(await heard(hello), { owner: [], mod: ['message'], member: ['message'], reader: [], lapsed: ['message'] });
      const [note] = (await center(member)).filter((x) => x.data.message_id === hello.id);
      assert.deepEqual([note.title, note.body, note.channel_id, note.community_id, note.data.seq, note.read],
        [`${short(owner.address)} in #general`, 'hello all', general, id, String(hello.seq), false]);
      // Named or replied to, a follower hears of it as such, once.
      const ask = await post(member, general, 'a question');
      const named = await post(owner, general, `@${member.address} look`);
      const answer = await post(owner, general, 'the answer', { reply_to: ask.seq });
      await settle();
      assert.deepEqual(await heard(ask), { owner: [], mod: ['message'], member: [], reader: [], lapsed: ['message'] });
      assert.deepEqual(await heard(named), { owner: [], mod: ['message'], member: ['mention'], reader: [], lapsed: ['message'] });
      assert.deepEqual(await heard(answer), { owner: [], mod: ['message'], member: ['reply'], reader: [], lapsed: ['message'] });
      // Only those who read the channel are told: the staff channel's followers who are not staff hear nothing.
      const secret = await post(mod, staff, 'staff only');
      await settle();
      assert.deepEqual(await heard(secret), { owner: ['message'], mod: [], member: [], reader: [], lapsed: [] });
      // A muted channel, or a muted kind, notifies no one; a silent message notifies without a push.
      assert.equal((await settings(member, { muted_channels: [general] })).status, 200);
      assert.equal((await settings(lapsed, { muted_kinds: ['message'] })).status, 200);
      const hushed = await post(owner, general, 'muted', { silent: true });
      await settle();
      assert.deepEqual(await heard(hushed), { owner: [], mod: ['message'], member: [], reader: [], lapsed: [] });
      assert.equal((await center(mod)).find((x) => x.data.message_id === hushed.id).data.silent, true);
      for (const who of [member, lapsed]) assert.equal((await settings(who, { muted_channels: [], muted_kinds: [] })).status, 200);
      // An edit shows the new text; a delete withdraws the notification.
      assert.equal((await api(`/v1/channels/${general}/messages/${hello.seq}`, owner, 'PATCH', { body: 'hello everyone' })).status, 200);
      await until('the edit shown', async () => (await center(member)).find((x) => x.data.message_id === hello.id).body === 'hello everyone');
      assert.equal((await api(`/v1/channels/${general}/messages/${ask.seq}`, member, 'DELETE')).status, 204);
      await until('the notification withdrawn', async () => !(await center(mod)).some((x) => x.data.message_id === ask.id));
      // Reading the channel reads them.
      assert.equal((await api(`/v1/channels/${general}/read`, mod, 'PUT', { seq: hushed.seq })).status, 200);
      await until('the channel\'s notifications read', async () =>
        (await center(mod)).filter((x) => x.channel_id === general).every((x) => x.read));

      // A forum's followers hear of each new post, by its first message, and not of what follows in it.
      r = await postIn(member, forum.id, 'Crash on save', 'steps to reproduce', [tag.Bug]);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const first = r.body.message;
      const reply = await post(owner, r.body.id, 'thanks, looking');
      await settle();
      assert.deepEqual(await heard(first), { owner: [], mod: ['message'], member: [], reader: [], lapsed: ['message'] });
      assert.deepEqual(await heard(reply), { owner: [], mod: [], member: ['thread'], reader: [], lapsed: [] });
      const [news] = (await center(mod)).filter((x) => x.data.message_id === first.id);
      assert.deepEqual([news.title, news.body, news.channel_id, news.data.parent_channel_id, news.data.seq],
        [`${short(member.address)} posted in #help: Crash on save`, 'steps to reproduce', r.body.id, forum.id, '1']);
      // Muting the forum mutes its posts; reading the post reads its notification.
      assert.equal((await settings(lapsed, { muted_channels: [forum.id] })).status, 200);
      const second = (await postIn(owner, forum.id, 'Feature request', 'dark mode', [tag.Idea])).body;
      await settle();
      assert.deepEqual(await heard(second.message), { owner: [], mod: ['message'], member: ['message'], reader: [], lapsed: [] });
      assert.equal((await api(`/v1/channels/${second.id}/read`, mod, 'PUT', { seq: 1 })).status, 200);
      await until('the post\'s notification read', async () =>
        (await center(mod)).find((x) => x.data.message_id === second.message.id).read);

      // Unfollowing stops them.
      assert.equal((await settings(member, { all_messages: [] })).status, 200);
      const later = await post(owner, general, 'later');
      await settle();
      assert.deepEqual(await heard(later), { owner: [], mod: ['message'], member: [], reader: [], lapsed: ['message'] });

      // Following the community follows each channel it reads there, forums' new posts included;
      // a muted channel stays quiet.
      assert.equal((await settings(reader, { all_messages: [id] })).status, 200);
      const everywhere = await post(owner, general, 'to all');
      const hidden = await post(mod, staff, 'staff again');
      const third = (await postIn(member, forum.id, 'Question', 'how do I', [tag.Idea])).body;
      await settle();
      assert.deepEqual(await heard(everywhere), { owner: [], mod: ['message'], member: [], reader: ['message'], lapsed: ['message'] });
      assert.deepEqual(await heard(hidden), { owner: ['message'], mod: [], member: [], reader: [], lapsed: [] });
      assert.deepEqual(await heard(third.message), { owner: [], mod: ['message'], member: [], reader: ['message'], lapsed: [] });
      assert.equal((await settings(reader, { muted_channels: [general] })).status, 200);
      const muted = await post(owner, general, 'not for the reader');
      await settle();
      assert.deepEqual(await heard(muted), { owner: [], mod: ['message'], member: [], reader: [], lapsed: ['message'] });
    });

    test('a post whose message AutoMod refuses leaves no post behind', async () => {
      const { owner, member, api, base, general, forum, tag, postIn, start } = await community('Screened');
      const offtopic = (await api(`${base}/channels`, owner, 'POST', { name: 'offtopic' })).body.id;
      let r = await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'no scams', trigger: { type: 'keyword', keywords: ['scam'] }, exempt_channels: [offtopic] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const sock = c.connect(owner);
      await subscribed(sock, forum.id);
      assert.deepEqual(code(await postIn(member, forum.id, 'Deal', 'free scam', [tag.Bug])), [403, 'automod_blocked']);
      assert.deepEqual(code(await postIn(member, forum.id, 'a scam', 'hello', [tag.Bug])), [403, 'automod_blocked']);
      // A forward brings its text in: refused when the post's message is posted, its thread withdrawn.
      r = await api(`/v1/channels/${offtopic}/messages`, member, 'POST', { body: 'a scam here', client_id: 'o1' });
      assert.equal(r.status, 201);
      r = await start(member, forum.id, { name: 'Look', message: { body: 'look', client_id: 'f1', forward: { channel_id: offtopic, seq: r.body.seq } } });
      assert.deepEqual(code(r), [403, 'automod_blocked']);
      const made = await sock.waitFor((f) => f.type === 'thread_created');
      const gone = await sock.waitFor((f) => f.type === 'thread_deleted');
      assert.equal(gone.thread_id, made.thread.id);
      assert.deepEqual(code(await api(`/v1/threads/${made.thread.id}`, member)), [404, 'thread_not_found']);
      for (const q of ['', '?archived=true']) {
        assert.deepEqual((await api(`/v1/channels/${forum.id}/threads${q}`, owner)).body.threads, []);
      }
      // No one deleted it: the audit log has no thread_delete.
      assert.deepEqual((await api(`${base}/audit-log?action=thread_delete`, owner)).body.entries, []);
      // A withdrawn post's client_id is free again.
      r = await start(member, forum.id, { name: 'Look', message: { body: 'look again', client_id: 'f1' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.notEqual(r.body.id, made.thread.id);
      // The retry of a post a moderator deleted since finds it no more, and makes none.
      assert.equal((await api(`/v1/threads/${r.body.id}`, owner, 'DELETE')).status, 204);
      assert.deepEqual(code(await start(member, forum.id, { name: 'Look', message: { body: 'look again', client_id: 'f1' } })),
        [404, 'thread_not_found']);
      // Community writes its audit entry when it consumes the deletion's event: after the 204.
      // Events are consumed in order, so an entry for the withdrawn post would be there first.
      const deletions = await until('the deletion in the audit log', async () => {
        const entries = (await api(`${base}/audit-log?action=thread_delete`, owner)).body.entries;
        return entries.length > 0 && entries;
      });
      assert.equal(deletions.length, 1);
      assert.deepEqual((await api(`/v1/channels/${forum.id}/threads`, owner)).body.threads, []);
      // The blocks are in the audit log as a message's.
      const blocks = (await api(`${base}/audit-log?action=automod_block`, owner)).body.entries;
      assert.equal(blocks.length, 3);
      assert.ok((await api(`/v1/channels/${general}`, member)).status === 200);
    });
  });
}
