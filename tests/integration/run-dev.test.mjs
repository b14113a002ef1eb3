// `make run` (scripts/run-dev): with no chain configured it starts the dev chain and serves it,
// on SQLite in the data dir; SIGTERM stops the server and the chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { freePort } from './lib/anvil.mjs';
import { waitReady } from './lib/harness.mjs';

const root = resolve(import.meta.dirname, '../..');

test('make run serves the dev chain on SQLite and stops cleanly', async () => {
  // `make test` builds first; a missing symlink is a broken build, not a reason to skip.
  assert.ok(existsSync(join(root, 'build/gatehouse')), 'build/gatehouse is missing (make build creates it)');
  const dir = mkdtempSync(join(tmpdir(), 'gh-run-'));
  // The port is free when chosen; if another process binds it first the server exits at once,
  // and a new port is tried.
  let port, proc, exited;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    proc = spawn(join(root, 'scripts/run-dev'), ['--listen', `127.0.0.1:${port}`],
      { env: { ...process.env, DATA_DIR: dir }, stdio: 'ignore', detached: true });
    exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    const outcome = await Promise.race([
      waitReady(`http://127.0.0.1:${port}`, 90_000).then(() => 'ready'),
      exited.then(() => 'exited'),
    ]);
    if (outcome === 'ready') break;
    assert.ok(attempt < 3, 'make run exited during start-up three times');
  }
  try {
    assert.ok(existsSync(join(dir, 'gatehouse.db')));
    const deployment = JSON.parse(readFileSync(join(dir, 'dev-chain.json'), 'utf8'));
    assert.equal(deployment.chain_id, 31337);
    // The dev chain is configured: a sign-in for chain 31337 passes the chain check.
    const wallet = Wallet.createRandom();
    const nonce = (await (await fetch(`http://127.0.0.1:${port}/v1/auth/nonce`, { method: 'POST' })).json()).nonce;
    const text = new SiweMessage({ domain: `localhost:${port}`, address: wallet.address, uri: `http://localhost:${port}/`,
      version: '1', chainId: 31337, nonce, issuedAt: new Date().toISOString() }).prepareMessage();
    const r = await fetch(`http://127.0.0.1:${port}/v1/auth/verify`, { method: 'POST',
      body: JSON.stringify({ message: text, signature: await wallet.signMessage(text) }) });
    assert.equal(r.status, 200, await r.clone().text());
  } finally {
    process.kill(proc.pid, 'SIGTERM');
    const exit = await exited;
    assert.equal(exit.code, 0);
    const left = spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', 'no server or chain left running');
    rmSync(dir, { recursive: true, force: true });
  }
});
