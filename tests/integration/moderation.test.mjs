// Moderation tools through the real binary, on SQLite and PostgreSQL.
// AutoMod: community managers set rules (keyword
// with wildcards and an allow list, mention spam, links outside allowed domains); a member's post,
// poll or edit that triggers one is refused with 403 automod_blocked and nothing is stored; the
// block is in the audit log and the outbox, and a rule's timeout takes effect at once. Exempt
// roles, exempt channels and managers pass; a changed rule applies from the next message.
// Reports: members report messages to the moderators of their channel, who see a queue of the
// channels they moderate and resolve, dismiss or reopen reports; the text reported is kept.
// System messages: an AutoMod rule's alert channel gets each block with the text refused; a
// community's system channel welcomes each new member once.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freshDatabase, backends, until } from './lib/harness.mjs';
import { chatFlags, client, subscribed } from './lib/chat.mjs';

for (const backend of backends()) {
  describe(`moderation (${backend})`, () => {
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

    // A community with an owner, a moderator, a member and a `vip` member, and two channels.
    async function community(name) {
      const [owner, mod, member, vip] = await Promise.all(Array.from({ length: 4 }, () => c.signIn()));
      const api = (path, who, method = 'GET', body) => c.api(path, { method, token: who.token, body });
      let r = await api('/v1/communities', owner, 'POST', { name, slug: `${name.toLowerCase()}-${backend}-${Date.now()}` });
      assert.equal(r.status, 201, await r.clone().text());
      const id = (await r.json()).id;
      const base = `/v1/communities/${id}`;
      for (const who of [mod, member, vip]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      assert.ok((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'PUT')).status < 300);
      assert.equal((await api(`${base}/roles`, owner, 'POST', { name: 'vip', permissions: [] })).status, 201);
      assert.ok((await api(`${base}/members/${vip.address}/roles/vip`, owner, 'PUT')).status < 300);
      const general = (await (await api(`${base}/channels`, owner, 'POST', { name: 'general' })).json()).id;
      const memes = (await (await api(`${base}/channels`, owner, 'POST', { name: 'memes' })).json()).id;
      return { owner, mod, member, vip, api, id, base, general, memes };
    }

    test('managers set rules; a post, poll or edit that triggers one is refused, stored nowhere and audited', async () => {
      const { owner, mod, member, vip, api, id, base, general, memes } = await community('Guarded');
      const rules = `${base}/automod/rules`;
      const scams = { name: 'scams', trigger: { type: 'keyword', keywords: ['FREE mint', '*airdrop*', 'scam', 'claim*'], allow: ['scampi'] },
        block_message: 'No scams here.', exempt_roles: ['vip'], exempt_channels: [memes] };

      // Only those who manage the community see and change rules.
      for (const who of [mod, member]) {
        let r = await api(rules, who, 'POST', scams);
        assert.equal(r.status, 403);
        assert.equal((await r.json()).error.code, 'missing_permission');
        assert.equal((await api(rules, who)).status, 403);
      }
      // Bad rules are refused with what is wrong, and change nothing.
      const bad = [
        { trigger: { type: 'links' } },
        { name: 'x' },
        { name: 'x', trigger: { type: 'regex', patterns: ['.*'] } },
        { name: 'x', trigger: { type: 'keyword', keywords: [] } },
        { name: 'x', trigger: { type: 'keyword', keywords: ['a*b'] } },
        { name: 'x', trigger: { type: 'keyword', keywords: ['x'.repeat(61)] } },
        { name: 'x', trigger: { type: 'keyword', keywords: Array.from({ length: 1001 }, (_, i) => `k${i}`) } },
        { name: 'x', trigger: { type: 'keyword', keywords: ['a'], limit: 2 } },
        { name: 'x', trigger: { type: 'mention_spam', limit: 0 } },
        { name: 'x', trigger: { type: 'links', allow_domains: ['not a domain'] } },
        { name: 'x', trigger: { type: 'links' }, timeout_seconds: 2419201 },
        { name: 'x', trigger: { type: 'links' }, exempt_roles: ['nobody'] },
        { name: 'x', trigger: { type: 'links' }, exempt_channels: ['ch_missing'] },
        { name: 'x', trigger: { type: 'links' }, colour: 'red' },
        { name: 'x', trigger: { type: 'links' }, alert_channel: 'ch_missing' },
        { name: 'x', trigger: { type: 'links' }, alert_channel: 7 },
      ];
      for (const body of bad) {
        const r = await api(rules, owner, 'POST', body);
        assert.equal(r.status, 400, JSON.stringify(body).slice(0, 200));
        assert.equal((await r.json()).error.code, 'invalid_rule');
      }
      assert.deepEqual((await (await api(rules, owner)).json()).rules, []);

      let r = await api(rules, owner, 'POST', scams);
      assert.equal(r.status, 201, await r.clone().text());
      const rule = await r.json();
      assert.match(rule.id, /^am_[0-9a-f]{24}$/);
      assert.deepEqual({ ...rule, id: undefined, created_at: undefined, updated_at: undefined }, {
        id: undefined, created_at: undefined, updated_at: undefined,
        name: 'scams', enabled: true,
        trigger: { type: 'keyword', keywords: ['free mint', '*airdrop*', 'scam', 'claim*'], regex: [], allow: ['scampi'] },
        block_message: 'No scams here.', timeout_seconds: 0, exempt_roles: ['vip'], exempt_channels: [memes],
        alert_channel: null, created_by: owner.address });
      assert.ok(Date.parse(rule.created_at) > 0);

      // A message with a keyword is refused; nothing is stored, nothing goes out.
      const sock = c.connect(owner);
      await subscribed(sock, general);
      const send = (who, channel, body, extra = {}) => api(`/v1/channels/${channel}/messages`, who, 'POST',
        { body, client_id: `am-${Math.random()}`, ...extra });
      const refused = async (res, ruleId = rule.id) => {
        assert.equal(res.status, 403, await res.clone().text());
        const { error } = await res.json();
        assert.equal(error.code, 'automod_blocked');
        assert.equal(error.rule_id, ruleId);
        return error;
      };
      const blockedBodies = ['Get your FREE   mint now', 'big AIRDROPS today', 'this is a scam!', 'sc\u200Bam', 'claiming'];
      for (const body of blockedBodies) {
        const error = await refused(await send(member, general, body));
        assert.equal(error.message, 'No scams here.');
        assert.equal(error.rule_name, 'scams');
      }
      // A poll's question and answers are screened too.
      await refused(await send(member, general, '', { poll: { question: 'Free mint?', answers: ['yes', 'no'] } }));
      await refused(await send(member, general, 'vote', { poll: { question: 'Which?', answers: ['an airdrop', 'nothing'] } }));
      // Words the keywords do not match as whole words, and the allow list, pass.
      const passing = ['scampi for dinner', 'a scammer', 'freemint', 'reclaim it'];
      for (const body of passing) assert.equal((await send(member, general, body)).status, 201, body);
      // An exempt channel, an exempt role and a manager post anything.
      assert.equal((await send(member, memes, 'free mint')).status, 201);
      assert.equal((await send(vip, general, 'free mint')).status, 201);
      assert.equal((await send(owner, general, 'free mint')).status, 201);
      const history = (await (await api(`/v1/channels/${general}/messages?limit=100`, owner)).json()).messages;
      assert.deepEqual(history.map((m) => m.body).reverse(), [...passing, 'free mint', 'free mint']);
      await sock.waitFor((f) => f.type === 'message' && f.seq === history[0].seq);
      assert.deepEqual(sock.messages(general).map((m) => m.body), [...passing, 'free mint', 'free mint']);

      // Edits are screened: the message keeps its text.
      const mine = history.find((m) => m.body === 'freemint' && m.author === member.address);
      await refused(await api(`/v1/channels/${general}/messages/${mine.seq}`, member, 'PATCH', { body: 'an airdrop for all' }));
      assert.equal((await (await api(`/v1/channels/${general}/messages/${mine.seq}`, member)).json()).body, 'freemint');
      assert.equal((await api(`/v1/channels/${general}/messages/${mine.seq}`, member, 'PATCH', { body: 'fresh mint' })).status, 200);
      // An edit that could not happen anyway is refused as such, and no block is recorded for it.
      const owners = history.find((m) => m.author === owner.address);
      r = await api(`/v1/channels/${general}/messages/${owners.seq}`, member, 'PATCH', { body: 'an airdrop for all' });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'not_author');
      r = await api(`/v1/channels/${general}/messages/99999`, member, 'PATCH', { body: 'an airdrop for all' });
      assert.equal(r.status, 404);
      assert.equal((await r.json()).error.code, 'message_not_found');

      // Every block is in the audit log, by the member, with the rule and what matched; and an event.
      r = await api(`${base}/audit-log?action=automod_block&limit=100`, mod);
      assert.equal(r.status, 200);
      const blocks = (await r.json()).entries;
      assert.equal(blocks.length, blockedBodies.length + 3);
      assert.ok(blocks.every((e) => e.actor === member.address && e.channel_id === general && e.details.rule_id === rule.id &&
        e.details.rule_name === 'scams' && e.details.trigger === 'keyword'));
      assert.deepEqual(blocks.map((e) => e.details.matched).reverse(),
        ['free mint', '*airdrop*', 'scam', 'scam', 'claim*', 'free mint', '*airdrop*', '*airdrop*']);
      const created = (await (await api(`${base}/audit-log?action=automod_rule_create`, mod)).json()).entries;
      assert.equal(created.length, 1);
      assert.equal(created[0].actor, owner.address);
      assert.equal(created[0].details.rule_id, rule.id);
      const events = (await outbox('community.automod_blocked')).filter((e) => e.payload.community_id === id);
      assert.equal(events.length, blocks.length);
      assert.ok(events.every((e) => e.payload.account === member.address && e.payload.rule_id === rule.id));

      // A change applies from the next message: disabled, the rule lets everything through; a new
      // keyword is matched at once.
      r = await api(`${rules}/${rule.id}`, owner, 'PATCH', { enabled: false });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).enabled, false);
      assert.equal((await send(member, general, 'free mint')).status, 201);
      r = await api(`${rules}/${rule.id}`, owner, 'PATCH', { enabled: true, trigger: { type: 'keyword', keywords: ['rugpull'] } });
      const changed = await r.json();
      assert.deepEqual(changed.trigger, { type: 'keyword', keywords: ['rugpull'], regex: [], allow: [] });
      assert.equal(changed.name, 'scams');
      assert.deepEqual(changed.exempt_roles, ['vip']);
      assert.equal((await send(member, general, 'free mint')).status, 201);
      await refused(await send(member, general, 'RugPull incoming'));
      for (const body of [{ enabled: 'yes' }, { trigger: { type: 'keyword', keywords: ['*'] } }, { name: '' }]) {
        r = await api(`${rules}/${rule.id}`, owner, 'PATCH', body);
        assert.equal(r.status, 400, JSON.stringify(body));
      }
      assert.equal((await api(`${rules}/${rule.id}`, mod, 'PATCH', { enabled: false })).status, 403);
      r = await api(`${rules}/am_000000000000000000000000`, owner, 'PATCH', { enabled: false });
      assert.equal(r.status, 404);
      assert.equal((await r.json()).error.code, 'rule_not_found');
      const updated = (await (await api(`${base}/audit-log?action=automod_rule_update`, owner)).json()).entries;
      assert.equal(updated.length, 2);
      assert.deepEqual(updated[0].details.rule.trigger.keywords, ['rugpull']);

      // Deleted, it is gone at once (and a second delete finds nothing).
      assert.equal((await api(`${rules}/${rule.id}`, mod, 'DELETE')).status, 403);
      assert.equal((await api(`${rules}/${rule.id}`, owner, 'DELETE')).status, 204);
      assert.equal((await api(`${rules}/${rule.id}`, owner, 'DELETE')).status, 404);
      assert.equal((await send(member, general, 'rugpull')).status, 201);
      assert.deepEqual((await (await api(rules, owner)).json()).rules, []);
      assert.equal((await (await api(`${base}/audit-log?action=automod_rule_delete`, owner)).json()).entries[0].details.name, 'scams');
      sock.close();
    });

    test('a rule with an alert channel posts each block there for the moderators, live and in history', async () => {
      const { owner, mod, member, api, base, general, memes } = await community('Alerted');
      const other = await community('Elsewhere');
      const rules = `${base}/automod/rules`;
      // The alert channel is one of the community's.
      let r = await api(rules, owner, 'POST', { name: 'x', trigger: { type: 'links' }, alert_channel: other.general });
      assert.equal(r.status, 400);
      assert.equal((await r.json()).error.code, 'invalid_rule');
      r = await api(rules, owner, 'POST', { name: 'scams', trigger: { type: 'keyword', keywords: ['scam'] },
        timeout_seconds: 60, alert_channel: memes });
      assert.equal(r.status, 201, await r.clone().text());
      const rule = await r.json();
      assert.equal(rule.alert_channel, memes);

      const sock = c.connect(mod);
      await subscribed(sock, memes);
      const zero = '0x0000000000000000000000000000000000000000';
      const body = 'this is a scam, send 1 ETH to 0xdead';
      r = await api(`/v1/channels/${general}/messages`, member, 'POST', { body, client_id: 'alert-1' });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'automod_blocked');
      const alert = await sock.waitFor((f) => f.type === 'message' && f.channel_id === memes && f.system);
      assert.equal(alert.author, zero);
      assert.equal(alert.body, '');
      const until = alert.system.timed_out_until;
      assert.ok(Date.parse(until) > Date.now(), until);
      assert.deepEqual(alert.system, { kind: 'automod_alert', rule_id: rule.id, rule_name: 'scams', trigger: 'keyword',
        matched: 'scam', account: member.address, channel_id: general, content: body, timed_out_until: until });
      // The refused text went nowhere else: the channel it was sent to holds nothing.
      assert.deepEqual((await (await api(`/v1/channels/${general}/messages`, owner)).json()).messages, []);

      // An edit refused is alerted with the text it would have written; without a timeout the
      // alert carries none.
      assert.equal((await api(`${rules}/${rule.id}`, owner, 'PATCH', { timeout_seconds: 0 })).status, 200);
      assert.equal((await api(`${base}/members/${member.address}/timeout`, owner, 'DELETE')).status, 204);
      r = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'hello', client_id: 'alert-2' });
      assert.equal(r.status, 201, await r.clone().text());
      const hello = await r.json();
      r = await api(`/v1/channels/${general}/messages/${hello.seq}`, member, 'PATCH', { body: 'a scam after all' });
      assert.equal(r.status, 403);
      const edited = await sock.waitFor((f) => f.type === 'message' && f.channel_id === memes && f.seq > alert.seq && f.system);
      assert.equal(edited.system.content, 'a scam after all');
      assert.equal(edited.system.timed_out_until, undefined);

      // History holds both; the member cannot edit them, a moderator deletes one and its content goes.
      const history = (await (await api(`/v1/channels/${memes}/messages`, mod)).json()).messages;
      assert.deepEqual(history.map((m) => [m.seq, m.system.kind, m.system.content]),
        [[edited.seq, 'automod_alert', 'a scam after all'], [alert.seq, 'automod_alert', body]]);
      r = await api(`/v1/channels/${memes}/messages/${alert.seq}`, member, 'PATCH', { body: 'nothing happened' });
      assert.equal((await r.json()).error.code, 'not_author');
      assert.equal((await api(`/v1/channels/${memes}/messages/${alert.seq}`, member, 'DELETE')).status, 403);
      assert.equal((await api(`/v1/channels/${memes}/messages/${alert.seq}`, mod, 'DELETE')).status, 204);
      const gone = await (await api(`/v1/channels/${memes}/messages/${alert.seq}`, mod)).json();
      assert.deepEqual([gone.deleted, gone.body, gone.system], [true, '', { kind: 'automod_alert' }]);

      // A forward brings its text under the rules of the channel it goes to.
      assert.equal((await api(`${rules}/${rule.id}`, owner, 'PATCH', { exempt_channels: [memes] })).status, 200);
      const sample = await (await api(`/v1/channels/${memes}/messages`, member, 'POST', { body: 'a scam sample', client_id: 'sample' })).json();
      r = await api(`/v1/channels/${general}/messages`, member, 'POST', { client_id: 'fwd', forward: { channel_id: memes, seq: sample.seq } });
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'automod_blocked');
      const forwarded = await sock.waitFor((f) => f.type === 'message' && f.channel_id === memes && f.seq > sample.seq && f.system);
      assert.equal(forwarded.system.content, 'a scam sample');
      assert.equal((await api(`${rules}/${rule.id}`, owner, 'PATCH', { exempt_channels: [] })).status, 200);

      // Without an alert channel a block posts nothing: the next message there is the owner's.
      r = await api(`${rules}/${rule.id}`, owner, 'PATCH', { alert_channel: null });
      assert.equal((await r.json()).alert_channel, null);
      assert.equal((await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'scam', client_id: 'alert-3' })).status, 403);
      r = await api(`/v1/channels/${memes}/messages`, owner, 'POST', { body: 'noted', client_id: 'alert-4' });
      const noted = await r.json();
      await sock.waitFor((f) => f.type === 'message' && f.seq === noted.seq);
      assert.equal(noted.seq, forwarded.seq + 1);
      sock.close();
    });

    test('a community\'s system channel welcomes each new member once', async () => {
      const { owner, mod, member, api, base, general, memes } = await community('Welcoming');
      const other = await community('Elsewhere');
      for (const [value, status] of [['ch_missing', 400], [other.general, 400], [5, 400], ['', 400]]) {
        const r = await api(base, owner, 'PATCH', { system_channel: value });
        assert.equal(r.status, status, JSON.stringify(value));
        assert.equal((await r.json()).error.code, 'invalid_field');
      }
      assert.equal((await api(base, mod, 'PATCH', { system_channel: general })).status, 403);
      let r = await api(base, owner, 'PATCH', { system_channel: general });
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal((await r.json()).system_channel, general);
      assert.equal((await (await api(base, member)).json()).system_channel, general);
      const [entry] = (await (await api(`${base}/audit-log?action=community_update`, owner)).json()).entries;
      assert.deepEqual(entry.details, { system_channel: general });

      const sock = c.connect(mod);
      await subscribed(sock, general);
      await subscribed(sock, memes);
      const zero = '0x0000000000000000000000000000000000000000';
      const [newcomer, late, last] = await Promise.all([c.signIn(), c.signIn(), c.signIn()]);
      assert.equal((await api(`${base}/join`, newcomer, 'POST')).status, 200);
      const welcome = await sock.waitFor((f) => f.type === 'message' && f.system?.kind === 'member_joined');
      assert.equal(welcome.author, zero);
      assert.deepEqual(welcome.system, { kind: 'member_joined', account: newcomer.address });
      // The newcomer may greet back: a reply to a system message notifies no one.
      r = await api(`/v1/channels/${general}/messages`, newcomer, 'POST', { body: 'gm', client_id: 'gm', reply_to: welcome.seq });
      assert.equal(r.status, 201, await r.clone().text());

      // Leaving and joining again is not welcomed twice; without a system channel no one is.
      assert.equal((await api(`${base}/leave`, newcomer, 'POST')).status, 204);
      assert.equal((await api(`${base}/join`, newcomer, 'POST')).status, 200);
      r = await api(base, owner, 'PATCH', { system_channel: null });
      assert.equal((await r.json()).system_channel, null);
      assert.equal((await api(`${base}/join`, late, 'POST')).status, 200);
      // Joins are welcomed in order: once the next system channel welcomes a later join, those
      // two joins were passed by.
      assert.equal((await api(base, owner, 'PATCH', { system_channel: memes })).status, 200);
      assert.equal((await api(`${base}/join`, last, 'POST')).status, 200);
      const next = await sock.waitFor((f) => f.type === 'message' && f.channel_id === memes && f.system);
      assert.deepEqual(next.system, { kind: 'member_joined', account: last.address });
      const history = (await (await api(`/v1/channels/${general}/messages?after_seq=0`, owner)).json()).messages;
      assert.deepEqual(history.map((m) => m.system?.kind ?? m.body), ['member_joined', 'gm']);
      // An archived system channel welcomes no one; unarchived, it does again.
      const [unseen, seen] = await Promise.all([c.signIn(), c.signIn()]);
      assert.equal((await api(`/v1/channels/${memes}`, owner, 'PATCH', { archived: true })).status, 200);
      assert.equal((await api(`${base}/join`, unseen, 'POST')).status, 200);
      assert.equal((await api(`/v1/channels/${memes}`, owner, 'PATCH', { archived: false })).status, 200);
      assert.equal((await api(`${base}/join`, seen, 'POST')).status, 200);
      await sock.waitFor((f) => f.type === 'message' && f.channel_id === memes && f.system?.account === seen.address);
      const welcomed = (await (await api(`/v1/channels/${memes}/messages?after_seq=0`, owner)).json()).messages;
      assert.deepEqual(welcomed.map((m) => m.system.account), [last.address, seen.address]);
      assert.equal((await outbox('messaging.reply')).filter((e) => e.payload.channel_id === general).length, 0);
      sock.close();
    });

    test('a custom role changes its permissions, open sockets follow, and it is deleted once nothing names it', async () => {
      const { owner, mod, vip, api, base, general } = await community('Roles');
      const roles = `${base}/roles`;
      const staff = (await (await api(`${base}/channels`, owner, 'POST', { name: 'staff', roles: ['moderator'] })).json()).id;
      const code = async (res) => [res.status, (await res.json()).error.code];
      // Who changes which role, and how.
      assert.deepEqual(await code(await api(`${roles}/vip`, mod, 'PATCH', { permissions: [] })), [403, 'missing_permission']);
      assert.deepEqual(await code(await api(`${roles}/moderator`, owner, 'PATCH', { permissions: [] })), [400, 'invalid_role']);
      assert.deepEqual(await code(await api(`${roles}/nobody`, owner, 'PATCH', { permissions: [] })), [404, 'role_not_found']);
      assert.deepEqual(await code(await api(`${roles}/vip`, owner, 'PATCH', { builtin: true })), [400, 'invalid_field']);
      assert.deepEqual(await code(await api(`${roles}/vip`, owner, 'PATCH', { permissions: ['fly'] })), [400, 'invalid_permission']);
      // A moderator given manage_roles changes custom roles, but gives only what it holds.
      assert.equal((await api(roles, owner, 'POST', { name: 'keepers', permissions: ['manage_roles'] })).status, 201);
      assert.ok((await api(`${base}/members/${mod.address}/roles/keepers`, owner, 'PUT')).status < 300);
      assert.deepEqual(await code(await api(`${roles}/vip`, mod, 'PATCH', { permissions: ['manage_channels'] })), [403, 'missing_permission']);
      let r = await api(`${roles}/vip`, mod, 'PATCH', { permissions: ['pin_messages'] });
      assert.equal(r.status, 200, await r.clone().text());
      assert.deepEqual(await r.json(),
        { name: 'vip', builtin: false, rank: 20, permissions: ['pin_messages'], gate: null, mentionable: true, color: 0, hoist: false,
        member_count: 1 });

      // Given manage_channels, vip reads the staff channel; taken away, its open socket loses it at once.
      r = await api(`${roles}/vip`, owner, 'PATCH', { permissions: ['manage_channels'] });
      assert.equal(r.status, 200);
      const sock = c.connect(vip);
      await subscribed(sock, staff);
      await subscribed(sock, general);
      assert.equal((await api(`${roles}/vip`, owner, 'PATCH', { permissions: [] })).status, 200);
      const lost = await sock.waitFor((f) => f.type === 'membership' && f.status === 'removed');
      assert.deepEqual(lost.channel_ids, [staff]);
      assert.equal((await api(`/v1/channels/${staff}/messages`, vip)).status, 403);
      assert.equal((await api(`/v1/channels/${general}/messages`, vip)).status, 200);
      const [update] = (await (await api(`${base}/audit-log?action=role_update`, owner)).json()).entries;
      assert.deepEqual(update.details, { role: 'vip', permissions: [] });

      // Not deleted while a channel or an AutoMod rule names it; then deleted with every holding.
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { post_roles: ['vip'] })).status, 200);
      const rule = await (await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'x', trigger: { type: 'links' }, exempt_roles: ['vip'] })).json();
      r = await api(`${roles}/vip`, owner, 'DELETE');
      assert.deepEqual(await code(r.clone()), [409, 'role_in_use']);
      assert.match((await r.json()).error.message, new RegExp(`channel ${general}.*AutoMod rule ${rule.id}`));
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { post_roles: [] })).status, 200);
      assert.equal((await api(`${base}/automod/rules/${rule.id}`, owner, 'PATCH', { exempt_roles: [] })).status, 200);
      assert.equal((await api(`${roles}/vip`, mod, 'DELETE')).status, 204);
      assert.equal((await api(`${roles}/vip`, owner, 'DELETE')).status, 404);
      const names = (await (await api(roles, owner)).json()).roles.map((x) => x.name);
      assert.ok(!names.includes('vip') && names.includes('keepers'), names.join());
      const members = (await (await api(`${base}/members`, owner)).json()).members;
      assert.deepEqual(members.find((m) => m.address === vip.address).roles, ['member']);
      assert.equal((await (await api(`${base}/audit-log?action=role_delete`, owner)).json()).entries[0].details.role, 'vip');
      sock.close();
    });

    test('roles rank in a hierarchy, are renamed wherever they are named, and may be closed to mentions', async () => {
      const { owner, mod, member, vip, api, id, base, general } = await community('Hierarchy');
      const roles = `${base}/roles`;
      const code = async (res) => [res.status, (await res.json()).error.code];
      const sock = c.connect(member);
      await subscribed(sock, general);
      const frame = (pred) => sock.waitFor((f) => f.type === 'role_updated' && pred(f));

      // Placed above the moderators, with a colour, closed to mentions.
      let r = await api(roles, owner, 'POST',
        { name: 'senior', permissions: ['kick_members'], rank: 60, color: 0x3498db, mentionable: false, hoist: true });
      assert.equal(r.status, 201, await r.clone().text());
      assert.deepEqual(await r.json(), { name: 'senior', builtin: false, rank: 60, permissions: ['kick_members'], gate: null,
        mentionable: false, color: 0x3498db, hoist: true, member_count: 0 });
      const created = await frame((f) => f.role === 'senior');
      assert.deepEqual([created.community_id, created.change, created.rank, created.permissions, created.mentionable, created.color,
        created.hoist], [id, 'created', 60, ['kick_members'], false, 0x3498db, true]);
      for (const bad of [{ rank: 80 }, { rank: 0 }, { rank: 2.5 }, { rank: '60' }, { color: -1 }, { color: 0x1000000 },
        { mentionable: 'no' }, { hoist: 1 }]) {
        assert.deepEqual(await code(await api(roles, owner, 'POST', { name: 'bad', permissions: [], ...bad })),
          [400, 'invalid_field'], JSON.stringify(bad));
      }
      assert.ok((await api(`${base}/members/${vip.address}/roles/senior`, owner, 'PUT')).status < 300);
      const timeout = async (who, target) => {
        const res = await api(`${base}/members/${target.address}/timeout`, who, 'PUT', { seconds: 60 });
        if (res.status === 200) assert.equal((await api(`${base}/members/${target.address}/timeout`, owner, 'DELETE')).status, 204);
        return res.status === 200 ? 'ok' : (await res.json()).error.code;
      };
      assert.equal(await timeout(vip, mod), 'ok');
      assert.equal(await timeout(mod, vip), 'outranked');
      const ranks = (await (await api(roles, member)).json()).roles.map((x) => [x.name, x.rank, x.member_count]);
      assert.deepEqual(ranks, [['owner', 100, 1], ['admin', 80, 0], ['senior', 60, 1], ['moderator', 50, 1], ['vip', 20, 1],
        ['member', 0, 4]]);

      // A moderator with manage_roles places roles below itself only.
      assert.equal((await api(roles, owner, 'POST', { name: 'keepers', permissions: ['manage_roles'] })).status, 201);
      assert.ok((await api(`${base}/members/${mod.address}/roles/keepers`, owner, 'PUT')).status < 300);
      assert.deepEqual(await code(await api(roles, mod, 'POST', { name: 'peers', permissions: [], rank: 50 })), [403, 'outranked']);
      assert.equal((await api(roles, mod, 'POST', { name: 'helpers', permissions: [], rank: 49 })).status, 201);
      assert.deepEqual(await code(await api(`${roles}/helpers`, mod, 'PATCH', { rank: 55 })), [403, 'outranked']);
      assert.deepEqual(await code(await api(`${roles}/senior`, mod, 'PATCH', { rank: 10 })), [403, 'outranked']);
      // Lowered below the moderators, the order turns.
      assert.equal((await api(`${roles}/senior`, owner, 'PATCH', { rank: 40 })).status, 200);
      assert.equal(await timeout(mod, vip), 'ok');
      assert.equal(await timeout(vip, mod), 'outranked');

      // Renamed: the channels, AutoMod rules and holdings naming it follow.
      const lounge = (await (await api(`${base}/channels`, owner, 'POST', { name: 'lounge', roles: ['senior'] })).json()).id;
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { post_roles: ['senior', 'moderator'] })).status, 200);
      const rule = await (await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'no spoilers', trigger: { type: 'keyword', keywords: ['spoiler'] }, exempt_roles: ['senior'] })).json();
      assert.deepEqual(await code(await api(`${roles}/senior`, owner, 'PATCH', { name: 'vip' })), [409, 'role_exists']);
      assert.deepEqual(await code(await api(`${roles}/senior`, owner, 'PATCH', { name: 'admin' })), [400, 'invalid_role']);
      assert.deepEqual(await code(await api(`${roles}/senior`, owner, 'PATCH', { name: 'Old Guard' })), [400, 'invalid_role']);
      r = await api(`${roles}/senior`, owner, 'PATCH', { name: 'elder' });
      assert.equal(r.status, 200, await r.clone().text());
      assert.deepEqual(await r.json(), { name: 'elder', builtin: false, rank: 40, permissions: ['kick_members'], gate: null,
        mentionable: false, color: 0x3498db, hoist: true, member_count: 1 });
      const renamed = await frame((f) => f.role === 'elder');
      assert.deepEqual([renamed.change, renamed.previous], ['updated', 'senior']);
      assert.deepEqual((await (await api(`/v1/channels/${lounge}`, owner)).json()).roles, ['elder']);
      assert.deepEqual((await (await api(`/v1/channels/${general}`, owner)).json()).post_roles, ['elder', 'moderator']);
      const rules = (await (await api(`${base}/automod/rules`, owner)).json()).rules;
      assert.deepEqual(rules.find((x) => x.id === rule.id).exempt_roles, ['elder']);
      const members = (await (await api(`${base}/members`, owner)).json()).members;
      assert.deepEqual(members.find((m) => m.address === vip.address).roles, ['elder', 'member', 'vip']);
      assert.equal((await api(`/v1/channels/${lounge}/messages`, vip)).status, 200);
      assert.equal((await api(`/v1/channels/${lounge}/messages`, member)).status, 403);
      assert.equal((await api(`/v1/channels/${general}/messages`, vip, 'POST', { body: 'a spoiler, exempt', client_id: 'sp1' })).status, 201);
      assert.deepEqual(await code(await api(`/v1/channels/${general}/messages`, mod, 'POST', { body: 'a spoiler', client_id: 'sp2' })),
        [403, 'automod_blocked']);
      assert.deepEqual(await code(await api(`${roles}/senior`, owner, 'PATCH', { rank: 30 })), [404, 'role_not_found']);
      const [update] = (await (await api(`${base}/audit-log?action=role_update`, owner)).json()).entries;
      assert.deepEqual(update.details, { role: 'senior', name: 'elder' });

      // Closed to mentions: a member's @&elder pings no one; a moderator's does (mention_everyone).
      assert.equal((await api(`/v1/channels/${general}`, owner, 'PATCH', { post_roles: [] })).status, 200);
      const post = async (who, body) => (await (await api(`/v1/channels/${general}/messages`, who, 'POST',
        { body, client_id: `m${Math.random()}`.replace('0.', '') })).json());
      const pings = async (seq) => (await outbox('messaging.mention')).filter((e) => e.payload.channel_id === general && e.payload.seq === seq)
        .map((e) => e.payload.account);
      const quiet = await post(member, 'hey @&elder');
      assert.deepEqual(quiet.mention_roles, []);
      const loud = await post(mod, 'hey @&elder');
      assert.deepEqual(loud.mention_roles, ['elder']);
      assert.deepEqual(await pings(loud.seq), [vip.address]);
      assert.deepEqual(await pings(quiet.seq), []);
      r = await api(`${roles}/elder`, owner, 'PATCH', { mentionable: true, hoist: false, color: 0 });
      assert.deepEqual(((x) => [x.mentionable, x.hoist, x.color])(await r.json()), [true, false, 0]);
      await frame((f) => f.role === 'elder' && f.mentionable === true && f.hoist === false);
      const open = await post(member, 'now @&elder');
      assert.deepEqual(open.mention_roles, ['elder']);
      assert.deepEqual(await pings(open.seq), [vip.address]);

      // Deleted: the followers learn it too.
      assert.equal((await api(`${roles}/helpers`, mod, 'DELETE')).status, 204);
      const gone = await frame((f) => f.role === 'helpers' && f.change === 'deleted');
      assert.equal(gone.rank, undefined);
      sock.close();
    });

    test('built-in roles take a colour, hoist and may be closed to mentions; nothing else of them changes', async () => {
      const { owner, mod, member, api, base, general } = await community('Builtins');
      const admin = await c.signIn();
      assert.equal((await api(`${base}/join`, admin, 'POST')).status, 200);
      assert.ok((await api(`${base}/members/${admin.address}/roles/admin`, owner, 'PUT')).status < 300);
      const roles = `${base}/roles`;
      const code = async (res) => [res.status, (await res.json()).error.code];
      const sock = c.connect(member);
      await subscribed(sock, general);
      const listed = async (name) => (await (await api(roles, member)).json()).roles.find((x) => x.name === name);
      assert.deepEqual(await listed('moderator'), { name: 'moderator', builtin: true, rank: 50,
        permissions: (await listed('moderator')).permissions, gate: null, mentionable: true, color: 0, hoist: false, member_count: 1 });
      const post = async (who, body) => (await (await api(`/v1/channels/${general}/messages`, who, 'POST',
        { body, client_id: `b${Math.random()}`.replace('0.', '') })).json());
      const pings = async (seq) => (await outbox('messaging.mention')).filter((e) => e.payload.channel_id === general && e.payload.seq === seq)
        .map((e) => e.payload.account);
      const before = await post(member, 'help @&moderator');
      assert.deepEqual(before.mention_roles, ['moderator']);

      // An admin colours the moderators, lists them apart and closes them to members' mentions.
      let r = await api(`${roles}/moderator`, admin, 'PATCH', { color: 0x2ecc71, hoist: true, mentionable: false });
      assert.equal(r.status, 200, await r.clone().text());
      const changed = await r.json();
      assert.deepEqual([changed.name, changed.builtin, changed.rank, changed.mentionable, changed.color, changed.hoist, changed.member_count],
        ['moderator', true, 50, false, 0x2ecc71, true, 1]);
      assert.deepEqual(((x) => [x.mentionable, x.color, x.hoist])(await listed('moderator')), [false, 0x2ecc71, true]);
      const f = await sock.waitFor((x) => x.type === 'role_updated' && x.role === 'moderator');
      assert.deepEqual([f.change, f.previous, f.rank, f.mentionable, f.color, f.hoist], ['updated', undefined, 50, false, 0x2ecc71, true]);
      const quiet = await post(member, 'help @&moderator');
      assert.deepEqual(quiet.mention_roles, []);
      // Those with mention_everyone still reach them.
      const loud = await post(admin, 'team @&moderator');
      assert.deepEqual(loud.mention_roles, ['moderator']);
      assert.deepEqual(await pings(loud.seq), [mod.address]);
      assert.deepEqual(await pings(quiet.seq), []);

      // Only the display changes; `member` not at all; only above the role (the owner: any).
      for (const body of [{ name: 'mods' }, { permissions: [] }, { rank: 40 }, { gate: null }]) {
        assert.deepEqual(await code(await api(`${roles}/moderator`, owner, 'PATCH', body)), [400, 'invalid_role'], JSON.stringify(body));
      }
      assert.deepEqual(await code(await api(`${roles}/member`, owner, 'PATCH', { color: 1 })), [400, 'invalid_role']);
      assert.deepEqual(await code(await api(`${roles}/moderator`, owner, 'PATCH', { color: -1 })), [400, 'invalid_field']);
      assert.deepEqual(await code(await api(`${roles}/admin`, admin, 'PATCH', { color: 1 })), [403, 'outranked']);
      assert.deepEqual(await code(await api(`${roles}/moderator`, mod, 'PATCH', { color: 1 })), [403, 'missing_permission']);
      assert.deepEqual(await code(await api(`${roles}/moderator`, owner, 'DELETE')), [400, 'invalid_role']);
      r = await api(`${roles}/owner`, owner, 'PATCH', { color: 0xf1c40f });
      assert.deepEqual([r.status, (await r.json()).color], [200, 0xf1c40f]);
      assert.equal((await listed('moderator')).color, 0x2ecc71);
      r = await api(`${roles}/moderator`, owner, 'PATCH', { mentionable: true });
      assert.deepEqual(((x) => [x.mentionable, x.color, x.hoist])(await r.json()), [true, 0x2ecc71, true]);
      assert.deepEqual((await post(member, 'again @&moderator')).mention_roles, ['moderator']);
      const entries = (await (await api(`${base}/audit-log?action=role_update`, owner)).json()).entries;
      assert.deepEqual(entries.map((e) => [e.actor, e.details]), [
        [owner.address, { role: 'moderator', mentionable: true }],
        [owner.address, { role: 'owner', color: 0xf1c40f }],
        [admin.address, { role: 'moderator', mentionable: false, color: 0x2ecc71, hoist: true }]]);
      sock.close();
    });

    test('mentions of a renamed or deleted role follow it: its holders still count them, a new role of the old name inherits none', async () => {
      const { owner, vip, api, base, general } = await community('Renames');
      const roles = `${base}/roles`;
      const carol = await c.signIn();
      assert.equal((await api(`${base}/join`, carol, 'POST')).status, 200);
      let n = 0;
      const post = async (body) => {
        const r = await api(`/v1/channels/${general}/messages`, owner, 'POST', { body, client_id: `rn${++n}` });
        assert.equal(r.status, 201, await r.clone().text());
        return r.json();
      };
      const mentionsOf = async (who) => (await (await api(`/v1/unread?channel_ids=${general}`, who)).json()).channels[0].mentions;
      const rolesOf = async (m) => (await (await api(`/v1/channels/${general}/messages/${m.seq}`, owner)).json()).mention_roles;
      const settled = (m, want) => until(`mention_roles ${JSON.stringify(want)}`,
        async () => JSON.stringify(await rolesOf(m)) === JSON.stringify(want));
      const ok = async (res) => assert.ok(res.status < 300, `${res.status} ${await res.clone().text()}`);

      const a = await post('ship it @&vip');
      const b = await post('@&member, @&vip and @&moderator');
      const other = await post('only @&moderator');
      assert.deepEqual(b.mention_roles, ['member', 'vip', 'moderator']);
      assert.equal(await mentionsOf(vip), 2);

      // Renamed: the older mentions name the role by its new name and still count for its holders.
      await ok(await api(`${roles}/vip`, owner, 'PATCH', { name: 'patrons' }));
      await settled(a, ['patrons']);
      assert.deepEqual(await rolesOf(b), ['member', 'patrons', 'moderator']);
      assert.deepEqual(await rolesOf(other), ['moderator']);
      assert.equal((await (await api(`/v1/channels/${general}/messages/${a.seq}`, owner)).json()).body, 'ship it @&vip');
      assert.equal(await mentionsOf(vip), 2);

      // A new role taking the old name does not inherit the old mentions.
      assert.equal((await api(roles, owner, 'POST', { name: 'vip', permissions: [] })).status, 201);
      await ok(await api(`${base}/members/${carol.address}/roles/vip`, owner, 'PUT'));
      const fresh = await post('welcome @&vip');
      assert.deepEqual(fresh.mention_roles, ['vip']);
      // Carol: b through @&member, and the new mention; not a.
      assert.equal(await mentionsOf(carol), 2);

      // Deleted: the role leaves the mentions written before; the others stay.
      await ok(await api(`${roles}/patrons`, owner, 'DELETE'));
      await settled(a, []);
      assert.deepEqual(await rolesOf(b), ['member', 'moderator']);
      assert.deepEqual(await rolesOf(fresh), ['vip']);
      assert.equal(await mentionsOf(vip), 1);
      assert.equal((await api(roles, owner, 'POST', { name: 'patrons', permissions: [] })).status, 201);
      await ok(await api(`${base}/members/${carol.address}/roles/patrons`, owner, 'PUT'));
      assert.equal(await mentionsOf(carol), 2);

      // Renamed twice at once: the mentions end with the role's last name.
      await ok(await api(`${roles}/vip`, owner, 'PATCH', { name: 'v1' }));
      await ok(await api(`${roles}/v1`, owner, 'PATCH', { name: 'v2' }));
      await settled(fresh, ['v2']);
      assert.equal(await mentionsOf(carol), 2);
    });

    test('members set their nickname; moderators change those below them; open sockets learn it', async () => {
      const { owner, mod, member, vip, api, base, general } = await community('Nicknames');
      const nick = (who, target, nickname) => api(`${base}/members/${target.address}`, who, 'PATCH', { nickname });
      const code = async (res) => [res.status, (await res.json()).error.code];
      const sock = c.connect(owner);
      await subscribed(sock, general);

      let r = await nick(member, member, 'Satoshi 🐋');
      assert.equal(r.status, 200, await r.clone().text());
      const me = await r.json();
      assert.deepEqual([me.address, me.nickname, me.roles], [member.address, 'Satoshi 🐋', ['member']]);
      const live = await sock.waitFor((f) => f.type === 'member_updated' && f.account === member.address);
      assert.deepEqual(live, { type: 'member_updated', community_id: (await (await api(base, owner)).json()).id,
        account: member.address, nickname: 'Satoshi 🐋', received_at: live.received_at });
      const listed = async (who) => (await (await api(`${base}/members`, owner)).json()).members.find((m) => m.address === who.address);
      assert.equal((await listed(member)).nickname, 'Satoshi 🐋');
      assert.equal((await listed(vip)).nickname, null);

      for (const bad of ['x'.repeat(33), '', ' padded', 'tab\there', 5, { nickname: 'x' }]) {
        if (bad === '') continue;  // "" clears, as null does
        assert.deepEqual(await code(await nick(member, member, bad)), [400, 'invalid_field'], JSON.stringify(bad));
      }
      assert.deepEqual(await code(await api(`${base}/members/${member.address}`, member, 'PATCH', { nick: 'x' })), [400, 'invalid_field']);
      // Another's nickname: manage_nicknames, and only below one's rank.
      assert.deepEqual(await code(await nick(vip, member, 'rekt')), [403, 'missing_permission']);
      assert.deepEqual(await code(await nick(mod, owner, 'boss')), [403, 'outranked']);
      r = await nick(mod, member, 'Renamed');
      assert.equal(r.status, 200);
      assert.equal((await r.json()).nickname, 'Renamed');
      const [entry] = (await (await api(`${base}/audit-log?action=member_nickname`, owner)).json()).entries;
      assert.deepEqual([entry.actor, entry.target, entry.details], [mod.address, member.address, { nickname: 'Renamed', previous: 'Satoshi 🐋' }]);
      // Not while timed out; cleared with null.
      assert.equal((await api(`${base}/members/${member.address}/timeout`, owner, 'PUT', { seconds: 60 })).status, 200);
      r = await nick(member, member, 'free');
      assert.deepEqual(await code(r.clone()), [403, 'timed_out']);
      assert.ok(Date.parse((await r.json()).error.until) > Date.now());
      assert.equal((await api(`${base}/members/${member.address}/timeout`, owner, 'DELETE')).status, 204);
      // The keyword rules read names too, disguises and all; managers are exempt as for messages.
      // A refused name is audited and alerted as a refused message is, without a channel.
      const mods = (await (await api(`${base}/channels`, owner, 'POST', { name: 'mod-log', roles: ['moderator'] })).json()).id;
      await subscribed(sock, mods);
      const rule = await (await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'impersonation', trigger: { type: 'keyword', keywords: ['support team'] }, timeout_seconds: 600, alert_channel: mods })).json();
      const disguised = '\u0405upport Team | DM me';
      r = await nick(member, member, disguised);
      assert.equal(r.status, 403);
      const { error } = await r.json();
      assert.deepEqual([error.code, error.rule_id, error.rule_name], ['automod_blocked', rule.id, 'impersonation']);
      assert.equal((await listed(member)).nickname, 'Renamed');
      const alert = await sock.waitFor((f) => f.type === 'message' && f.channel_id === mods && f.system);
      assert.deepEqual(alert.system, { kind: 'automod_alert', rule_id: rule.id, rule_name: 'impersonation', trigger: 'keyword',
        matched: 'support team', account: member.address, channel_id: null, nickname: true, content: disguised });
      const [blocked] = (await (await api(`${base}/audit-log?action=automod_block`, owner)).json()).entries;
      assert.deepEqual([blocked.actor, blocked.channel_id ?? null, blocked.details.nickname], [member.address, null, true]);
      assert.equal((await listed(member)).timed_out_until, undefined);  // a name is refused, no one is timed out
      assert.equal((await nick(owner, owner, 'Support Team')).status, 200);
      r = await nick(member, member, null);
      assert.equal((await r.json()).nickname, null);
      await sock.waitFor((f) => f.type === 'member_updated' && f.account === member.address && f.nickname === null);
      assert.equal((await listed(member)).nickname, null);
      sock.close();
    });

    test('a retry of a message stored before a rule still gets it', async () => {
      const { owner, member, api, base, general } = await community('Retried');
      const first = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'gm frens', client_id: 'gm-1' });
      assert.equal(first.status, 201);
      const stored = await first.json();
      assert.equal((await api(`${base}/automod/rules`, owner, 'POST',
        { name: 'no gm', trigger: { type: 'keyword', keywords: ['gm'] } })).status, 201);
      const again = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'gm frens', client_id: 'gm-1' });
      assert.equal(again.status, 201);
      assert.equal((await again.json()).id, stored.id);
      const fresh = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'gm frens', client_id: 'gm-2' });
      assert.equal(fresh.status, 403);
    });

    test('mention spam and links rules; a rule\'s timeout silences the author at once and tells its sockets', async () => {
      const { owner, mod, member, vip, api, base, general } = await community('Spammed');
      const rules = `${base}/automod/rules`;
      let r = await api(rules, owner, 'POST', { name: 'mentions', trigger: { type: 'mention_spam', limit: 2 }, timeout_seconds: 600 });
      assert.equal(r.status, 201, await r.clone().text());
      const mentions = await r.json();
      r = await api(rules, owner, 'POST', { name: 'links', trigger: { type: 'links', allow_domains: ['Example.org'] } });
      assert.equal(r.status, 201, await r.clone().text());
      const links = await r.json();
      assert.deepEqual(links.trigger, { type: 'links', allow_domains: ['example.org'] });
      const send = (who, body) => api(`/v1/channels/${general}/messages`, who, 'POST', { body, client_id: `sp-${Math.random()}` });
      const code = async (res) => {
        const { error } = await res.json();
        return [res.status, error?.code, error?.rule_id];
      };

      // Links: allowed domains and their subdomains pass; others, however written, do not.
      for (const body of ['see https://example.org/docs', 'and http://www.example.org:8080/x?y', 'no link at all, example dot org',
        'docs.example.org/start', 'gm vitalik.eth, v1.2.3 is out', 'mail me@example.com']) {
        assert.equal((await send(vip, body)).status, 201, body);
      }
      for (const body of ['https://example.org@evil.example/claim', 'go to www.evil.example', 'HTTPS://EVIL.EXAMPLE', 'https://badexample.org',
        'claim at uniswap-airdrop.xyz/claim', 'join t.me/freemint']) {
        assert.deepEqual(await code(await send(vip, body)), [403, 'automod_blocked', links.id], body);
      }

      // Two mentions pass; three are refused, and the author is timed out for the rule's 600 s.
      const sock = c.connect(member);
      await subscribed(sock, general);
      assert.equal((await send(member, `hi @${mod.address} @${vip.address}`)).status, 201);
      const before = Date.now();
      assert.deepEqual(await code(await send(member, `hi @${mod.address} @${vip.address} @${owner.address}`)),
        [403, 'automod_blocked', mentions.id]);
      const told = await sock.waitFor((f) => f.type === 'timeout');
      const until = Date.parse(told.until);
      assert.ok(until >= before + 599_000 && until <= Date.now() + 601_000, told.until);
      r = await send(member, 'sorry');
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'timed_out');
      const members = (await (await api(`${base}/members?limit=100`, owner)).json()).members;
      assert.equal(members.find((m) => m.address === member.address).timed_out_until, told.until);
      const [block] = (await (await api(`${base}/audit-log?action=automod_block`, owner)).json()).entries;
      assert.deepEqual(block.details, { rule_id: mentions.id, rule_name: 'mentions', trigger: 'mention_spam', matched: '3', timed_out_until: told.until });
      // A moderator lifts it as any timeout.
      assert.equal((await api(`${base}/members/${member.address}/timeout`, mod, 'DELETE')).status, 204);
      assert.equal((await send(member, 'sorry')).status, 201);
      sock.close();
    });

    test('keywords see through look-alike letters, accents and invisible characters; links do not', async () => {
      const { owner, member, api, base, general } = await community('Disguised');
      const rules = `${base}/automod/rules`;
      let r = await api(rules, owner, 'POST', { name: 'disguises',
        trigger: { type: 'keyword', keywords: ['free mint', 'scam', 'airdrop*', 'bot', '\u0441\u043a\u0430\u043c'] } });
      assert.equal(r.status, 201, await r.clone().text());
      const words = await r.json();
      // Keywords are shown as set; only their matching is folded.
      assert.deepEqual(words.trigger.keywords, ['free mint', 'scam', 'airdrop*', 'bot', '\u0441\u043a\u0430\u043c']);
      r = await api(rules, owner, 'POST', { name: 'links', trigger: { type: 'links', allow_domains: ['uniswap.org'] } });
      assert.equal(r.status, 201, await r.clone().text());
      const links = await r.json();
      // A keyword that folds to nothing is no keyword.
      r = await api(rules, owner, 'POST', { name: 'marks', trigger: { type: 'keyword', keywords: ['\u0301\u0302'] } });
      assert.equal(r.status, 400);
      assert.equal((await r.json()).error.code, 'invalid_rule');

      const send = (body) => api(`/v1/channels/${general}/messages`, member, 'POST', { body, client_id: `lk-${Math.random()}` });
      const blocked = [
        ['\uff26\uff32\uff25\uff25 \uff2d\uff29\uff2e\uff34', 'free mint'],              // full width
        ['\u{1d41f}\u{1d42b}\u{1d41e}\u{1d41e} \u{1d426}\u{1d422}\u{1d427}\u{1d42d} today', 'free mint'],  // mathematical bold
        ['fr\u00e9e m\u00ednt', 'free mint'],                                              // accents
        ['fr\u0435\u0435 m\u0456nt', 'free mint'],                                        // Cyrillic е, і
        ['free\u00a0\u3000mint', 'free mint'],                                            // other spaces
        ['a \u0455\u0441\u0430m', 'scam'],                                               // Cyrillic ѕса
        ['S\u0338C\u0338A\u0338M\u0338!', 'scam'],                                         // struck through
        ['s\u200dc\ufe0fa\u00adm', 'scam'],                                              // invisible
        ['\u24e2\u24d2\u24d0\u24dc', 'scam'],                                           // circled
        ['AIRDR\u039fPS for all', 'airdrop*'],                                             // Greek Ο
        ['\u0412\u041e\u0422', 'bot'],                                                  // Cyrillic capitals ВОТ
        ['\u0421\u041a\u0410\u041c', '\u0441\u043a\u0430\u043c'],                      // СКАМ for скам
      ];
      for (const [body, keyword] of blocked) {
        r = await send(body);
        assert.equal(r.status, 403, body);
        const { error } = await r.json();
        assert.deepEqual([error.code, error.rule_id], ['automod_blocked', words.id], body);
        const [entry] = (await (await api(`${base}/audit-log?action=automod_block&limit=1`, owner)).json()).entries;
        assert.equal(entry.details.matched, keyword, body);
      }
      // Words the keywords only resemble pass: whole words stay whole, and a lower-case Cyrillic
      // word whose letters are no Latin look-alikes stays itself (вот is not bot).
      const passing = ['free minute', 'scampi', '\u0455\u0441\u0430mper', '\u0432\u043e\u0442 \u0442\u0430\u043a', 'airdro p'];
      for (const body of passing) assert.equal((await send(body)).status, 201, body);
      // A link's host is read as written: a look-alike of an allowed domain is another domain.
      assert.equal((await send('see https://uniswap.org/swap')).status, 201);
      r = await send('claim at https://unisw\u0430p.org/claim');
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.rule_id, links.id);
      const history = (await (await api(`/v1/channels/${general}/messages?limit=100`, owner)).json()).messages;
      assert.deepEqual(history.map((m) => m.body).reverse(), [...passing, 'see https://uniswap.org/swap']);
    });

    test('regular expressions: RE2 patterns read the text as written, checked when set', async () => {
      const { owner, member, api, base, general } = await community('Patterned');
      const rules = `${base}/automod/rules`;
      // Patterns that cannot compile, would match every message, or break a limit are refused.
      for (const regex of [['(unclosed'], ['a*'], ['(?=ahead)'], ['x'.repeat(261)], Array.from({ length: 11 }, (_, i) => `w${i}`), [7]]) {
        const r = await api(rules, owner, 'POST', { name: 'bad', trigger: { type: 'keyword', regex } });
        assert.equal(r.status, 400, JSON.stringify(regex).slice(0, 80));
        assert.equal((await r.json()).error.code, 'invalid_rule');
      }
      let r = await api(rules, owner, 'POST', { name: 'patterns', trigger: { type: 'keyword',
        regex: ['claim.{0,20}(reward|airdrop)', 'dm\\s+me'], allow: ['reclaim*'] } });
      assert.equal(r.status, 201, await r.clone().text());
      const rule = await r.json();
      assert.deepEqual(rule.trigger, { type: 'keyword', keywords: [], regex: ['claim.{0,20}(reward|airdrop)', 'dm\\s+me'], allow: ['reclaim*'] });
      const send = (body) => api(`/v1/channels/${general}/messages`, member, 'POST', { body, client_id: `rx-${Math.random()}` });
      for (const [body, pattern] of [['CLAIM your Airdrop', 'claim.{0,20}(reward|airdrop)'], ['just DM   me', 'dm\\s+me']]) {
        r = await send(body);
        assert.equal(r.status, 403, body);
        assert.deepEqual([(await r.json()).error.rule_id], [rule.id]);
        const [entry] = (await (await api(`${base}/audit-log?action=automod_block&limit=1`, owner)).json()).entries;
        assert.equal(entry.details.matched, pattern);
      }
      // Too far apart, no match, and a match in words the allow list names.
      for (const body of ['claim it; a week later, the reward', 'dms are open', 'reclaim the reward']) {
        assert.equal((await send(body)).status, 201, body);
      }
    });

    test('a community holds at most 10 rules, also when they are created at once', async () => {
      const { owner, api, base } = await community('Crowded');
      const create = (i) => api(`${base}/automod/rules`, owner, 'POST', { name: `rule ${i}`, trigger: { type: 'keyword', keywords: [`w${i}`] } });
      const statuses = (await Promise.all(Array.from({ length: 14 }, (_, i) => create(i)))).map((res) => res.status);
      assert.equal(statuses.filter((s) => s === 201).length, 10, statuses.join());
      assert.equal(statuses.filter((s) => s === 409).length, 4, statuses.join());
      const r = await create(99);
      assert.equal(r.status, 409);
      assert.equal((await r.json()).error.code, 'too_many_rules');
      assert.equal((await (await api(`${base}/automod/rules`, owner)).json()).rules.length, 10);
    });
    test('members report messages; moderators see the reports of their channels, and resolve, dismiss or reopen them', async () => {
      const { owner, mod, member, vip, api, id, base, general } = await community('Reported');
      const [other, outsider] = await Promise.all([c.signIn(), c.signIn()]);
      assert.equal((await api(`${base}/join`, other, 'POST')).status, 200);
      // A channel only vips (and managers of channels) read: its reports are not the moderator's.
      const lounge = (await (await api(`${base}/channels`, owner, 'POST', { name: 'lounge', roles: ['vip'] })).json()).id;
      const scam = await c.post(member, general, 'send 1 ETH to get 2 back');
      const fine = await c.post(member, general, 'gm');
      const hidden = await c.post(vip, lounge, 'vip only');
      const report = (who, channel, seq, body) => api(`/v1/channels/${channel}/messages/${seq}/report`, who, 'POST', body);

      let r = await report(other, general, scam.seq, { reason: 'scam', note: 'doubling scheme' });
      assert.equal(r.status, 201, await r.clone().text());
      const filed = await r.json();
      assert.deepEqual({ ...filed, id: undefined, created_at: undefined }, {
        id: undefined, created_at: undefined, channel_id: general, seq: scam.seq, message_id: scam.id, author: member.address,
        body: 'send 1 ETH to get 2 back', reporter: other.address, reason: 'scam', note: 'doubling scheme', status: 'open',
        resolved_at: null });
      // Again: the same report, not a second one.
      r = await report(other, general, scam.seq, { reason: 'spam' });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).id, filed.id);
      // What may not be reported, and bad reports.
      const code = async (res) => [res.status, (await res.json()).error.code];
      assert.deepEqual(await code(await report(member, general, scam.seq, { reason: 'spam' })), [400, 'own_message']);
      assert.deepEqual(await code(await report(outsider, general, scam.seq, { reason: 'spam' })), [403, 'forbidden']);
      assert.deepEqual(await code(await report(other, lounge, hidden.seq, { reason: 'spam' })), [403, 'forbidden']);
      assert.deepEqual(await code(await report(other, general, 9999, { reason: 'spam' })), [404, 'message_not_found']);
      assert.deepEqual(await code(await report(other, general, fine.seq, { reason: 'rude' })), [400, 'invalid_reason']);
      assert.deepEqual(await code(await report(other, general, fine.seq, {})), [400, 'invalid_reason']);
      assert.deepEqual(await code(await report(other, general, fine.seq, { reason: 'spam', note: 'x'.repeat(501) })), [400, 'invalid_note']);
      assert.deepEqual(await code(await report(other, general, fine.seq, { reason: 'spam', note: 'bad\u0007' })), [400, 'invalid_note']);
      // U+0000 is refused before any field's own rule (errors.md).
      assert.deepEqual(await code(await report(other, general, fine.seq, { reason: 'spam', note: 'bad\u0000' })), [400, 'invalid_json']);
      const gone = await c.post(member, general, 'soon gone');
      assert.equal((await api(`/v1/channels/${general}/messages/${gone.seq}`, member, 'DELETE')).status, 204);
      assert.deepEqual(await code(await report(other, general, gone.seq, { reason: 'spam' })), [409, 'message_deleted']);

      // The author edits and deletes: the report keeps what was reported; a second reporter counts.
      assert.equal((await api(`/v1/channels/${general}/messages/${scam.seq}`, member, 'PATCH', { body: 'nothing here' })).status, 200);
      r = await report(vip, general, scam.seq, { reason: 'spam' });
      assert.equal(r.status, 201);
      const second = await r.json();
      assert.equal(second.body, 'nothing here');
      assert.equal(second.message_reports, undefined, 'a reporter does not learn of others\' reports');
      r = await report(vip, lounge, hidden.seq + 0, { reason: 'other' });
      assert.deepEqual(await code(r), [400, 'own_message']);
      const lounger = await c.post(owner, lounge, 'owner in the lounge');
      assert.equal((await report(vip, lounge, lounger.seq, { reason: 'harassment' })).status, 201);

      // The queue: open reports of the channels one moderates, newest first, in pages.
      const queue = async (who, query = '') => api(`${base}/reports${query}`, who);
      r = await queue(mod);
      assert.equal(r.status, 200);
      let page = await r.json();
      assert.deepEqual(page.reports.map((x) => x.id), [second.id, filed.id], 'the lounge is not the moderator\'s');
      assert.equal(page.reports[1].message_reports, 2);
      assert.equal(page.next_before, null);
      page = await (await queue(owner)).json();
      assert.equal(page.reports.length, 3);
      assert.equal(page.reports[0].channel_id, lounge);
      page = await (await queue(owner, '?limit=2')).json();
      assert.equal(page.reports.length, 2);
      const rest = await (await queue(owner, `?limit=2&before=${page.next_before}`)).json();
      assert.deepEqual(rest.reports.map((x) => x.id), [filed.id]);
      assert.equal(rest.next_before, null);
      assert.deepEqual(await code(await queue(member)), [403, 'missing_permission']);
      assert.deepEqual(await code(await queue(outsider)), [403, 'not_member']);
      assert.deepEqual(await code(await queue(mod, '?status=closed')), [400, 'invalid_status']);
      assert.deepEqual(await code(await queue(mod, '?before=x')), [400, 'invalid_before']);
      assert.equal((await api('/v1/communities/c_000000000000000000000000/reports', mod)).status, 404);

      // Resolving: moderators of the channel only; to others the report does not exist.
      const patch = (who, reportId, body) => api(`/v1/reports/${reportId}`, who, 'PATCH', body);
      assert.deepEqual(await code(await patch(member, filed.id, { status: 'resolved' })), [404, 'report_not_found']);
      assert.deepEqual(await code(await patch(mod, 999999, { status: 'resolved' })), [404, 'report_not_found']);
      const loungeReport = (await (await queue(owner)).json()).reports[0];
      assert.deepEqual(await code(await patch(mod, loungeReport.id, { status: 'resolved' })), [404, 'report_not_found']);
      assert.deepEqual(await code(await patch(mod, filed.id, { status: 'done' })), [400, 'invalid_status']);
      assert.deepEqual(await code(await patch(mod, filed.id, { status: 'resolved', resolution: 7 })), [400, 'invalid_resolution']);
      r = await patch(mod, filed.id, { status: 'resolved', resolution: 'message removed, author warned' });
      assert.equal(r.status, 200);
      const resolved = await r.json();
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.resolution, 'message removed, author warned');
      assert.equal(resolved.resolved_by, mod.address);
      assert.ok(Date.parse(resolved.resolved_at) > 0);
      assert.equal((await patch(mod, second.id, { status: 'dismissed' })).status, 200);
      assert.deepEqual((await (await queue(mod)).json()).reports, []);
      assert.deepEqual((await (await queue(mod, '?status=resolved')).json()).reports.map((x) => x.id), [filed.id]);
      assert.deepEqual((await (await queue(mod, '?status=all')).json()).reports.map((x) => x.id), [second.id, filed.id]);
      // The reporter sees what became of its reports, not who closed them nor what they wrote.
      const mine = async (who, query = '') => (await api(`/v1/me/reports${query}`, who)).json();
      let own = await mine(other);
      assert.deepEqual(own.reports.map((x) => [x.id, x.status]), [[filed.id, 'resolved']]);
      assert.equal(own.reports[0].resolved_at, resolved.resolved_at);
      for (const hidden of ['resolution', 'resolved_by', 'message_reports']) assert.equal(own.reports[0][hidden], undefined, hidden);
      assert.deepEqual((await mine(other, '?status=open')).reports, []);
      assert.deepEqual((await mine(vip)).reports.map((x) => x.channel_id), [lounge, general]);
      own = await mine(vip, '?limit=1');
      assert.deepEqual([own.reports.length, (await mine(vip, `?limit=1&before=${own.next_before}`)).reports[0].id], [1, second.id]);
      assert.deepEqual(await mine(mod), { reports: [], next_before: null });
      assert.deepEqual(await code(await api('/v1/me/reports?status=closed', vip)), [400, 'invalid_status']);
      assert.equal((await c.api('/v1/me/reports')).status, 401);
      // Filed again after it was resolved: the reporter's view still.
      r = await report(other, general, scam.seq, { reason: 'scam' });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(await r.json()).filter((k) => ['resolution', 'resolved_by', 'message_reports'].includes(k)), []);
      // Reopened, it is in the queue again, without who closed it.
      r = await patch(mod, second.id, { status: 'open' });
      const reopened = await r.json();
      assert.equal(reopened.status, 'open');
      assert.equal(reopened.resolved_by, null);
      assert.deepEqual((await (await queue(mod)).json()).reports.map((x) => x.id), [second.id]);

      // Events, and the audit log (from the events, moments later).
      const reported = (await outbox('messaging.message_reported')).filter((e) => [general, lounge].includes(e.payload.channel_id));
      assert.equal(reported.length, 3);
      assert.deepEqual(reported[0].payload, { report_id: filed.id, channel_id: general, seq: scam.seq, message_id: scam.id,
        author: member.address, reporter: other.address, reason: 'scam' });
      let entries = [];
      for (let i = 0; i < 400 && entries.length < 3; i++) {
        entries = (await (await api(`${base}/audit-log?action=message_report_update`, owner)).json()).entries;
        if (entries.length < 3) await new Promise((res) => setTimeout(res, 25));
      }
      assert.deepEqual(entries.map((e) => [e.actor, e.target, e.channel_id, e.details.report_id, e.details.previous, e.details.status]), [
        [mod.address, member.address, general, second.id, 'dismissed', 'open'],
        [mod.address, member.address, general, second.id, 'open', 'dismissed'],
        [mod.address, member.address, general, filed.id, 'open', 'resolved'],
      ]);
      assert.ok(id);
    });

    test('U+0000 in a request is refused whole, in a body, a path or a query, and changes nothing', async () => {
      // PostgreSQL's text cannot hold it: these answered 500 there before (a ban's or a timeout's
      // reason, a settings list, a notification id), and SQLite stored it.
      const { owner, member, api, base, general } = await community('Nul');
      const refused = async (r, code = 'invalid_json') => assert.deepEqual([r.status, (await r.json()).error.code], [400, code]);
      const head = async () => (await (await api(`/v1/channels/${general}/messages?limit=1`, owner)).json()).messages[0]?.seq ?? 0;
      const before = await head();
      await refused(await api(`${base}/bans`, owner, 'POST', { address: member.address, reason: 'spam\u0000' }));
      await refused(await api(`${base}/members/${member.address}/timeout`, owner, 'PUT', { seconds: 60, reason: '\u0000' }));
      await refused(await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'hi\u0000', client_id: 'nul-1' }));
      await refused(await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'hi', client_id: 'nul-2', 'x\u0000': 1 }));
      const settings = await (await api('/v1/notification-settings', member)).json();
      await refused(await api('/v1/notification-settings', member, 'PUT', { all_messages: ['\u0000'] }));
      await refused(await api('/v1/notifications/read', member, 'POST', { ids: ['\u0000'] }));
      await refused(await api(`${base}/members/%00`, owner), 'invalid_target');
      await refused(await api(`${base}/bans?cursor=%00`, owner), 'invalid_target');
      // Nothing changed: no ban, no timeout (the member posts), the same settings.
      assert.deepEqual((await (await api(`${base}/bans`, owner)).json()).bans, []);
      assert.equal(await head(), before);
      await c.post(member, general, 'still here');
      assert.deepEqual(await (await api('/v1/notification-settings', member)).json(), settings);
    });

    test('an account holds at most 100 open reports', async () => {
      const { member, vip, general } = await community('Flooded');
      const posted = [];
      for (let i = 0; i < 101; i++) posted.push(await c.post(member, general, `message ${i}`));
      const report = (m) => c.api(`/v1/channels/${general}/messages/${m.seq}/report`, { method: 'POST', token: vip.token, body: { reason: 'spam' } });
      const statuses = [];
      for (let i = 0; i < 100; i += 10) statuses.push(...(await Promise.all(posted.slice(i, i + 10).map(report))).map((res) => res.status));
      assert.deepEqual([...new Set(statuses)], [201]);
      const r = await report(posted[100]);
      assert.equal(r.status, 409);
      assert.equal((await r.json()).error.code, 'too_many_reports');
      // A report filed already is still answered.
      assert.equal((await report(posted[0])).status, 200);
    });
    test('a role with pin_messages pins and unpins, and deletes nothing of others', async () => {
      const { owner, mod, member, vip, api, base, general } = await community('Curated');
      assert.equal((await api(`${base}/roles`, owner, 'POST', { name: 'curator', permissions: ['pin_messages'] })).status, 201);
      assert.ok((await api(`${base}/members/${member.address}/roles/curator`, owner, 'PUT')).status < 300);
      const theirs = await c.post(vip, general, 'worth pinning');
      const pin = (who, method) => api(`/v1/channels/${general}/pins/${theirs.seq}`, who, method);
      let r = await pin(vip, 'PUT');
      assert.equal(r.status, 403);
      assert.equal((await r.json()).error.code, 'missing_permission');
      assert.equal((await pin(member, 'PUT')).status, 204);
      const pinned = (await (await api(`/v1/channels/${general}/pins`, vip)).json()).messages;
      assert.deepEqual(pinned.map((m) => [m.seq, m.pinned_by]), [[theirs.seq, member.address]]);
      assert.equal((await pin(member, 'DELETE')).status, 204);
      assert.equal((await pin(mod, 'PUT')).status, 204, 'moderators hold pin_messages');
      r = await api(`/v1/channels/${general}/messages/${theirs.seq}`, member, 'DELETE');
      assert.equal(r.status, 403);
      const roles = (await (await api(`${base}/roles`, owner)).json()).roles;
      assert.deepEqual(roles.find((x) => x.name === 'curator').permissions, ['pin_messages']);
      assert.ok(roles.find((x) => x.name === 'moderator').permissions.includes('pin_messages'));
    });
    test('moderators follow a channel\'s reports live, until they no longer moderate it', async () => {
      const { owner, mod, member, vip, api, base, general } = await community('Watched');
      const follow = async (who) => {
        const sock = c.connect(who);
        await sock.opened;
        await sock.waitFor((f) => f.type === 'hello');
        sock.send({ type: 'subscribe', report_channel_ids: [general] });
        const answer = await sock.waitFor((f) => (f.type === 'subscribed' || f.type === 'error') && f.report_channel_id === general);
        return { sock, answer };
      };
      const refused = await follow(member);
      assert.equal(refused.answer.type, 'error');
      assert.equal(refused.answer.code, 'forbidden');
      let r;
      const { sock: modSock, answer } = await follow(mod);
      assert.equal(answer.type, 'subscribed');
      const { sock: ownerSock } = await follow(owner);
      modSock.send({ type: 'typing', report_channel_id: general });
      assert.equal((await modSock.waitFor((f) => f.type === 'error' && f.report_channel_id === general)).code, 'forbidden');

      // AutoMod's blocks go to the same subscribers.
      r = await api(`${base}/automod/rules`, owner, 'POST', { name: 'no rugs', trigger: { type: 'keyword', keywords: ['rug*'] } });
      const rule = await r.json();
      r = await api(`/v1/channels/${general}/messages`, member, 'POST', { body: 'rugpull soon', client_id: 'w-1' });
      assert.equal(r.status, 403);
      const alert = await modSock.waitFor((f) => f.type === 'automod_block');
      assert.deepEqual(alert, { type: 'automod_block', report_channel_id: general, account: member.address, rule_id: rule.id,
        rule_name: 'no rugs', trigger: 'keyword', matched: 'rug*', received_at: alert.received_at });
      assert.ok(!refused.sock.frames.some((f) => f.type === 'automod_block'));

      const m = await c.post(member, general, 'a scam link');
      r = await api(`/v1/channels/${general}/messages/${m.seq}/report`, vip, 'POST', { reason: 'scam' });
      const filed = await r.json();
      const live = await modSock.waitFor((f) => f.type === 'report' && f.report.id === filed.id);
      // Moderators see the report whole; its reporter, without what only they see.
      assert.deepEqual(live.report, { ...filed, resolution: '', resolved_by: null, message_reports: 1 });
      assert.equal(live.report_channel_id, general);
      r = await api(`/v1/reports/${filed.id}`, mod, 'PATCH', { status: 'resolved' });
      const resolved = await r.json();
      assert.deepEqual((await ownerSock.waitFor((f) => f.type === 'report' && f.report.status === 'resolved')).report, resolved);

      // No longer a moderator: the subscription goes at once, and later reports are not sent there.
      assert.equal((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'DELETE')).status, 204);
      const gone = await modSock.waitFor((f) => f.type === 'membership' && f.report_channel_ids);
      assert.deepEqual(gone.report_channel_ids, [general]);
      const later = await c.post(member, general, 'another one');
      r = await api(`/v1/channels/${general}/messages/${later.seq}/report`, vip, 'POST', { reason: 'spam' });
      const second = await r.json();
      await ownerSock.waitFor((f) => f.type === 'report' && f.report.id === second.id);
      assert.ok(!modSock.frames.some((f) => f.type === 'report' && f.report.id === second.id));
      for (const s of [refused.sock, modSock, ownerSock]) s.close();
    });
  });
}
