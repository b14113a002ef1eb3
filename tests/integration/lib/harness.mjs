// Starts the real gatehouse binary for integration tests, on SQLite or on a fresh PostgreSQL
// database, and reads its JSON log lines. GATEHOUSE_BIN names the binary (make test sets it).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { after } from 'node:test';

// Servers still running when a test file ends (a failed assertion skipped its stop) are killed,
// so that one failure cannot keep the runner waiting on child processes.
const running = new Set();
after(() => {
  for (const proc of running) proc.kill('SIGKILL');
});

export const bin = process.env.GATEHOUSE_BIN ?? resolve(import.meta.dirname, '../../../build/release/bin/gatehouse');
const pgAdmin = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? '';
const required = process.env.GATEHOUSE_REQUIRE_SERVICES === '1';

/** The backends to run on: SQLite always; PostgreSQL when the test services run. */
export function backends() {
  if (pgAdmin) return ['sqlite', 'postgres'];
  if (required) throw new Error('GATEHOUSE_TEST_POSTGRES_URL is unset but GATEHOUSE_REQUIRE_SERVICES=1');
  return ['sqlite'];
}

let counter = 0;
function psql(url, sql) {
  const r = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

// The server may hold the write lock when a test reads or writes: wait for it, as the server's own
// connections do, instead of failing with SQLITE_BUSY.
function sqlite(file, sql) {
  const r = spawnSync('sqlite3', ['-bail', '-cmd', '.timeout 10000', file, sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A fresh database for one test: returns the flags that select it, a query helper and cleanup. */
export function freshDatabase(backend) {
  const name = `gh_it_${process.pid}_${counter++}`;
  if (backend === 'postgres') {
    psql(pgAdmin, `DROP DATABASE IF EXISTS ${name}`);
    psql(pgAdmin, `CREATE DATABASE ${name}`);
    const u = new URL(pgAdmin);
    u.pathname = `/${name}`;
    const url = u.toString();
    return {
      flags: ['--database', url],
      url,
      query: (sql) => psql(url, sql),
      // Takes the database away from its clients (its connections ended, new ones refused), or
      // gives it back: a server restart or failover, as its clients see it.
      outage: (on) => {
        psql(pgAdmin, `ALTER DATABASE ${name} ALLOW_CONNECTIONS ${on ? 'false' : 'true'}`);
        if (on) psql(pgAdmin, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${name}'`);
      },
      drop: () => psql(pgAdmin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'gh-it-'));
  return {
    flags: ['--data-dir', dir],
    dir,
    query: (sql) => sqlite(join(dir, 'gatehouse.db'), sql),
    drop: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs the binary to completion (for commands that exit). */
export function runCommand(args, env = {}) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...cleanEnv(), ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('GATEHOUSE_') && !k.startsWith('GATEHOUSE_TEST_')) delete env[k];
  return env;
}

/** Starts `gatehouse serve` with the args; resolves once it logs "listening". */
export async function startServer(args, { env = {}, expectReady = true } = {}) {
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let stderr = '';
  let pending = '';
  const waiters = [];
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let line;
      try { line = JSON.parse(text); } catch { line = { unparsed: text }; }
      lines.push(line);
      for (const w of [...waiters]) if (w.match(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
    }
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { stderr += c; });
  running.add(proc);
  const exited = new Promise((res) => proc.on('exit', (code, signal) => {
    running.delete(proc);
    res({ code, signal });
  }));

  const server = {
    proc, lines, exited,
    get stderr() { return stderr; },
    waitForLog(match, timeoutMs = 15_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`log line not seen; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(t); res(l); } });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  const listening = await Promise.race([
    server.waitForLog((l) => l.msg === 'listening'),
    exited.then((e) => { throw new Error(`server exited early (${JSON.stringify(e)}): ${stderr}`); }),
  ]);
  server.port = listening.port;
  server.url = `http://127.0.0.1:${listening.port}`;
  if (expectReady) await waitReady(server.url);
  return server;
}

/** Polls /readyz until 200. */
export async function waitReady(url, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${url} never became ready`);
    await sleep(50);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `check` every `everyMs` until it returns something truthy, and returns that; throws
 * "timed out waiting for <what>" after `timeoutMs`.
 */
export async function until(what, check, timeoutMs = 30_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Sends raw bytes on a new TCP connection; resolves with everything read until the server closes,
 * `until(received)` holds (then the client closes; closedByServer is false) or the timeout.
 */
export function rawExchange(port, data, { timeoutMs = 5000, writeDelays = [], until = null } = {}) {
  return new Promise((resolveRaw) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const started = Date.now();
    const timer = setTimeout(() => { socket.destroy(); resolveRaw({ received, closedByServer: false, ms: Date.now() - started }); }, timeoutMs);
    socket.setEncoding('latin1');
    let byClient = false;
    socket.on('data', (d) => {
      received += d;
      if (until && until(received)) { byClient = true; socket.destroy(); }
    });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolveRaw({ received, closedByServer: !byClient, ms: Date.now() - started }); });
    socket.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (let i = 0; i < parts.length; i++) {
        if (socket.destroyed) return;
        socket.write(parts[i]);
        if (writeDelays[i]) await sleep(writeDelays[i]);
      }
    });
  });
}

/** The JSON error body of a response, asserting API.md's shape. */
export async function errorOf(response) {
  const body = await response.json();
  if (!body.error || typeof body.error.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not API.md's error shape: ${JSON.stringify(body)}`);
  }
  return body.error;
}
