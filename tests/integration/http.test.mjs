// The HTTP server through the real binary: probes, metrics checked by promtool, API.md's error
// shape, limits, rate limiting, request ids, access logs and read deadlines.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, freshDatabase, backends, rawExchange, errorOf } from './lib/harness.mjs';

for (const backend of backends()) {
  describe(`http server (${backend})`, () => {
    let server, db;
    before(async () => {
      db = freshDatabase(backend);
      server = await startServer([...db.flags, '--test-hooks', '--max-body-bytes', '4096', '--max-header-bytes', '2048',
        '--idle-timeout-ms', '1500', '--request-timeout-ms', '1000', '--rate-limit', '1000', '--rate-burst', '1000']);
    });
    after(async () => {
      const exit = await server.stop();
      assert.equal(exit.code, 0);
      db.drop();
    });

    test('healthz and readyz', async () => {
      let r = await fetch(`${server.url}/healthz`);
      assert.equal(r.status, 200);
      assert.equal((await r.json()).status, 'ok');
      r = await fetch(`${server.url}/readyz`);
      assert.equal(r.status, 200);
      const body = await r.json();
      assert.deepEqual(body.checks, { database: 'ok', migrations: 'ok', bus: 'ok' });
    });

    test('metrics pass promtool and carry the required families', async () => {
      await fetch(`${server.url}/v1/nowhere`);
      const r = await fetch(`${server.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
      for (const family of ['gatehouse_http_requests_total', 'gatehouse_http_request_duration_seconds_bucket',
        'gatehouse_http_requests_in_flight', 'gatehouse_db_pool_connections', 'process_resident_memory_bytes',
        'process_cpu_seconds_total', 'process_open_fds']) {
        assert.match(text, new RegExp(`^${family}`, 'm'), family);
      }
      assert.match(text, /gatehouse_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
      assert.match(text, /gatehouse_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    });

    test('unknown path 404, wrong method 405 with Allow, bad JSON 400, a target that is not UTF-8 400', async () => {
      let r = await fetch(`${server.url}/v1/nowhere`);
      assert.equal(r.status, 404);
      assert.equal((await errorOf(r)).code, 'not_found');
      r = await fetch(`${server.url}/healthz`, { method: 'POST' });
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
      assert.equal((await errorOf(r)).code, 'method_not_allowed');
      r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: '{"n": 1,', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400);
      assert.equal((await errorOf(r)).code, 'invalid_json');
      // Bytes that are not UTF-8 once percent-decoded, in a path or a query, name nothing (on
      // PostgreSQL they once reached a query and failed it with 500).
      for (const target of ['/v1/communities/%FF', '/v1/communities?cursor=%FF', '/v1/communities?%ED%A0%80=1']) {
        r = await fetch(`${server.url}${target}`);
        assert.equal(r.status, 400, target);
        assert.equal((await errorOf(r)).code, 'invalid_target', target);
      }
    });

    test('body and header limits answer 413', async () => {
      let r = await fetch(`${server.url}/v1/_test/events`, { method: 'POST', body: JSON.stringify({ n: 1, pad: 'x'.repeat(5000) }) });
      assert.equal(r.status, 413);
      assert.equal((await errorOf(r)).code, 'body_too_large');
      const raw = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(3000)}\r\n\r\n`);
      assert.match(raw.received, /^HTTP\/1\.1 413/);
      assert.match(raw.received, /"code":"headers_too_large"/);
    });

    test('every response has an X-Request-Id; a valid client id is echoed', async () => {
      let r = await fetch(`${server.url}/healthz`);
      assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
      r = await fetch(`${server.url}/v1/nowhere`, { headers: { 'x-request-id': 'trace-123' } });
      assert.equal(r.headers.get('x-request-id'), 'trace-123');
      const line = await server.waitForLog((l) => l.msg === 'request' && l.request_id === 'trace-123');
      assert.equal(line.status, 404);
      assert.equal(line.route, 'unmatched');
      assert.equal(typeof line.duration_ms, 'number');
      assert.equal(line.ip, '127.0.0.1');
    });

    test('keep-alive serves several requests on one connection', async () => {
      const req = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
      const three = (received) => (received.match(/HTTP\/1\.1 200 OK/g) ?? []).length >= 3;
      const raw = await rawExchange(server.port, [req, req, req], { timeoutMs: 20_000, writeDelays: [50, 50], until: three });
      assert.equal(raw.closedByServer, false, 'the connection stays open between requests');
      assert.equal(raw.received.match(/HTTP\/1\.1 200 OK/g).length, 3);
    });

    test('a slow client is disconnected at the deadline', async () => {
      // Headers never finish: the idle deadline (1.5 s here) closes the connection. The client
      // waits 30 s, far beyond any deadline, so only a missing deadline makes this fail.
      const raw = await rawExchange(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 30_000 });
      assert.equal(raw.closedByServer, true, 'closed by the server, not by the client giving up');
      assert.doesNotMatch(raw.received, /200 OK/);
      // A body that never finishes: the request deadline (1 s) applies.
      const body = await rawExchange(server.port, 'POST /v1/_test/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"n"', { timeoutMs: 30_000 });
      assert.equal(body.closedByServer, true, 'closed by the server, not by the client giving up');
      assert.doesNotMatch(body.received, /201 Created/);
    });

    test('malformed HTTP is answered 400 and closed', async () => {
      const raw = await rawExchange(server.port, 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n');
      assert.match(raw.received, /^HTTP\/1\.1 400/);
      assert.equal(raw.closedByServer, true);
    });
  });
}

test('per-IP rate limit answers 429 with Retry-After, and probes stay reachable', async () => {
  const db = freshDatabase('sqlite');
  // One token per 100 s: however slowly the requests go out, none is refilled during the test.
  const server = await startServer([...db.flags, '--rate-limit', '0.01', '--rate-burst', '3']);
  try {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${server.url}/v1/anything`);
      statuses.push(r.status);
      if (r.status === 429) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.equal((await errorOf(r)).code, 'rate_limited');
      } else {
        await r.body?.cancel();
      }
    }
    assert.deepEqual(statuses.slice(0, 3), [404, 404, 404]);
    assert.ok(statuses.slice(3).every((s) => s === 429), statuses.join(','));
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  } finally {
    await server.stop();
    db.drop();
  }
});
