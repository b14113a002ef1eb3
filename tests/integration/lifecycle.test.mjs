// Process lifecycle through the real binary: draining on SIGTERM/SIGINT, readiness while the
// database is away (at start, and lost while running), events surviving SIGKILL between commit and
// dispatch (and during apply), and two servers migrating one PostgreSQL at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, freshDatabase, backends, rawExchange, sleep, errorOf, waitReady } from './lib/harness.mjs';

// Opens a keep-alive connection and sends one request; `answered` resolves with the first response,
// `closed` with everything received once the server closes the connection.
function idleConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let answer;
  const answered = new Promise((res) => { answer = res; });
  const closed = new Promise((res) => socket.on('close', () => res(received)));
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  socket.on('data', (d) => {
    received += d;
    if (/\r\n\r\n/.test(received)) answer(received);
  });
  socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
  return { answered, closed, destroy: () => socket.destroy() };
}

// The requests being handled, from /metrics (the scrape itself counts as one).
async function inFlight(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = text.match(/^gatehouse_http_requests_in_flight(?:\{\})? (\S+)$/m);
  assert.ok(m, 'in-flight gauge exported');
  return Number(m[1]);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal} drains: in-flight requests finish, idle connections close, exit 0`, async () => {
    const db = freshDatabase('sqlite');
    const server = await startServer([...db.flags, '--test-hooks']);
    const idle = idleConnection(server.port);
    try {
      // The slow request lasts far longer than closing an idle connection can take, so the order
      // of events below depends on behaviour, not on scheduling.
      let slowDone = false;
      const slow = fetch(`${server.url}/v1/_test/sleep?ms=4000`)
        .then(async (r) => ({ status: r.status, body: await r.json() }))
        .finally(() => { slowDone = true; });
      assert.match(await idle.answered, /HTTP\/1\.1 200 OK/);
      // Wait until the server is handling the slow request (in flight: it and this scrape).
      while ((await inFlight(server)) < 2) await sleep(20);
      server.proc.kill(signal);
      const idleReceived = await idle.closed;
      assert.equal(slowDone, false, 'the idle connection is closed at once, before in-flight requests finish');
      assert.equal(idleReceived.match(/HTTP\/1\.1 200 OK/g).length, 1);
      const slowResult = await slow;
      assert.equal(slowResult.status, 200);
      assert.equal(slowResult.body.slept_ms, 4000);
      const exit = await server.exited;
      assert.equal(exit.code, 0);
      assert.ok(server.lines.some((l) => l.msg === 'stopped'));
      await assert.rejects(fetch(`${server.url}/healthz`));
    } finally {
      idle.destroy();
      await server.stop('SIGKILL');
      db.drop();
    }
  });
}

test('readyz is 503 until the database is reachable; healthz stays 200', async () => {
  const server = await startServer(['--database', 'postgres://postgres@127.0.0.1:1/nothing?connect_timeout=1'], { expectReady: false });
  try {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const r = await fetch(`${server.url}/readyz`);
    assert.equal(r.status, 503);
    assert.equal((await errorOf(r)).code, 'not_ready');
    await server.waitForLog((l) => l.msg === 'database not ready; retrying');
  } finally {
    const exit = await server.stop();
    assert.equal(exit.code, 0);
  }
});

async function effects(server) {
  const r = await fetch(`${server.url}/v1/_test/effects`);
  assert.equal(r.status, 200);
  return (await r.json()).effects;
}

// Publishes a marker event and waits until it is applied. Delivery is in outbox order and the
// consumer's offset only moves forward, so once the marker is applied every earlier event has been
// handled for good: a redelivery would have shown before it, and none can come after it.
async function publishMarkerAndWait(server, n) {
  const r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: JSON.stringify({ n }) });
  assert.equal(r.status, 201);
  const { event_id } = await r.json();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const list = await effects(server);
    if (list.some((e) => e.event_id === event_id)) return list;
    if (Date.now() > deadline) throw new Error(`marker ${n} never applied: ${JSON.stringify(list)}`);
    await sleep(50);
  }
}

async function waitEffects(server, count, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await effects(server);
    if (list.length >= count) return list;
    if (Date.now() > deadline) throw new Error(`only ${list.length} effects`);
    await sleep(50);
  }
}

test('while the database comes up late, routes answer 503 until every context behind them exists', async () => {
  // The database's directory cannot be created while a file sits at its path: bring-up retries.
  const dir = mkdtempSync(join(tmpdir(), 'gh-late-'));
  const blocker = join(dir, 'late');
  writeFileSync(blocker, 'not a directory yet');
  const server = await startServer(['--database', `sqlite:${blocker}/gatehouse.db`, '--test-hooks',
    '--rate-limit', '100000', '--rate-burst', '100000', '--signin-rate-limit', '100000', '--signin-rate-burst', '100000'],
  { expectReady: false });
  try {
    await server.waitForLog((l) => l.msg === 'database not ready; retrying');
    let stop = false;
    let next = 0;
    let unready = 0;
    const accepted = [];
    // Requests of every kind race the bring-up: each is either 503 not_ready or fully served
    // (never a 500, a crash, or an event accepted with no bus to deliver it).
    const hammer = async () => {
      while (!stop) {
        const n = next++;
        const rs = await Promise.all([
          fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: JSON.stringify({ n }) }),
          fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' }),
          fetch(`${server.url}/readyz`),
        ]);
        for (const r of rs) {
          assert.ok([200, 201, 503].includes(r.status), `unexpected status ${r.status}`);
          if (r.status === 503) {
            assert.equal((await errorOf(r)).code, 'not_ready');
            unready++;
          } else {
            await r.arrayBuffer();
          }
        }
        if (rs[0].status === 201) accepted.push(n);
      }
    };
    const workers = Array.from({ length: 4 }, hammer);
    const until = async (cond, what) => {
      const deadline = Date.now() + 20_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
      }
    };
    await until(() => unready >= 40, '503s while the database is away');
    rmSync(blocker);
    await waitReady(server.url);
    await until(() => accepted.length >= 40, 'events accepted once ready');
    stop = true;
    await Promise.all(workers);
    const list = await waitEffects(server, accepted.length);
    assert.deepEqual(list.map((e) => e.n).sort((a, b) => a - b), [...accepted].sort((a, b) => a - b));
    assert.ok(list.every((e) => e.applied_count === 1));
  } finally {
    const exit = await server.stop();
    assert.equal(exit.code, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const backend of backends()) {
  test(`an event committed before a SIGKILL is delivered once after restart (${backend})`, async () => {
    const db = freshDatabase(backend);
    try {
      // No worker role: the event is committed but nothing dispatches it.
      let server = await startServer([...db.flags, '--test-hooks', '--roles', 'api']);
      const r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: '{"n":1}' });
      assert.equal(r.status, 201);
      const { event_id } = await r.json();
      assert.deepEqual(await effects(server), []);
      server.proc.kill('SIGKILL');
      assert.equal((await server.exited).signal, 'SIGKILL');

      server = await startServer([...db.flags, '--test-hooks']);
      let list = await waitEffects(server, 1);
      assert.deepEqual(list, [{ event_id, n: 1, applied_count: 1 }]);
      server.proc.kill('SIGKILL');
      await server.exited;

      // Another restart redelivers nothing: once a later event is applied, the first still counts one.
      server = await startServer([...db.flags, '--test-hooks']);
      list = await publishMarkerAndWait(server, 2);
      assert.deepEqual(list.map(({ n, applied_count }) => ({ n, applied_count })),
        [{ n: 1, applied_count: 1 }, { n: 2, applied_count: 1 }]);
      assert.equal(list[0].event_id, event_id);
      assert.equal((await server.stop()).code, 0);
    } finally {
      db.drop();
    }
  });

  test(`a SIGKILL while a consumer applies an event leaves it applied exactly once (${backend})`, async () => {
    const db = freshDatabase(backend);
    try {
      let server = await startServer([...db.flags, '--test-hooks'], { env: { GATEHOUSE_TEST_KILL_IN_APPLY: '1' } });
      // The consumer may kill the process before the response is written: the event is committed
      // either way, since consumers only ever see committed events.
      const r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: '{"n":2,"kill_during_apply":true}' })
        .catch(() => null);
      if (r) assert.equal(r.status, 201);
      const exit = await server.exited;
      assert.equal(exit.signal, 'SIGKILL', 'the consumer killed the process inside its transaction');

      server = await startServer([...db.flags, '--test-hooks']);
      const list = await waitEffects(server, 1);
      assert.equal(list.length, 1);
      assert.equal(list[0].n, 2);
      assert.equal(list[0].applied_count, 1);
      assert.equal((await server.stop()).code, 0);
    } finally {
      db.drop();
    }
  });
}

if (backends().includes('postgres')) {
  test('PostgreSQL lost while the server runs: requests answer 503 not_ready, the process lives on, and serves again once it is back', async () => {
    const db = freshDatabase('postgres');
    const server = await startServer([...db.flags, '--test-hooks', '--rate-limit', '100000', '--rate-burst', '100000']);
    try {
      const accepted = [];
      let next = 0;
      const publish = async () => {
        const n = next++;
        const r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: JSON.stringify({ n }) });
        if (r.status === 201) {
          accepted.push(n);
        } else {
          assert.equal(r.status, 503, `event ${n}: ${r.status}`);
          assert.equal((await errorOf(r)).code, 'not_ready');
          assert.ok(Number(r.headers.get('retry-after')) >= 1, 'a Retry-After');
        }
        return r.status;
      };
      for (let i = 0; i < 5; i++) assert.equal(await publish(), 201);
      await waitEffects(server, 5);

      // The database goes away: its connections end and new ones are refused. Every request that
      // needs it is refused as not ready (never a crash, never a 500), the rest are served.
      db.outage(true);
      let refused = 0;
      while (refused < 20) {
        if (await publish() === 503) refused++;
        assert.ok(next < 1000, 'requests kept being accepted with the database away');
      }
      const nonce = await fetch(`${server.url}/v1/auth/nonce`, { method: 'POST' });
      assert.equal(nonce.status, 503);
      assert.equal((await errorOf(nonce)).code, 'not_ready');
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((await errorOf(ready)).code, 'not_ready');
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.equal(server.proc.exitCode, null);

      // Back: the server is ready again on its own, accepts, and every accepted event is applied
      // once, those of before the outage included.
      db.outage(false);
      await waitReady(server.url);
      const before = accepted.length;
      while (accepted.length < before + 5) await publish();
      const list = await waitEffects(server, accepted.length);
      assert.deepEqual(list.map((e) => e.n).sort((a, b) => a - b), [...accepted].sort((a, b) => a - b));
      assert.ok(list.every((e) => e.applied_count === 1));
      assert.equal((await server.stop()).code, 0);
    } finally {
      await server.stop('SIGKILL');
      db.drop();
    }
  });

  test('two servers starting at once on one PostgreSQL migrate it safely', async () => {
    const db = freshDatabase('postgres');
    const servers = [];
    try {
      const started = await Promise.allSettled([
        startServer([...db.flags, '--test-hooks']),
        startServer([...db.flags, '--test-hooks']),
      ]);
      for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
      assert.equal(servers.length, 2, 'both servers started');
      const [a, b] = servers;
      const applied = [...a.lines, ...b.lines].filter((l) => l.msg === 'migration applied');
      assert.equal(db.query('SELECT count(*) FROM store_migrations'), String(applied.length),
        'each migration applied by exactly one server');
      assert.equal(new Set(applied.map((l) => `${l.module}/${l.migration}`)).size, applied.length);
      // Both serve, and an event published through one is applied once.
      const r = await fetch(`${a.url}/v1/_test/events`, { method: 'POST', body: '{"n":7}' });
      assert.equal(r.status, 201);
      await waitEffects(b, 1);
      // A second event, applied after the first by whichever server: the first was applied once.
      const list = await publishMarkerAndWait(b, 8);
      assert.deepEqual(list.map((e) => [e.n, e.applied_count]), [[7, 1], [8, 1]]);
      assert.equal((await a.stop()).code, 0);
      assert.equal((await b.stop()).code, 0);
    } finally {
      for (const s of servers) await s.stop('SIGKILL');
      db.drop();
    }
  });
}
