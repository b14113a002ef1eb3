// `gatehouse dev-chain` as a process: it deploys the demo set on its own anvil, writes the JSON,
// prints the addresses, serves until SIGTERM, then exits 0 and takes anvil with it. The deployment
// is inspected with ethers (tests/chain/check-demo-deployment.mjs), not with our own code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bin, runCommand } from './lib/harness.mjs';

const root = resolve(import.meta.dirname, '../..');

async function rpcAnswers(url) {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
    return r.ok;
  } catch {
    return false;
  }
}

// A loopback port free right now (listened on, then released).
function freePort() {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => res(port)); });
  });
}

function waitForExit(child, timeoutMs) {
  return new Promise((resolveExit, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => { clearTimeout(timer); resolveExit({ code, signal }); });
  });
}

test('dev-chain deploys the demo set, serves it until SIGTERM, then exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-devchain-'));
  const out = join(dir, 'dev-chain.json');
  const port = await freePort();
  const child = spawn(bin, ['dev-chain', '--out', out, '--chain-id', '31338', '--port', String(port)],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GATEHOUSE_SOURCE_DIR: root } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  try {
    // The first run may compile the contracts (about 20 s with solcjs).
    const deadline = Date.now() + 120_000;
    while (!stdout.includes('Ctrl-C') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(stdout.includes('Ctrl-C'), `no summary; stdout: ${stdout}\nstderr: ${stderr}`);
    assert.ok(existsSync(out));
    const d = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(d.chain_id, 31338);
    assert.equal(d.rpc_url, `http://127.0.0.1:${port}`, '--port is honoured');
    // The demo set holds a contract that echoes its calldata (EIP-1271 must never accept it).
    const call = { to: d.contracts.EchoFallback, data: '0x1626ba7e' + '00'.repeat(32) };
    const echoed = await fetch(d.rpc_url, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [call, 'latest'] }) }).then((r) => r.json());
    assert.equal(echoed.result, call.data);
    for (const symbol of ['GTA', 'GTB', 'TUSD', 'WETH']) assert.ok(stdout.includes(d.tokens[symbol].address), symbol);
    for (const name of ['GTA/WETH', 'GTB/WETH', 'WETH/TUSD', 'GTA/TUSD']) assert.ok(stdout.includes(d.pairs[name].address), name);

    const check = spawnSync('node', [join(root, 'tests/chain/check-demo-deployment.mjs'), out], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /"ok":true/);

    child.kill('SIGTERM');
    const exit = await waitForExit(child, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, stderr);
    assert.equal(await rpcAnswers(d.rpc_url), false, 'anvil still answers after dev-chain stopped');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dev-chain rejects a bad chain id with exit 2 and one line', () => {
  const r = runCommand(['dev-chain', '--chain-id', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /chain-id/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('dev-chain --port on a port already taken fails with one line', async () => {
  const taken = createServer();
  await new Promise((res) => taken.listen(0, '127.0.0.1', res));
  try {
    const r = runCommand(['dev-chain', '--port', String(taken.address().port), '--out', join(tmpdir(), 'gh-unused.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not free/);
  } finally {
    taken.close();
  }
});
