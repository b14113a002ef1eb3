// make bench-post: what posting a message costs the server, by the path it takes. A fresh release
// server per backend and run (SQLite in a temporary directory; PostgreSQL in a fresh database when
// build/test-services.env names one), roles api,gateway,worker, one community whose members joined
// through the API, and then, in a rotating order, each case: M messages posted over HTTP by S
// concurrent senders (keep-alive fetch), until the server settled (every bus consumer's lag at 0 on
// /metrics, the notifications written, then no CPU for 200 ms), so the work a post leaves behind (notifications, fan-out to the sockets, read markers)
// is counted with it. Each case checks that the work was done (the messages numbered, the
// notifications written) before its figures count.
//
// Printed per backend and case: the server's CPU per post (utime + stime of the server process from
// /proc, from the first post until it settled; on a PostgreSQL on this machine, the database's own
// CPU beside it, its processes listed by pg_stat_activity), posts per second while posting (what the senders
// saw), posts per second settled (the posts over the time until the server settled: what it
// sustains, the work they left behind included), and the client's latency p50 and p99 per request; medians over the runs with their spread, and each case as a ratio to the
// plain channel message of the same run. With BENCH_BASELINE_BIN, another gatehouse binary (an
// older build) runs beside it, interleaved, doing the same work, and gatehouse is printed as a
// ratio to it (on PostgreSQL also server and database together). Reports only: exits non-zero only when something fails to run or a check fails.
//
//   BENCH_CASES    of "channel followed mention reply thread forum" (default all)
//   BENCH_POSTS    messages per case and run (default 900; a forum holds at most 1,000 posts)
//   BENCH_SENDERS  concurrent senders, each its own account (default 4)
//   BENCH_MEMBERS  members of the community besides the senders (default 50)
//   BENCH_REPS     runs per backend (default 3)
//   BENCH_BACKENDS of "sqlite postgres" (default sqlite, plus postgres when configured)
//   BENCH_BASELINE_BIN another gatehouse binary, run as "baseline" with the same flags and cases
//   BENCH_JSON     file to which each run's figures are appended as JSON lines (optional)
//   BENCH_PERF     a prefix: perf record of the server during each case of the first run goes to
//                  PREFIX.CASE.data (BENCH_PERF_CALLGRAPH: perf's --call-graph mode, default fp)
//
// The cases:
//   channel   a text channel's message (the baseline of the ratios)
//   followed  the same in a channel every member follows (`all_messages`): a notification each
//   mention   a message naming one member by address: a `messaging.mention` and its notification
//   reply     a reply to the channel's previous message
//   thread    a message in a thread of a text channel
//   forum     a new forum post: a thread and its first message
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startProcess } from './lib/process.mjs';
import { testPostgresUrl } from './lib/services.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = process.env.GATEHOUSE_BIN ?? join(root, 'build/release/bin/gatehouse');
const baselineBin = process.env.BENCH_BASELINE_BIN ? resolve(process.env.BENCH_BASELINE_BIN) : null;
const DOMAIN = 'bench.gatehouse.test';
const ALL_CASES = ['channel', 'followed', 'mention', 'reply', 'thread', 'forum'];
const cases = (process.env.BENCH_CASES ?? ALL_CASES.join(' ')).trim().split(/\s+/);
for (const c of cases) if (!ALL_CASES.includes(c)) throw new Error(`BENCH_CASES: unknown case ${c}`);
const POSTS = Number(process.env.BENCH_POSTS ?? 900);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 4);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50);
const reps = Number(process.env.BENCH_REPS ?? 3);
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
if (cases.includes('forum') && POSTS > 1000) throw new Error('BENCH_POSTS: a forum holds at most 1,000 posts');

const pgAdmin = testPostgresUrl(root);
const backends = (process.env.BENCH_BACKENDS ?? (pgAdmin ? 'sqlite postgres' : 'sqlite')).trim().split(/\s+/);
if (backends.includes('postgres') && !pgAdmin) throw new Error('BENCH_BACKENDS names postgres, but no PostgreSQL is configured');
const servers = baselineBin ? ['gatehouse', 'baseline'] : ['gatehouse'];

function psql(url, sql) {
  const r = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

let dbCounter = 0;
function freshDatabase(backend) {
  if (backend === 'postgres') {
    const name = `gh_bench_post_${process.pid}_${dbCounter++}`;
    psql(pgAdmin, `DROP DATABASE IF EXISTS ${name}`);
    psql(pgAdmin, `CREATE DATABASE ${name}`);
    const u = new URL(pgAdmin);
    u.pathname = `/${name}`;
    return { flags: ['--database', u.toString()], drop: () => psql(pgAdmin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-post-'));
  return { flags: ['--data-dir', dir], drop: () => rmSync(dir, { recursive: true, force: true }) };
}

function startServer(kind, db) {
  return startProcess(kind === 'baseline' ? baselineBin : bin, ['serve', '--listen', '127.0.0.1:0', ...db.flags,
    '--roles', 'api,gateway,worker', '--chain', '31337=http://127.0.0.1:9', '--siwe-domain', DOMAIN,
    // One loopback client signs in every account and sends every request: lift the per-IP and
    // per-account budgets, which would otherwise be what is measured.
    '--rate-limit', '1000000', '--rate-burst', '1000000', '--signin-rate-limit', '10000', '--signin-rate-burst', '10000',
    '--signin-address-rate-limit', '10000', '--signin-address-rate-burst', '10000',
    '--message-rate-limit', '1000000', '--message-rate-burst', '1000000']);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady(url) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error(`${url} never became ready`);
}

function cpuTicks(pid) {
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/**
 * PostgreSQL's own CPU: the processes pg_stat_activity lists (the server's connections, the WAL
 * writer, the checkpointer, ...), read from /proc when the database runs on this machine. A process
 * that exits in between takes its CPU with it; the pool's connections live as long as the server.
 */
function dbSnapshot(backend) {
  if (backend !== 'postgres' || !['127.0.0.1', 'localhost', '[::1]'].includes(new URL(pgAdmin).hostname)) return null;
  const r = spawnSync('psql', [pgAdmin, '-qAtc', 'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  const ticks = new Map();
  for (const pid of r.stdout.split('\n').filter(Boolean)) {
    try { ticks.set(pid, cpuTicks(pid)); } catch { /* gone already */ }
  }
  return ticks;
}
function dbTicksSince(before, backend) {
  if (!before) return NaN;
  let total = 0;
  for (const [pid, ticks] of dbSnapshot(backend)) total += ticks - (before.get(pid) ?? 0);
  return total;
}

function api(url) {
  return async (path, { method = 'GET', token, body, expect } = {}) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (expect !== undefined && r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

async function signIn(call) {
  const wallet = Wallet.createRandom();
  const { nonce } = await call('/v1/auth/nonce', { method: 'POST', expect: 200 });
  const message = new SiweMessage({ domain: DOMAIN, address: wallet.address, statement: 'Sign in.', uri: `https://${DOMAIN}/login`,
    version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString() }).prepareMessage();
  const { token } = await call('/v1/auth/verify', { method: 'POST', body: { message, signature: await wallet.signMessage(message) }, expect: 200 });
  return { address: wallet.address, token };
}

async function inBatches(items, size, f) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...await Promise.all(items.slice(i, i + size).map(f)));
  return out;
}

async function lag(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('gatehouse_bus_consumer_lag_events')) total += Number(line.split(' ').pop());
  return total;
}

/**
 * The work posts leave behind is done: every consumer's lag at 0 (the outbox drained), and then the
 * server quiet, at most one clock tick of CPU in 200 ms (notify's router expands its requests and
 * delivers on its own loop, after the event was consumed).
 */
async function settled(url, pid) {
  for (let i = 0; i < 3000; i++) {
    if (await lag(url) === 0) {
      const before = cpuTicks(pid);
      await sleep(200);
      if (cpuTicks(pid) - before <= 1 && await lag(url) === 0) return;
    } else {
      await sleep(10);
    }
  }
  throw new Error('the server never settled');
}

const unreadCount = async (call, account) => (await call('/v1/notifications/unread-count', { token: account.token, expect: 200 })).unread_count;

/** The community, its members and senders, and each case's channel, made through the API. */
async function setUp(call) {
  const owner = await signIn(call);
  const senders = await inBatches(Array.from({ length: SENDERS }), 8, () => signIn(call));
  const members = await inBatches(Array.from({ length: MEMBERS }), 8, () => signIn(call));
  const community = await call('/v1/communities', { method: 'POST', token: owner.token, body: { name: 'Bench', slug: `bench-${process.pid}-${Date.now()}` }, expect: 201 });
  await inBatches([...senders, ...members], 8, (a) => call(`/v1/communities/${community.id}/join`, { method: 'POST', token: a.token, expect: 200 }));
  const channel = async (name, type) => (await call(`/v1/communities/${community.id}/channels`, { method: 'POST', token: owner.token,
    body: { name, ...(type ? { type } : {}) }, expect: 201 })).id;
  const ids = {};
  for (const c of cases) ids[c] = await channel(`bench-${c}`, c === 'forum' ? 'forum' : undefined);
  if (cases.includes('followed')) {
    await inBatches(members, 8, (m) => call('/v1/notification-settings', { method: 'PUT', token: m.token, body: { all_messages: [ids.followed] }, expect: 200 }));
  }
  if (cases.includes('thread')) {
    ids.threadId = (await call(`/v1/channels/${ids.thread}/threads`, { method: 'POST', token: owner.token, body: { name: 'bench thread' }, expect: 201 })).id;
  }
  return { owner, senders, members, ids };
}

/** One case: POSTS requests by SENDERS senders, each awaiting its answer before the next. */
async function runCase(url, pid, call, world, c, tag, perfFile) {
  const { senders, members, ids } = world;
  const target = members[0];
  if (c === 'reply') await call(`/v1/channels/${ids.reply}/messages`, { method: 'POST', token: world.owner.token, body: { body: 'first', client_id: `${tag}-0` }, expect: 201 });
  const before = c === 'followed' || c === 'mention' ? await unreadCount(call, target) : 0;
  await settled(url, pid);
  const latencies = [];
  let next = 0;
  const request = (i) => {
    const body = { body: `message ${i} of the bench`, client_id: `${tag}-${i + 1}` };
    if (c === 'forum') return { path: `/v1/channels/${ids.forum}/threads`, body: { name: `post ${i}`, message: body } };
    if (c === 'thread') return { path: `/v1/channels/${ids.threadId}/messages`, body };
    if (c === 'mention') return { path: `/v1/channels/${ids.mention}/messages`, body: { ...body, body: `${body.body} @${target.address}` } };
    // Each reply answers the channel's message before it: with S senders, one of the latest.
    if (c === 'reply') return { path: `/v1/channels/${ids.reply}/messages`, body: { ...body, reply_to: Math.max(1, i - SENDERS + 1) } };
    return { path: `/v1/channels/${ids[c]}/messages`, body };
  };
  let perf = null;
  if (perfFile) {
    perf = spawn('perf', ['record', '--call-graph', process.env.BENCH_PERF_CALLGRAPH ?? 'fp', '-F', '999', '-p', String(pid), '-o', perfFile], { stdio: 'ignore' });
    await sleep(500);  // perf attached
  }
  const db0 = dbSnapshot(world.backend);
  const cpu0 = cpuTicks(pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(senders.map(async (s) => {
    for (let i = next++; i < POSTS; i = next++) {
      const { path, body } = request(i);
      const start = process.hrtime.bigint();
      const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await r.text();
      if (r.status !== 201) throw new Error(`${c}: POST ${path}: ${r.status} ${text}`);
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }));
  const posted = process.hrtime.bigint();
  if (c === 'followed' || c === 'mention') {
    for (let i = 0; await unreadCount(call, target) - before < POSTS; i++) {
      if (i === 3000) throw new Error(`${c}: the notifications were never all written`);
      await sleep(10);
    }
  }
  await settled(url, pid);
  const cpu = cpuTicks(pid) - cpu0;
  const dbCpu = dbTicksSince(db0, world.backend);
  // The quiet 200 ms that told the server settled are not part of its work.
  const done = Number(process.hrtime.bigint() - t0) / 1e9 - 0.2;
  if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf.on('exit', r)); }
  const wall = Number(posted - t0) / 1e9;

  // The work was done: every message numbered, every notification written.
  if (c === 'forum') {
    const forum = (await call(`/v1/channels/${ids.forum}/threads?limit=1`, { token: world.owner.token, expect: 200 }));
    const count = forum.threads?.length ?? forum.length;
    if (!count) throw new Error('forum: no post listed');
  } else {
    const channel = c === 'thread' ? ids.threadId : ids[c];
    const history = await call(`/v1/channels/${channel}/messages?limit=1`, { token: world.owner.token, expect: 200 });
    const last = (history.messages ?? history)[0];
    const expected = POSTS + (c === 'reply' ? 1 : 0);
    if (!last || last.seq !== expected) throw new Error(`${c}: last seq ${last?.seq}, expected ${expected}`);
  }
  if (c === 'followed' || c === 'mention') {
    const after = await unreadCount(call, target);
    if (after - before !== POSTS) throw new Error(`${c}: ${after - before} notifications for ${POSTS} messages`);
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { cpuUs: (cpu / TICK) * 1e6 / POSTS, dbCpuUs: (dbCpu / TICK) * 1e6 / POSTS, perSecond: POSTS / wall, settledPerSecond: POSTS / done, p50: q(0.5), p99: q(0.99) };
}

async function runServer(kind, backend, rep) {
  const db = freshDatabase(backend);
  const server = startServer(kind, db);
  try {
    const port = await server.listening;
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);
    const call = api(url);
    const world = { ...await setUp(call), backend };
    const out = {};
    // Rotate the order so that no case always runs on the emptiest or the fullest database.
    const order = cases.map((_, i) => cases[(i + rep) % cases.length]);
    for (const c of order) {
      const perfFile = process.env.BENCH_PERF && rep === 0 && kind === 'gatehouse' && backend === backends[0] ? `${process.env.BENCH_PERF}.${c}.data` : undefined;
      out[c] = await runCase(url, server.proc.pid, call, world, c, `${kind}-${rep}-${c}`, perfFile);
      const db = Number.isFinite(out[c].dbCpuUs) ? ` (+${out[c].dbCpuUs.toFixed(0)} in the database)` : '';
      process.stderr.write(`   ${c}: ${out[c].cpuUs.toFixed(0)} µs CPU/post${db}, ${out[c].perSecond.toFixed(0)} posts/s, ${out[c].settledPerSecond.toFixed(0)} settled/s, p50 ${out[c].p50.toFixed(2)} ms, p99 ${out[c].p99.toFixed(2)} ms\n`);
    }
    if (server.errors.length) process.stderr.write(`   server logged ${server.errors.length} warnings or errors, first: ${JSON.stringify(server.errors[0])}\n`);
    return out;
  } finally {
    server.proc.kill('SIGTERM');
    const stopped = await Promise.race([server.exited, sleep(15_000).then(() => null)]);
    if (stopped === null) { server.proc.kill('SIGKILL'); await server.exited; }
    db.drop();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const spread = (xs, d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

const runs = new Map(); // "kind backend" -> [{case: figures}]
for (let rep = 0; rep < reps; rep++) {
  for (const backend of backends) {
    for (const kind of servers) {
      process.stderr.write(`== ${kind} on ${backend}: ${POSTS} posts per case, ${SENDERS} senders, ${MEMBERS} members (run ${rep + 1}/${reps})\n`);
      const out = await runServer(kind, backend, rep);
      const key = `${kind} ${backend}`;
      if (!runs.has(key)) runs.set(key, []);
      runs.get(key).push(out);
      if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, JSON.stringify({ bench: 'post', kind, backend, rep, posts: POSTS, senders: SENDERS, members: MEMBERS, cases: out }) + '\n');
    }
  }
}

console.log(`\nPosting: ${POSTS} posts per case, ${SENDERS} concurrent senders, ${MEMBERS} members; medians over ${reps} runs (min–max)`);
for (const backend of backends) {
  for (const kind of servers) {
    const list = runs.get(`${kind} ${backend}`);
    console.log(`\n${kind} on ${backend}`);
    const withDb = list.every((r) => cases.every((c) => Number.isFinite(r[c].dbCpuUs)));
    console.log(`case      | µs CPU/post     | ${withDb ? 'database µs/post | ' : ''}× channel        | posts/s         | settled/s       | p50 ms           | p99 ms`);
    for (const c of cases) {
      const cpu = list.map((r) => r[c].cpuUs);
      const db = withDb ? `${spread(list.map((r) => r[c].dbCpuUs)).padEnd(16)} | ` : '';
      const ratio = cases.includes('channel') ? spread(list.map((r) => r[c].cpuUs / r.channel.cpuUs), 2) : '-';
      console.log(`${c.padEnd(9)} | ${spread(cpu).padEnd(15)} | ${db}${ratio.padEnd(16)} | ${spread(list.map((r) => r[c].perSecond)).padEnd(15)} | `
        + `${spread(list.map((r) => r[c].settledPerSecond)).padEnd(15)} | `
        + `${spread(list.map((r) => r[c].p50), 2).padEnd(16)} | ${spread(list.map((r) => r[c].p99), 2)}`);
    }
  }
  if (baselineBin) {
    const ours = runs.get(`gatehouse ${backend}`);
    const theirs = runs.get(`baseline ${backend}`);
    console.log(`\ngatehouse / baseline on ${backend} (CPU per post, run by run)`);
    const withDb = [...ours, ...theirs].every((r) => cases.every((c) => Number.isFinite(r[c].dbCpuUs)));
    if (withDb) console.log('case      | server           | server + database');
    for (const c of cases) {
      const total = withDb ? ` | ${spread(ours.map((r, i) => (r[c].cpuUs + r[c].dbCpuUs) / (theirs[i][c].cpuUs + theirs[i][c].dbCpuUs)), 2)}` : '';
      console.log(`${c.padEnd(9)} | ${spread(ours.map((r, i) => r[c].cpuUs / theirs[i][c].cpuUs), 2).padEnd(16)}${total}`);
    }
  }
}
