// make bench-indexer, end-to-end part: the release server backfills the chain of
// bench/indexer_chain.mjs (200,000 ERC-20 transfers by MultiSender batches plus a few thousand
// Uniswap V2 swaps, cached under build/bench-chain/) from a loopback anvil into its projections, on
// SQLite and on PostgreSQL (when build/test-services.env provides GATEHOUSE_TEST_POSTGRES_URL).
// Each run starts a fresh server (fresh database) with every contract tracked from its deployment
// block, and times server start -> every pipeline's checkpoint at the head and every tracked
// contract following (GET /v1/indexer/status, polled every 100 ms). It prints the logs applied,
// wall seconds, logs/s, CPU seconds of the server and of anvil (/proc/PID/stat) and the load
// average, then checks the projections against an independent reading: ethers balanceOf for every
// token and every address the chain knows, and getReserves() of the pairs, at the checkpoint block.
// Reports only: exits non-zero when something fails to run or a projection differs.
//   BENCH_REPS      runs per backend (default 3)
//   BENCH_BACKENDS  "sqlite postgres" (default: both when PostgreSQL is configured)
//   BENCH_PERF      a file: perf record -g of the server during the first SQLite run goes there
//   BENCH_PERF_CALLGRAPH  perf's --call-graph mode (default fp; dwarf also unwinds SQLite and libc)
//   BENCH_JSON      a file to which every run's figures are appended as JSON lines
//   BENCH_SERVER_LOG, BENCH_LOG_LEVEL: a file for the server's log lines, and its level (info)
//   BENCH_TRANSFERS, BENCH_SWAPS, BENCH_HOLDERS: the chain's size (see indexer_chain.mjs)
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { chainInputs, ensureChain, holderAddresses, startAnvil } from './indexer_chain.mjs';
import { startProcess } from './lib/process.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = process.env.GATEHOUSE_BIN ?? join(root, 'build/release/bin/gatehouse');
const reps = Number(process.env.BENCH_REPS ?? 3);
const pgAdmin = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? '';
const backends = (process.env.BENCH_BACKENDS ?? (pgAdmin ? 'sqlite postgres' : 'sqlite')).trim().split(/\s+/);
const TARGET = 20_000;   // logs/s end to end on SQLite (issue 11, point 10)
const PONDER = 2_050;    // Ponder 0.16 on this kind of chain and machine, as quoted by the issue
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;  // utime + stime
}

function psql(url, sql) {
  const r = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtF', '|', '-c', sql], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout;
}

function sqlite(path, sql) {
  const r = spawnSync('sqlite3', ['-separator', '|', path, sql], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout;
}

let dbCounter = 0;
function freshDatabase(backend) {
  if (backend === 'postgres') {
    const name = `gh_bench_idx_${process.pid}_${dbCounter++}`;
    psql(pgAdmin, `DROP DATABASE IF EXISTS ${name}`);
    psql(pgAdmin, `CREATE DATABASE ${name}`);
    const u = new URL(pgAdmin);
    u.pathname = `/${name}`;
    const url = u.toString();
    return { flags: ['--database', url], query: (sql) => psql(url, sql), drop: () => psql(pgAdmin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-idx-'));
  const file = () => join(dir, readdirSync(dir).find((f) => f.endsWith('.db') || f.endsWith('.sqlite')) ?? 'gatehouse.db');
  return { flags: ['--data-dir', dir], query: (sql) => sqlite(file(), sql), drop: () => rmSync(dir, { recursive: true, force: true }) };
}

function startServer(args) {
  return startProcess(bin, ['serve', '--listen', '127.0.0.1:0', ...args]);
}

/** balanceOf of every token for every address the chain knows, and the pairs' reserves, at `block`. */
async function readTruth(url, meta, block) {
  const provider = new ethers.JsonRpcProvider(url, meta.chainId, { staticNetwork: true, batchMaxCount: 200, cacheTimeout: -1 });
  const erc20 = ['function balanceOf(address) view returns (uint256)'];
  const addresses = [...holderAddresses(meta.inputs), meta.deployer, meta.multiSender.address, meta.staking.address,
    ...meta.pairs.map((p) => p.address)];
  const balances = new Map();
  for (const t of meta.tokens) {
    const c = new ethers.Contract(t.address, erc20, provider);
    for (let i = 0; i < addresses.length; i += 2000) {
      const chunk = addresses.slice(i, i + 2000);
      const values = await Promise.all(chunk.map((a) => c.balanceOf(a, { blockTag: block })));
      chunk.forEach((a, k) => { if (values[k] !== 0n) balances.set(`${t.address.toLowerCase()}|${a.toLowerCase()}`, values[k].toString()); });
    }
  }
  const reserves = new Map();
  const pairAbi = ['function getReserves() view returns (uint112, uint112, uint32)'];
  for (const p of meta.pairs) {
    const [r0, r1] = await new ethers.Contract(p.address, pairAbi, provider).getReserves({ blockTag: block });
    reserves.set(p.address.toLowerCase(), `${r0},${r1}`);
  }
  provider.destroy();
  return { balances, reserves, addresses: addresses.length };
}

/** The server's projections compared with the truth: a list of differences (empty when equal). */
function compare(db, truth, meta) {
  const diffs = [];
  const seen = new Set();
  for (const line of db.query('SELECT contract, holder, amount FROM chain_erc20_balances WHERE chain_id = 31337').split('\n')) {
    if (!line) continue;
    const [contract, holder, amount] = line.split('|');
    const key = `${contract}|${holder}`;
    seen.add(key);
    const want = truth.balances.get(key) ?? '0';
    if (want !== amount) diffs.push(`balance ${key}: server ${amount}, balanceOf ${want}`);
  }
  for (const [key, want] of truth.balances) if (!seen.has(key)) diffs.push(`balance ${key}: server none, balanceOf ${want}`);
  const reserves = new Map();
  for (const line of db.query('SELECT contract, reserves FROM chain_v2_pair_reserves WHERE chain_id = 31337').split('\n')) {
    if (line) reserves.set(...line.split('|'));
  }
  for (const p of meta.pairs) {
    const key = p.address.toLowerCase();
    if (reserves.get(key) !== truth.reserves.get(key)) diffs.push(`reserves ${key}: server ${reserves.get(key)}, getReserves ${truth.reserves.get(key)}`);
  }
  return { diffs, rows: seen.size };
}

function serverArgs(meta, anvilUrl) {
  const c = (pipeline, x) => ['--chain-contract', `31337:${pipeline}:${x.address}@${x.block}`];
  return [
    '--chain', `31337=${anvilUrl}`, '--chain-confirmations', '31337=0', '--log-level', process.env.BENCH_LOG_LEVEL ?? 'info',
    ...meta.tokens.flatMap((t) => c('erc20', t)),
    ...c('uniswap_v2', meta.factory), ...meta.pairs.flatMap((p) => c('uniswap_v2', p)),
    ...c('multisend', meta.multiSender), ...c('erc721', meta.nft), ...c('erc1155', meta.multiToken), ...c('staking', meta.staking),
  ];
}

async function oneRun(backend, meta, anvil, truth, perfFile) {
  const db = freshDatabase(backend);
  const load0 = loadavg()[0];
  const anvilCpu0 = cpuSeconds(anvil.pid);
  const t0 = performance.now();
  const server = startServer([...db.flags, ...serverArgs(meta, anvil.url)]);
  let perf = null;
  try {
    const port = await server.listening;
    if (perfFile) {
      perf = spawn('perf', ['record', '--call-graph', process.env.BENCH_PERF_CALLGRAPH ?? 'fp', '-F', '499', '-p', String(server.proc.pid), '-o', perfFile], { stdio: 'ignore' });
    }
    const expected = meta.expected.erc20 + meta.expected.uniswap_v2 + meta.expected.multisend;
    let status = null;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v1/indexer/status`);
        if (r.ok) {
          const chain = (await r.json()).chains.find((x) => x.chain_id === meta.chainId);
          if (chain && chain.head >= meta.head && chain.pipelines.length > 0 &&
              chain.pipelines.every((p) => p.checkpoint >= meta.head) &&
              chain.tracked_contracts.every((t) => t.state === 'following')) {
            status = chain;
            break;
          }
        }
      } catch { /* not ready yet */ }
      if (performance.now() - t0 > 900_000) throw new Error('the backfill did not finish within 15 minutes');
      await sleep(100);
    }
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.proc.pid);
    const anvilCpu = cpuSeconds(anvil.pid) - anvilCpu0;
    const load1 = loadavg()[0];
    // The poller's own clock per phase (gatehouse_chain_indexer_seconds_total).
    const phases = {};
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const m of text.matchAll(/^gatehouse_chain_indexer_seconds_total\{[^}]*phase="(\w+)"[^}]*\} ([0-9.e+-]+)$/gm)) {
        phases[m[1]] = Number(m[2]);
      }
    } catch { /* no metrics: figures without phases */ }
    if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf.on('exit', r)); perf = null; }
    server.proc.kill('SIGTERM');
    await server.exited;
    const applied = status.pipelines.reduce((s, p) => s + p.logs_applied, 0);
    const check = compare(db, truth, meta);
    const run = { backend, applied, expected, wall, logsPerSecond: applied / wall, serverCpu, anvilCpu, load: [load0, load1], phases,
      balances: check.rows, diffs: check.diffs.length, warnings: server.errors.length };
    console.log(`  ${backend} run: ${fmt(applied)} logs in ${fmt(wall, 2)} s = ${fmt(run.logsPerSecond)} logs/s; ` +
      `CPU server ${fmt(serverCpu, 2)} s, anvil ${fmt(anvilCpu, 2)} s; load ${fmt(load0, 2)} -> ${fmt(load1, 2)}; ` +
      `poller phases: ${Object.entries(phases).map(([k, v]) => `${k} ${fmt(v, 2)} s`).join(', ') || 'n/a'}; ` +
      `${fmt(check.rows)} balances + ${meta.pairs.length} reserves checked, ${check.diffs.length} differ` +
      (server.errors.length ? `; ${server.errors.length} warnings, first: ${JSON.stringify(server.errors[0])}` : ''));
    if (applied !== expected) console.log(`    logs applied ${applied} != logs of the tracked contracts ${expected}`);
    for (const d of check.diffs.slice(0, 10)) console.log(`    ${d}`);
    if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, `${JSON.stringify(run)}\n`);
    return run;
  } finally {
    if (perf) perf.kill('SIGINT');
    if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
    await server.exited;
    db.drop();
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
const spread = (xs, d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

const inputs = chainInputs();
const { statePath, meta, cached } = await ensureChain(inputs, console.log);
console.log(`chain: ${meta.head} blocks, ${fmt(meta.expected.erc20)} ERC-20 Transfer, ${fmt(meta.expected.uniswap_v2)} Uniswap V2, ` +
  `${fmt(meta.expected.multisend)} MultiSent logs (${cached ? 'cached' : 'generated'}: ${statePath})`);
const loadStarted = performance.now();
const anvil = await startAnvil(['--load-state', statePath]);
console.log(`anvil loaded the state in ${fmt((performance.now() - loadStarted) / 1000, 1)} s`);
let failed = false;
try {
  const truth = await readTruth(anvil.url, meta, meta.head);
  console.log(`truth: balanceOf of ${meta.tokens.length} tokens x ${fmt(truth.addresses)} addresses (${fmt(truth.balances.size)} non-zero), ` +
    `getReserves of ${meta.pairs.length} pairs, at block ${meta.head}`);
  const results = {};
  for (const backend of backends) {
    results[backend] = [];
    for (let i = 0; i < reps; i++) {
      const perfFile = backend === 'sqlite' && i === 0 ? process.env.BENCH_PERF : undefined;
      const run = await oneRun(backend, meta, anvil, truth, perfFile);
      if (run.diffs > 0 || run.applied !== run.expected) failed = true;
      results[backend].push(run);
    }
  }
  console.log('\n| backend | logs | wall s | logs/s | server CPU s | anvil CPU s | load avg | vs Ponder 2,050/s | vs target 20,000/s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [backend, runs] of Object.entries(results)) {
    const rate = median(runs.map((r) => r.logsPerSecond));
    console.log(`| ${backend} | ${fmt(runs[0].applied)} | ${spread(runs.map((r) => r.wall), 2)} | ${spread(runs.map((r) => r.logsPerSecond))} | ` +
      `${spread(runs.map((r) => r.serverCpu), 2)} | ${spread(runs.map((r) => r.anvilCpu), 2)} | ` +
      `${spread(runs.flatMap((r) => r.load), 2)} | ${fmt(rate / PONDER, 1)}x | ${fmt(rate / TARGET, 2)}x |`);
  }
} finally {
  await anvil.stop();
}
if (failed) {
  console.log('FAILED: a projection differs from the chain, or the logs applied differ from the logs of the tracked contracts');
  process.exit(1);
}
