// Channel message search through the real binary, on SQLite and PostgreSQL. Every result is checked
// against a reference written here from the rule in docs/api/messaging.md ("Search"): a message
// matches when its current body holds every word of the query (JavaScript's own Unicode classes
// and case mapping), by the author when one is given, newest first, across pages and windows.
// Also: edits and deletes follow at once, access, bad queries, the search rate limit, messages
// written before the index existed, indexed by the job messaging.search_backfill, and a
// community's search across the channels each caller reads, checked against the same reference.
// The filters `has` (link, poll) and `mentions` are checked against their own reference, written
// here from the documented rules for links and mentions.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freshDatabase, backends, runCommand } from './lib/harness.mjs';
import { chatFlags, client } from './lib/chat.mjs';

const UNSPACED = /[\u3040-\u30FF\u31F0-\u31FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\uFF66-\uFF9F\u{20000}-\u{3134F}]/u;

function cut(word) {
  let out = '';
  for (const ch of word) {
    if (Buffer.byteLength(out + ch) > 64) break;
    out += ch;
  }
  return out;
}

/** The reference: the distinct terms of a text by the documented rule. */
export function referenceTerms(text) {
  const terms = new Set();
  let word = '';
  let run = [];
  const endWord = () => { if (word) terms.add(cut(word)); word = ''; };
  const endRun = () => {
    if (run.length === 1) terms.add(run[0]);
    for (let i = 0; i + 1 < run.length; i++) terms.add(run[i] + run[i + 1]);
    run = [];
  };
  for (const ch of text) {
    if (UNSPACED.test(ch)) {
      endWord();
      run.push(ch);
    } else if (/[\p{L}\p{N}]/u.test(ch)) {
      endRun();
      word += ch.toLowerCase();
    } else if (/\p{M}/u.test(ch) && word) {
      word += ch;
    } else {
      endWord();
      endRun();
    }
  }
  endWord();
  endRun();
  return terms;
}

/** The reference for the filters: the `has` values and mentioned accounts (lowercase) of a body. */
export function referenceFilters(body, poll = false) {
  const has = new Set();
  if (/https?:\/\/[^ \t\r\n]/i.test(body) || /(^|[^A-Za-z0-9])www\.[A-Za-z0-9]/i.test(body)) has.add('link');
  if (poll) has.add('poll');
  const mentions = new Set();
  for (const m of body.matchAll(/(?<![A-Za-z0-9_])@(0x[0-9a-fA-F]{40})(?![A-Za-z0-9_])/g)) mentions.add(m[1].toLowerCase());
  return { has, mentions };
}

// A deterministic generator, so that a failure can be replayed.
function random(seed) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const VOCABULARY = ['gas', 'Gas', 'GAS', 'fees', 'bridge', 'Bridge', 'nft', 'mint', 'minted', 'Café', 'café', 'école',
  'ÉCOLE', 'Москва', 'москва', 'Ἀθῆναι', 'ΑΘΗΝΑ', '東京タワー', '東京駅', 'タワー', '東', 'ethereum', 'vitalik.eth', 'gm', 'wagmi',
  'l2', 'rollup', 'e\u0301clair', '0xAbCdEf0123456789abcdef0123456789ABCDEF01', '🚀', '42', '٤٢', 'x'.repeat(70), 'x'.repeat(64) + 'é',
  'https://uniswap.org/swap', 'www.example.org', 'HTTP://', 'wwwx.org', '@0xAAAA1111111111111111111111111111111111BB'];
const SEPARATORS = [' ', ', ', '! ', '\n', ' — ', '...', '#', '@'];

function sentence(rand) {
  const n = 1 + Math.floor(rand() * 6);
  let body = '';
  for (let i = 0; i < n; i++) {
    if (i > 0) body += SEPARATORS[Math.floor(rand() * SEPARATORS.length)];
    body += VOCABULARY[Math.floor(rand() * VOCABULARY.length)];
  }
  return body;
}

/** Every result of a search, page after page; checks each page's bounds on the way. */
async function searchAll(c, who, channel, params, limit = 7) {
  const seen = [];
  let before;
  for (let pages = 0; pages < 1000; pages++) {
    const q = new URLSearchParams({ ...params, limit: String(limit), ...(before !== undefined ? { before_seq: String(before) } : {}) });
    const r = await c.api(`/v1/channels/${channel}/search?${q}`, { token: who.token });
    const page = await r.json();
    assert.equal(r.status, 200, JSON.stringify(page));
    assert.ok(page.messages.length <= limit);
    for (const m of page.messages) {
      if (before !== undefined) assert.ok(m.seq < before, `seq ${m.seq} is below the cursor ${before}`);
    }
    assert.equal(page.partial, false, 'every message is indexed');
    seen.push(...page.messages);
    if (page.next_before_seq === null) return seen;
    assert.ok(before === undefined || page.next_before_seq < before, 'the cursor moves down');
    before = page.next_before_seq;
  }
  throw new Error('search did not end');
}

function expected(messages, query, author, filters = {}) {
  const want = [...referenceTerms(query)];
  return [...messages.values()]
    .filter((m) => !m.deleted && (!author || m.author === author))
    .filter((m) => { const have = referenceTerms(m.body); return want.every((t) => have.has(t)); })
    .filter((m) => {
      const { has, mentions } = referenceFilters(m.body, m.poll);
      return (filters.has ?? []).every((h) => has.has(h)) && (!filters.mentions || mentions.has(filters.mentions.toLowerCase()));
    })
    .sort((a, b) => b.seq - a.seq);
}

function assertSame(found, want, what) {
  assert.deepEqual(found.map((m) => [m.seq, m.body]), want.map((m) => [m.seq, m.body]), what);
}

for (const backend of backends()) {
  describe(`message search (${backend})`, () => {
    let db, server, c;
    const flags = [...chatFlags, '--message-rate-limit', '10000', '--message-rate-burst', '10000',
      '--search-rate-limit', '10000', '--search-rate-burst', '10000', '--search-window', '37', '--search-channels', '4'];
    before(async () => {
      db = freshDatabase(backend);
      server = await startServer([...db.flags, ...flags]);
      c = client(server);
    });
    after(async () => {
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, server.stderr.slice(-4000));
      db.drop();
    });

    test('finds exactly the messages holding every word, newest first, through pages and windows; edits and deletes follow', async () => {
      const rand = random(20261127);
      const authors = [await c.signIn(), await c.signIn(), await c.signIn()];
      for (const a of authors) await c.grant(a, 'lib');
      const messages = new Map();
      for (let i = 0; i < 240; i += 8) {
        const batch = await Promise.all(Array.from({ length: 8 }, () => {
          const a = authors[Math.floor(rand() * authors.length)];
          return c.post(a, 'lib', sentence(rand)).then((m) => ({ ...m, by: a }));
        }));
        for (const m of batch) messages.set(m.seq, { seq: m.seq, body: m.body, author: m.author, by: m.by, deleted: false });
      }
      // Edits replace a message's words; deletes take it out of every result.
      const all = [...messages.values()];
      for (let i = 0; i < 12; i++) {
        const m = all[Math.floor(rand() * all.length)];
        if (m.deleted) continue;
        if (i % 2 === 0) {
          const body = `${sentence(rand)} edited`;
          const r = await c.api(`/v1/channels/lib/messages/${m.seq}`, { method: 'PATCH', token: m.by.token, body: { body } });
          assert.equal(r.status, 200);
          m.body = body;
        } else {
          assert.equal((await c.api(`/v1/channels/lib/messages/${m.seq}`, { method: 'DELETE', token: m.by.token })).status, 204);
          m.deleted = true;
        }
      }
      // The index holds exactly the current terms of each message: an edit replaced them, a delete
      // removed them (results are also checked against the bodies, which would hide stale rows).
      for (const m of messages.values()) {
        const rows = Number(db.query(`SELECT count(*) FROM msg_search_terms WHERE channel_id = 'lib' AND seq = ${m.seq}`));
        const { has, mentions } = referenceFilters(m.body);
        assert.equal(rows, m.deleted ? 0 : referenceTerms(m.body).size + has.size + mentions.size, `index rows of seq ${m.seq}`);
      }
      const queries = ['gas', 'GAS fees', 'café', 'ÉCOLE', 'москва', 'ΑΘΗΝΑ ἀθῆναι', '東京', 'タワー', '東', 'vitalik eth',
        '0xabcdef0123456789abcdef0123456789abcdef01', 'gm wagmi', 'l2 rollup gas', 'e\u0301clair', '42', '٤٢', 'edited',
        'x'.repeat(64), 'x'.repeat(90), 'mint minted', 'bridge 🚀 nft'];
      let nonEmpty = 0;
      for (const q of queries) {
        const want = expected(messages, q);
        if (want.length > 0) nonEmpty++;
        assertSame(await searchAll(c, authors[0], 'lib', { q }), want, q);
      }
      assert.ok(nonEmpty >= queries.length - 2, 'the corpus exercises the queries');
      // By author, with and without words; larger pages.
      for (const a of authors) {
        assertSame(await searchAll(c, authors[1], 'lib', { author: a.address }, 25), expected(messages, '', a.address), 'author only');
        assertSame(await searchAll(c, authors[1], 'lib', { q: 'gas', author: a.address.toLowerCase() }, 3),
          expected(messages, 'gas', a.address), 'gas by author');
      }
      // The filters, alone, together, with words and an author.
      const mentioned = ['0xaaaa1111111111111111111111111111111111bb', '0xabcdef0123456789abcdef0123456789abcdef01'];
      const filtered = [
        [{ has: 'link' }, '', undefined, { has: ['link'] }],
        [{ q: 'gas', has: 'link' }, 'gas', undefined, { has: ['link'] }],
        [{ has: 'link,link' }, '', undefined, { has: ['link'] }],
        [{ has: 'poll' }, '', undefined, { has: ['poll'] }],
        [{ mentions: mentioned[0] }, '', undefined, { mentions: mentioned[0] }],
        [{ mentions: mentioned[0].toUpperCase().replace('0X', '0x') }, '', undefined, { mentions: mentioned[0] }],
        // The address as a word after `@` only when nothing glues it to the word before.
        [{ mentions: mentioned[1] }, '', undefined, { mentions: mentioned[1] }],
        [{ mentions: mentioned[0], has: 'link', author: authors[0].address }, '', authors[0].address, { has: ['link'], mentions: mentioned[0] }],
      ];
      for (const [params, q, author, filters] of filtered) {
        const want = expected(messages, q, author, filters);
        assertSame(await searchAll(c, authors[2], 'lib', params, 5), want, JSON.stringify(params));
        if (!params.has?.includes('poll') && params.mentions !== mentioned[1]) {
          assert.ok(want.length > 0, `the corpus exercises ${JSON.stringify(params)}`);
        }
      }
      // Messages come as history shows them.
      const [hit] = await searchAll(c, authors[2], 'lib', { q: 'edited' });
      assert.ok(hit, 'an edited message is found');
      const same = await (await c.api(`/v1/channels/lib/messages/${hit.seq}`, { token: authors[2].token })).json();
      assert.deepEqual(hit, same);
    });

    test('a poll is found by its question and answers, through edits of its body, until deleted', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'polls');
      const plain = await c.post(alice, 'polls', 'which chain for the validator set');
      const poll = await c.post(alice, 'polls', 'vote please', { poll: { question: 'Which sequencer ships first?', answers: ['Espresso', 'Astria'] } });
      const bare = await c.post(alice, 'polls', '', { poll: { question: 'Lunch?', answers: ['ramen', 'tacos'] } });
      const seqs = async (q, channel = 'polls') =>
        (await (await c.api(`/v1/channels/${channel}/search?q=${encodeURIComponent(q)}`, { token: alice.token })).json()).messages.map((m) => m.seq);
      assert.deepEqual(await seqs('sequencer'), [poll.seq]);
      assert.deepEqual(await seqs('astria vote'), [poll.seq]);      // the body and an answer together
      assert.deepEqual(await seqs('tacos'), [bare.seq]);            // a poll with no body
      assert.deepEqual(await seqs('which'), [poll.seq, plain.seq]);
      const having = async (has) =>
        (await (await c.api(`/v1/channels/polls/search?has=${has}`, { token: alice.token })).json()).messages.map((m) => m.seq);
      assert.deepEqual(await having('poll'), [bare.seq, poll.seq]);
      // An edit of the body keeps the poll's words.
      let r = await c.api(`/v1/channels/polls/messages/${poll.seq}`, { method: 'PATCH', token: alice.token, body: { body: 'vote now' } });
      assert.equal(r.status, 200);
      assert.deepEqual(await seqs('espresso'), [poll.seq]);
      assert.deepEqual(await seqs('please'), []);
      assert.deepEqual(await seqs('now sequencer'), [poll.seq]);
      // A deleted poll is found no more, nor by its body.
      r = await c.api(`/v1/channels/polls/messages/${poll.seq}`, { method: 'DELETE', token: alice.token });
      assert.equal(r.status, 204);
      assert.deepEqual(await seqs('sequencer'), []);
      assert.deepEqual(await seqs('which'), [plain.seq]);
      assert.deepEqual(await having('poll'), [bare.seq]);
    });

    test('a window without a match still hands on its cursor; before_seq bounds the search', async () => {
      const alice = await c.signIn();
      await c.grant(alice, 'sparse');
      for (let i = 1; i <= 100; i++) await c.post(alice, 'sparse', i === 3 || i === 97 ? `needle ${i}` : `hay ${i}`);
      const page = async (q) => (await c.api(`/v1/channels/sparse/search?${q}`, { token: alice.token })).json();
      // The window is 37 seqs: the newest window holds 97 only; the next two hold none, then 3.
      assert.deepEqual(await page('q=needle').then((p) => [p.messages.map((m) => m.seq), p.next_before_seq]), [[97], 64]);
      assert.deepEqual(await page('q=needle&before_seq=64').then((p) => [p.messages.map((m) => m.seq), p.next_before_seq]), [[], 27]);
      assert.deepEqual(await page('q=needle&before_seq=27').then((p) => [p.messages.map((m) => m.seq), p.next_before_seq]), [[3], null]);
      assert.deepEqual(await page('q=needle&before_seq=3').then((p) => [p.messages, p.next_before_seq]), [[], null]);
      assert.deepEqual(await page('q=needle&before_seq=1000').then((p) => p.messages.map((m) => m.seq)), [97]);
      // A full page hands on its last seq, unless that was the first message.
      assert.deepEqual(await page('q=hay&limit=2').then((p) => [p.messages.map((m) => m.seq), p.next_before_seq]), [[100, 99], 99]);
      assert.deepEqual(await page('q=hay&before_seq=3&limit=2').then((p) => [p.messages.map((m) => m.seq), p.next_before_seq]), [[2, 1], null]);
    });

    test('a community search finds the matches of every channel and thread the caller reads, newest first across them, through pages and windows', async () => {
      const rand = random(20261128);
      const [owner, mod, member, stranger, other] = await Promise.all(Array.from({ length: 5 }, () => c.signIn()));
      const api = (path, who, method = 'GET', body) => c.api(path, { method, token: who.token, body });
      let r = await api('/v1/communities', owner, 'POST', { name: 'Finders', slug: `finders-${backend}-${Date.now()}` });
      assert.equal(r.status, 201);
      const id = (await r.json()).id;
      const base = `/v1/communities/${id}`;
      for (const who of [mod, member, other]) assert.equal((await api(`${base}/join`, who, 'POST')).status, 200);
      assert.ok((await api(`${base}/members/${mod.address}/roles/moderator`, owner, 'PUT')).status < 300);
      const channel = async (name, body = {}) => (await (await api(`${base}/channels`, owner, 'POST', { name, ...body })).json()).id;
      const general = await channel('general');
      const memes = await channel('memes');
      const staff = await channel('staff', { roles: ['moderator'] });
      // Threads are searched with their channel: a public one, a private one (its members and the
      // channel's moderators), one in the moderators' channel.
      const thread = async (who, ch, body) => {
        const res = await api(`/v1/channels/${ch}/threads`, who, 'POST', body);
        assert.equal(res.status, 201);
        return (await res.json()).id;
      };
      const open = await thread(member, general, { name: 'open' });
      const hidden = await thread(member, general, { name: 'hidden', private: true });
      const backroom = await thread(mod, staff, { name: 'backroom' });
      const parentOf = { [open]: general, [hidden]: general, [backroom]: staff };
      const channels = [general, memes, staff, open, hidden, backroom];
      const authors = { [general]: [owner, mod, member], [memes]: [owner, mod, member], [staff]: [owner, mod],
        [open]: [owner, mod, member], [hidden]: [member], [backroom]: [owner, mod] };
      const readBy = (who) => (who === mod || who === owner ? channels
        : who === member ? [general, memes, open, hidden] : [general, memes, open]);

      // Posts land in all three at once, so that many share a millisecond across channels.
      const messages = [];
      for (let round = 0; round < 30; round++) {
        const batch = await Promise.all(channels.map((ch) => {
          const who = authors[ch][Math.floor(rand() * authors[ch].length)];
          return c.post(who, ch, sentence(rand)).then((m) => ({ ...m, by: who, deleted: false }));
        }));
        messages.push(...batch);
      }
      for (const m of messages.filter((_, i) => i % 11 === 5)) {
        assert.equal((await c.api(`/v1/channels/${m.channel_id}/messages/${m.seq}`, { method: 'DELETE', token: m.by.token })).status, 204);
        m.deleted = true;
      }
      // A channel's messages never go back in time as their seq grows.
      for (const ch of channels) {
        const times = messages.filter((m) => m.channel_id === ch).sort((a, b) => a.seq - b.seq).map((m) => Date.parse(m.created_at));
        assert.deepEqual(times, [...times].sort((a, b) => a - b), `times of ${ch}`);
      }

      // The reference: the matches in the channels the caller reads, by (time, channel, seq) descending.
      const key = (m) => [Date.parse(m.created_at), m.channel_id, m.seq];
      const below = (a, b) => a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
      const want = (readable, q, author) => {
        const terms = [...referenceTerms(q)];
        return messages.filter((m) => readable.includes(m.channel_id) && !m.deleted && (!author || m.author === author))
          .filter((m) => { const have = referenceTerms(m.body); return terms.every((t) => have.has(t)); })
          .sort((a, b) => (below(key(a), key(b)) ? 1 : -1));
      };
      const all = async (who, params, limit) => {
        const seen = [];
        let cursor;
        for (let pages = 0; pages < 1000; pages++) {
          const q = new URLSearchParams({ ...params, limit: String(limit), ...(cursor ? { before: cursor } : {}) });
          const res = await api(`${base}/search?${q}`, who);
          const page = await res.json();
          assert.equal(res.status, 200, JSON.stringify(page));
          assert.ok(page.messages.length <= limit);
          assert.equal(page.partial, false);
          const [ms, seq, ...rest] = (cursor ?? '').split(':');
          for (const m of page.messages) {
            if (cursor) assert.ok(below(key(m), [Number(ms), rest.join(':'), Number(seq)]), `${m.channel_id}/${m.seq} below ${cursor}`);
          }
          seen.push(...page.messages);
          if (page.next_before === null) return seen;
          assert.notEqual(page.next_before, cursor, 'the cursor moves');
          cursor = page.next_before;
        }
        throw new Error('community search did not end');
      };
      const same = (found, expectedList, what) =>
        assert.deepEqual(found.map((m) => `${m.channel_id}/${m.seq} ${m.body}`), expectedList.map((m) => `${m.channel_id}/${m.seq} ${m.body}`), what);

      let nonEmpty = 0;
      for (const q of ['gas', 'GAS fees', 'café', 'москва', '東京', 'gm wagmi', 'l2 rollup', 'bridge 🚀 nft', 'mint']) {
        const forMember = want(readBy(member), q);
        if (forMember.length > 0) nonEmpty++;
        for (const limit of [3, 25]) {
          same(await all(member, { q }, limit), forMember, `${q} for a member, pages of ${limit}`);
          same(await all(mod, { q }, limit), want(channels, q), `${q} for a moderator, pages of ${limit}`);
          same(await all(other, { q }, limit), want(readBy(other), q), `${q} for one outside the private thread, pages of ${limit}`);
        }
      }
      assert.ok(nonEmpty >= 6, 'the corpus exercises the queries');
      for (const who of [owner, mod]) {
        same(await all(member, { author: who.address }, 7), want(readBy(member), '', who.address), 'by author');
        same(await all(owner, { q: 'gas', author: who.address.toLowerCase() }, 4), want(channels, 'gas', who.address), 'gas by author');
      }
      // Results come as history shows them, reactions and pins included, on pages that mix channels
      // whose messages share seqs (each channel's annotations are its own).
      // A thread's message names its thread's channel.
      const shown = (m) => {
        const { parent_channel_id: parent, ...rest } = m;
        assert.equal(parent, parentOf[m.channel_id], `the parent of ${m.channel_id}`);
        return rest;
      };
      const [hit] = await all(member, { q: 'gas' }, 1).then((list) => list.slice(0, 1));
      assert.deepEqual(shown(hit), await (await api(`/v1/channels/${hit.channel_id}/messages/${hit.seq}`, member)).json());
      const live = messages.filter((m) => !m.deleted);
      for (const m of live.filter((_, i) => i % 3 === 0)) {
        const emoji = encodeURIComponent(m.channel_id === general ? '🔥' : '👀');
        assert.equal((await api(`/v1/channels/${m.channel_id}/messages/${m.seq}/reactions/${emoji}`, owner, 'PUT')).status, 204);
      }
      for (const m of live.filter((_, i) => i % 7 === 1)) {
        assert.equal((await api(`/v1/channels/${m.channel_id}/pins/${m.seq}`, owner, 'PUT')).status, 204);
      }
      const annotated = await all(owner, { author: owner.address }, 25);
      assert.equal(new Set(annotated.map((m) => m.channel_id)).size, 5);
      for (const m of annotated) {
        assert.deepEqual(shown(m), await (await api(`/v1/channels/${m.channel_id}/messages/${m.seq}`, owner)).json(), `${m.channel_id}/${m.seq}`);
      }
      assert.ok(annotated.some((m) => m.reactions.length > 0) && annotated.some((m) => m.pinned));

      // Access and bad requests.
      r = await api(`${base}/search?q=gas`, stranger);
      assert.deepEqual([r.status, (await r.json()).error.code], [403, 'not_member']);
      assert.equal((await api('/v1/communities/nope/search?q=gas', member)).status, 404);
      assert.equal((await c.api(`${base}/search?q=gas`)).status, 401);
      for (const [q, code] of [['', 'invalid_query'], ['q=x&before=12', 'invalid_cursor'], ['q=x&before=a:1:general', 'invalid_cursor'],
        ['q=x&before=1:0:general', 'invalid_cursor'], ['q=x&before=1:2:', 'invalid_cursor'], ['q=x&author=0x12', 'invalid_author'],
        ['q=x&limit=0', 'invalid_limit']]) {
        r = await api(`${base}/search?${q}`, member);
        assert.equal(r.status, 400, q);
        assert.equal((await r.json()).error.code, code, q);
      }
    });

    test('access, bad queries and the search rate limit', async () => {
      const alice = await c.signIn();
      const stranger = await c.signIn();
      await c.grant(alice, 'guarded');
      await c.post(alice, 'guarded', 'secret plans');
      const search = (who, q) => c.api(`/v1/channels/guarded/search?${q}`, { token: who.token });
      assert.equal((await search(stranger, 'q=secret')).status, 403);
      assert.equal((await c.api('/v1/channels/guarded/search?q=secret')).status, 401);
      const words = Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ');
      for (const [q, code] of [['', 'invalid_query'], ['q=', 'invalid_query'], ['q=%21%3F%20', 'invalid_query'],
        [`q=${encodeURIComponent(words)}`, 'invalid_query'], [`q=${'a'.repeat(513)}`, 'invalid_query'],
        ['q=x&author=0x12', 'invalid_author'], ['has=file', 'invalid_has'], ['has=', 'invalid_has'],
        ['has=link,poll,forward,link', 'invalid_has'], ['has=LINK', 'invalid_has'], ['mentions=nope', 'invalid_mentions'], ['q=x&limit=0', 'invalid_limit'], ['q=x&limit=101', 'invalid_limit'],
        ['q=x&before_seq=-1', 'invalid_before_seq']]) {
        const r = await search(alice, q);
        assert.equal(r.status, 400, q);
        assert.equal((await r.json()).error.code, code, q);
      }
      assert.equal((await search(alice, `q=${encodeURIComponent(words.split(' ').slice(0, 16).join(' '))}`)).status, 200);

      // A server with a small search budget: past the burst, 429 with Retry-After, per account.
      const tightDb = freshDatabase('sqlite');
      const tight = await startServer([...tightDb.flags, ...chatFlags, '--search-rate-limit', '0.5', '--search-rate-burst', '3']);
      try {
        const t = client(tight);
        const bob = await t.signIn();
        const carol = await t.signIn();
        await t.grant(bob, 'q');
        await t.grant(carol, 'q');
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await t.api('/v1/channels/q/search?q=x', { token: bob.token })).status);
        assert.deepEqual(statuses, [200, 200, 200, 429]);
        const limited = await t.api('/v1/channels/q/search?q=x', { token: bob.token });
        assert.equal((await limited.json()).error.code, 'rate_limited');
        assert.ok(Number(limited.headers.get('retry-after')) >= 1);
        assert.equal((await t.api('/v1/channels/q/search?q=x', { token: carol.token })).status, 200);
      } finally {
        await tight.stop();
        tightDb.drop();
      }
    });
  });

  test(`messages written before the search index are indexed by messaging.search_backfill (${backend})`, async () => {
    const db = freshDatabase(backend);
    const flags = [...db.flags, ...chatFlags, '--message-rate-limit', '10000', '--message-rate-burst', '10000',
      '--search-rate-limit', '10000', '--search-rate-burst', '10000'];
    const rand = random(7);
    let server = await startServer(flags);
    try {
      let c = client(server);
      const alice = await c.signIn();
      await c.grant(alice, 'old');
      await c.grant(alice, 'older');
      const messages = new Map();
      for (let i = 0; i < 700; i++) {
        const channel = i % 10 === 0 ? 'older' : 'old';
        const body = `${rand() < 0.3 ? 'needle' : 'hay'} ${sentence(rand)}`;
        const m = await c.post(alice, channel, body);
        if (channel === 'old') messages.set(m.seq, { seq: m.seq, body, author: alice.address, deleted: false });
      }
      await server.stop();
      // The state the index's migration leaves: no terms, and every channel's messages to index.
      db.query('DELETE FROM msg_search_terms');
      db.query('INSERT INTO msg_search_backlog (channel_id, below_seq) SELECT channel_id, last_seq + 1 FROM msg_channels WHERE last_seq > 0');

      server = await startServer(flags);
      c = client(server);
      await c.grant(alice, 'old');
      const newest = await c.post(alice, 'old', 'needle after the upgrade');
      messages.set(newest.seq, { seq: newest.seq, body: newest.body, author: alice.address, deleted: false });
      // Until the backfill ran, a page whose window reaches the old messages says it may miss some.
      const partial = await (await c.api('/v1/channels/old/search?q=needle&limit=100', { token: alice.token })).json();
      assert.deepEqual([partial.messages.map((m) => m.seq), partial.partial], [[newest.seq], true], 'only what was written since is indexed yet');
      // Changes to old messages before the backfill reaches them.
      const edited = messages.get(5);
      edited.body = 'needle edited before its backfill';
      assert.equal((await c.api('/v1/channels/old/messages/5', { method: 'PATCH', token: alice.token, body: { body: edited.body } })).status, 200);
      const gone = [...messages.values()].find((m) => m.seq > 10 && m.body.startsWith('needle'));
      assert.equal((await c.api(`/v1/channels/old/messages/${gone.seq}`, { method: 'DELETE', token: alice.token })).status, 204);
      gone.deleted = true;
      await server.stop();

      // A row the current reading of text would not write (as an older version might have): the
      // result is checked against the body, so it matches nothing.
      db.query(`INSERT INTO msg_search_terms (term, channel_id, seq) VALUES ('stale', 'old', ${newest.seq})`);
      const run = runCommand(['jobs', 'run', 'messaging.search_backfill', ...db.flags]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(db.query('SELECT count(*) FROM msg_search_backlog'), '0');

      server = await startServer(flags);
      c = client(server);
      await c.grant(alice, 'old');
      const found = await searchAll(c, alice, 'old', { q: 'needle' }, 100);
      assertSame(found, expected(messages, 'needle'), 'every old message is found after the backfill');
      assert.deepEqual((await searchAll(c, alice, 'old', { q: 'edited backfill' }, 100)).map((m) => m.seq), [5]);
      assert.deepEqual(await searchAll(c, alice, 'old', { q: 'stale' }, 100), []);
      assert.deepEqual(await searchAll(c, alice, 'old', { q: 'needle stale' }, 100), []);
    } finally {
      await server.stop();
      db.drop();
    }
  });
}
