// A real anvil (from the npm package) on a free loopback port, for tests that need a chain.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';

const root = resolve(import.meta.dirname, '../../..');

export function freePort() {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/**
 * Whether process `pid` holds the socket listening on loopback `port` (Linux /proc): an answer on
 * the port is then ours, not another test's anvil that bound it first.
 */
function listensOn(pid, port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth column.
      if (cols.length > 9 && cols[1].endsWith(`:${hexPort}`) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  let fds = [];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  return fds.some((fd) => {
    try { return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]); } catch { return false; }
  });
}

/**
 * Starts anvil; resolves with { url, chainId, stop() } once it answers eth_chainId. The port is
 * free when chosen but another process may bind it before anvil does: anvil then exits, and a new
 * port is tried (as devchain/anvil.cpp does). An answer counts only while our anvil is alive.
 */
export async function startAnvil({ chainId = 31337 } = {}) {
  const bin = process.env.GATEHOUSE_ANVIL ?? resolve(root, 'node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil');
  const maxPortTries = 3;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // States anvil no longer holds in memory go to a directory of our own, removed when it exits
    // (by default ~/.foundry/anvil/tmp, which a killed anvil leaves behind).
    const cache = mkdtempSync(join(tmpdir(), 'gh-anvil-'));
    const proc = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent',
      '--cache-path', cache], { stdio: 'ignore' });
    proc.on('exit', () => rmSync(cache, { recursive: true, force: true }));
    let exited = false;
    proc.on('exit', () => { exited = true; });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (!exited) {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
        if (r.ok && !exited) {
          const { result } = await r.json();
          if (Number(result) !== chainId || !listensOn(proc.pid, port)) {
            // Another process holds the port: ours cannot bind it and exits; try another port.
            proc.kill('SIGKILL');
            if (attempt >= maxPortTries) throw new Error(`something else answers on port ${port}`);
            break;
          }
          return { url, chainId, stop: () => { proc.kill('SIGTERM'); } };
        }
      } catch (e) {
        if (e.message.startsWith('something else')) throw e;
      }
      if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error('anvil did not start'); }
      await new Promise((r) => setTimeout(r, 50));
    }
    // Exited during start-up (or killed above): most likely the port was taken in between.
    if (attempt >= maxPortTries) throw new Error(`anvil exited during start-up ${attempt} times`);
  }
}

/** The compiled artifact { abi, bytecode } of one of our contracts (building them if needed). */
export function contractArtifact(name) {
  const path = resolve(root, 'build/contracts', `${name}.json`);
  if (!existsSync(path)) {
    const r = spawnSync('node', [resolve(root, 'scripts/build-contracts.mjs')], { encoding: 'utf8', cwd: root });
    if (r.status !== 0) throw new Error(`build-contracts failed: ${r.stderr}${r.stdout}`);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}
