// make bench-indexer, end-to-end part: the release server backfills the chain of
// bench/indexer_chain.mjs (200,000 ERC-20 transfers by MultiSender batches plus a few thousand
// Uniswap V2 swaps, cached under build/bench-chain/) from a loopback anvil into its projections, on
// SQLite and on PostgreSQL (when build/test-services.env provides GATEHOUSE_TEST_POSTGRES_URL), and
// Ponder 0.16 (bench/ponder/, installed apart by `npm ci --prefix bench/ponder`) does the same work
// on the same anvil in the same run: on its embedded PGlite, and on a fresh PostgreSQL database
// when one is configured. Each gatehouse backend is printed against the Ponder median of this run
// (SQLite against PGlite, PostgreSQL against Ponder on PostgreSQL); only without bench/ponder's
// node_modules does the summary fall back to a quoted figure (2,050 logs/s), labelled as quoted.
// Each run starts a fresh process (fresh database: no RPC cache survives a run) with every contract
// tracked from its deployment block. Gatehouse is timed from server start to every pipeline's
// checkpoint at the head and every tracked contract following (GET /v1/indexer/status, polled every
// 100 ms); Ponder from process start to both /ready answering 200 (its historical indexing is
// complete) and /status showing the head block (polled every 100 ms too). Before the runs, anvil
// mines BENCH_FINALITY_PAD empty blocks on top of the chain: Ponder treats the last 30 blocks of
// chain 31337 as unfinalized and indexes them one block at a time in its live path, which would
// put the chain's last 30 blocks of logs (about a tenth of them) there; with the padding every log
// is behind its finality window, so both sides backfill all of them.
// It prints the logs applied (Ponder: the events its handlers processed), wall seconds, logs/s, CPU
// seconds of the server (of Ponder's process tree) and of anvil (/proc/PID/stat) and the load
// average, then checks the result against an independent reading: ethers balanceOf for every
// token and every address the chain knows, and getReserves() of the pairs, at the chain's last
// block of logs (gatehouse's tables read from its database, Ponder's through its API route
// GET /bench/state).
// Reports only: exits non-zero when something fails to run or a result differs, on either side.
//   BENCH_REPS      runs per backend (default 3), interleaved: rep 1 of every backend, then rep 2...
//   BENCH_BACKENDS  of "sqlite postgres ponder ponder-postgres" (default: sqlite and ponder, plus
//                   postgres and ponder-postgres when PostgreSQL is configured; the ponder ones
//                   only when bench/ponder/node_modules exists)
//   BENCH_FINALITY_PAD  empty blocks mined on top of the chain before the runs (default 30)
//   BENCH_PERF      a file: perf record -g of the server during the first SQLite run goes there
//   BENCH_PERF_CALLGRAPH  perf's --call-graph mode (default fp; dwarf also unwinds SQLite and libc)
//   BENCH_JSON      a file to which every run's figures are appended as JSON lines
//   BENCH_SERVER_LOG, BENCH_LOG_LEVEL: a file for the servers' log lines (Ponder's too), and their
//                   level (info)
//   BENCH_TRANSFERS, BENCH_SWAPS, BENCH_HOLDERS: the chain's size (see indexer_chain.mjs)
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ethers } from 'ethers';
import { chainInputs, ensureChain, freePort, holderAddresses, rpc, startAnvil } from './indexer_chain.mjs';
import { startProcess } from './lib/process.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = process.env.GATEHOUSE_BIN ?? join(root, 'build/release/bin/gatehouse');
const ponderDir = join(root, 'bench/ponder');
const ponderBin = join(ponderDir, 'node_modules/ponder/dist/esm/bin/ponder.js');
const ponderInstalled = existsSync(ponderBin);
const reps = Number(process.env.BENCH_REPS ?? 3);
const pad = Number(process.env.BENCH_FINALITY_PAD ?? 30);
const pgAdmin = process.env.GATEHOUSE_TEST_POSTGRES_URL ?? '';
const TARGET = 20_000;          // logs/s end to end on SQLite (issue 11, point 10)
const PONDER_QUOTED = 2_050;    // Ponder 0.16 as quoted by the issue: only when Ponder is not installed
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const BACKENDS = ['sqlite', 'ponder', 'postgres', 'ponder-postgres'];
// The Ponder backend each gatehouse backend is compared with: the same kind of database.
const COUNTERPART = { sqlite: 'ponder', postgres: 'ponder-postgres' };
const isPonder = (backend) => backend.startsWith('ponder');

const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function selectBackends() {
  if (process.env.BENCH_BACKENDS) {
    const chosen = process.env.BENCH_BACKENDS.trim().split(/\s+/);
    for (const b of chosen) if (!BACKENDS.includes(b)) throw new Error(`BENCH_BACKENDS: unknown backend ${b} (of ${BACKENDS.join(' ')})`);
    if (chosen.some(isPonder) && !ponderInstalled) throw new Error('BENCH_BACKENDS names Ponder, which is not installed: npm ci --prefix bench/ponder');
    if (chosen.some((b) => b.endsWith('postgres')) && !pgAdmin) throw new Error('BENCH_BACKENDS names PostgreSQL, but GATEHOUSE_TEST_POSTGRES_URL is not set');
    return chosen;
  }
  if (!ponderInstalled) {
    console.log(`Ponder is not installed (npm ci --prefix bench/ponder): comparing with the quoted ${fmt(PONDER_QUOTED)} logs/s instead`);
  }
  return BACKENDS.filter((b) => (ponderInstalled || !isPonder(b)) && (pgAdmin || !b.endsWith('postgres')));
}
const backends = selectBackends();

// A process's own CPU seconds (utime + stime), those of the children it has reaped (cutime +
// cstime), and its parent's pid.
function procTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { own: (Number(fields[11]) + Number(fields[12])) / TICK, reaped: (Number(fields[13]) + Number(fields[14])) / TICK,
    ppid: Number(fields[1]) };
}

function cpuSeconds(pid) {
  return procTimes(pid).own;
}

/** CPU seconds of a process and its descendants: the live ones, and those it and they have reaped. */
function treeCpuSeconds(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { ppid } = procTimes(entry);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  let total = 0;
  for (const queue = [pid]; queue.length > 0;) {
    const p = queue.pop();
    try {
      const t = procTimes(p);
      total += t.own + t.reaped;
    } catch { /* gone meanwhile */ }
    queue.push(...(children.get(p) ?? []));
  }
  return total;
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
function pgDatabase() {
  const name = `gh_bench_idx_${process.pid}_${dbCounter++}`;
  psql(pgAdmin, `DROP DATABASE IF EXISTS ${name}`);
  psql(pgAdmin, `CREATE DATABASE ${name}`);
  const u = new URL(pgAdmin);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => psql(pgAdmin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

function freshDatabase(backend) {
  if (backend === 'postgres') {
    const { url, drop } = pgDatabase();
    return { flags: ['--database', url], query: (sql) => psql(url, sql), drop };
  }
  if (backend === 'ponder-postgres') {
    // Ponder's sync store (its RPC cache, schema ponder_sync) lives in the same fresh database.
    const { url, drop } = pgDatabase();
    return { env: { PONDER_DATABASE_URL: url }, drop };
  }
  const dir = mkdtempSync(join(tmpdir(), backend === 'ponder' ? 'gh-bench-ponder-' : 'gh-bench-idx-'));
  if (backend === 'ponder') return { env: { PONDER_PGLITE_DIR: dir }, drop: () => rmSync(dir, { recursive: true, force: true }) };
  const file = () => join(dir, readdirSync(dir).find((f) => f.endsWith('.db') || f.endsWith('.sqlite')) ?? 'gatehouse.db');
  return { flags: ['--data-dir', dir], query: (sql) => sqlite(file(), sql), drop: () => rmSync(dir, { recursive: true, force: true }) };
}

function startServer(args) {
  return startProcess(bin, ['serve', '--listen', '127.0.0.1:0', ...args]);
}

/**
 * `ponder start` of bench/ponder with its JSON log lines on stdout (warnings and errors kept, every
 * line appended to BENCH_SERVER_LOG), telemetry off, its HTTP server on `port` of the loopback.
 */
function startPonder(port, env) {
  const clean = { ...process.env };
  for (const k of ['DATABASE_URL', 'DATABASE_PRIVATE_URL', 'DATABASE_SCHEMA', 'PORT']) delete clean[k];
  return startProcess(process.execPath, [ponderBin, 'start', '--root', ponderDir, '--schema', 'bench',
    '--port', String(port), '--hostname', '127.0.0.1', '--log-format', 'json', '--log-level', process.env.BENCH_LOG_LEVEL ?? 'info'],
  { cwd: ponderDir, env: { ...clean, PONDER_TELEMETRY_DISABLED: 'true', ...env },
    problem: (line) => line.level >= 40 });  // pino's levels: 40 warn, 50 error
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

/**
 * A result compared with the truth: balance rows [contract, holder, amount] and reserve rows
 * [pair, "r0,r1"] (lower-case addresses, decimal amounts), a list of differences (empty when equal).
 */
function compare(balanceRows, reserveRows, truth, meta) {
  const diffs = [];
  const seen = new Set();
  for (const [contract, holder, amount] of balanceRows) {
    const key = `${contract}|${holder}`;
    seen.add(key);
    const want = truth.balances.get(key) ?? '0';
    if (want !== amount) diffs.push(`balance ${key}: indexed ${amount}, balanceOf ${want}`);
  }
  for (const [key, want] of truth.balances) if (!seen.has(key)) diffs.push(`balance ${key}: indexed none, balanceOf ${want}`);
  const reserves = new Map(reserveRows);
  for (const p of meta.pairs) {
    const key = p.address.toLowerCase();
    if (reserves.get(key) !== truth.reserves.get(key)) diffs.push(`reserves ${key}: indexed ${reserves.get(key)}, getReserves ${truth.reserves.get(key)}`);
  }
  return { diffs, rows: seen.size };
}

/** Gatehouse's projections, read from its database. */
function compareServer(db, truth, meta) {
  const rows = (sql) => db.query(sql).split('\n').filter(Boolean).map((line) => line.split('|'));
  return compare(rows('SELECT contract, holder, amount FROM chain_erc20_balances WHERE chain_id = 31337'),
    rows('SELECT contract, reserves FROM chain_v2_pair_reserves WHERE chain_id = 31337'), truth, meta);
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

const expectedLogs = (meta) => meta.expected.erc20 + meta.expected.uniswap_v2 + meta.expected.multisend;

async function gatehouseRun(backend, meta, anvil, truth, perfFile) {
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
    const expected = expectedLogs(meta);
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
    const check = compareServer(db, truth, meta);
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

/** Ponder's Prometheus samples of `name`: { labels: value } with labels as the text in braces. */
function samples(text, name) {
  const out = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} ([0-9.e+-]+)$`, 'gm'))) out[m[1]] = Number(m[2]);
  return out;
}

async function ponderRun(backend, meta, anvil, truth) {
  const db = freshDatabase(backend);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const strip = ({ address, block }) => ({ address, block });
  const contracts = { tokens: meta.tokens.map(strip), factory: strip(meta.factory), pairs: meta.pairs.map(strip),
    multiSender: strip(meta.multiSender) };
  const load0 = loadavg()[0];
  const anvilCpu0 = cpuSeconds(anvil.pid);
  const t0 = performance.now();
  const ponder = startPonder(port, { PONDER_RPC_URL: anvil.url, PONDER_BENCH_CONTRACTS: JSON.stringify(contracts), ...db.env });
  const since = () => (performance.now() - t0) / 1000;
  try {
    // Done: historical indexing complete (/ready 200) and the head block indexed (/status).
    let up = null;
    let ready = null;
    let head = null;
    let exited = null;
    ponder.exited.then((e) => { exited = e; });
    for (;;) {
      if (exited) throw new Error(`ponder exited (${JSON.stringify(exited)}): ${ponder.stderr}${JSON.stringify(ponder.errors.slice(-3))}`);
      try {
        const [r, s] = await Promise.all([fetch(`${base}/ready`), fetch(`${base}/status`)]);
        up ??= since();
        if (r.status === 200) ready ??= since();
        await r.text();
        const block = s.ok ? (await s.json()).anvil?.block?.number : (await s.text(), undefined);
        if (block >= meta.head) head ??= since();
        if (ready !== null && head !== null) break;
      } catch { /* not listening yet */ }
      if (since() > 900) throw new Error('Ponder did not finish within 15 minutes');
      await sleep(100);
    }
    const wall = since();
    const serverCpu = treeCpuSeconds(ponder.proc.pid);
    const anvilCpu = cpuSeconds(anvil.pid) - anvilCpu0;
    const load1 = loadavg()[0];
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const events = samples(metrics, 'ponder_indexing_completed_events');
    const rpcCalls = {};
    for (const [labels, n] of Object.entries(samples(metrics, 'ponder_rpc_request_duration_count'))) {
      rpcCalls[/method="(\w+)"/.exec(labels)?.[1] ?? labels] = n;
    }
    const state = await (await fetch(`${base}/bench/state`)).json();
    ponder.proc.kill('SIGTERM');
    const applied = Object.values(events).reduce((a, b) => a + b, 0);
    const expected = expectedLogs(meta);
    const check = compare(state.balances.map(([token, holder, amount]) => [token.toLowerCase(), holder.toLowerCase(), amount]),
      state.reserves.map(([pair, reserves]) => [pair.toLowerCase(), reserves]), truth, meta);
    const run = { backend, applied, expected, wall, logsPerSecond: applied / wall, up, ready, head, serverCpu, anvilCpu,
      load: [load0, load1], rpc: rpcCalls, events, rows: state.rows, balances: check.rows, diffs: check.diffs.length,
      warnings: ponder.errors.length };
    console.log(`  ${backend} run: ${fmt(applied)} events in ${fmt(wall, 2)} s = ${fmt(run.logsPerSecond)} events/s ` +
      `(HTTP up ${fmt(up, 2)} s, /ready ${fmt(ready, 2)} s, block ${meta.head} ${fmt(head, 2)} s; ` +
      `${fmt(applied / (wall - up))} events/s from HTTP up); ` +
      `CPU Ponder ${fmt(serverCpu, 2)} s, anvil ${fmt(anvilCpu, 2)} s; load ${fmt(load0, 2)} -> ${fmt(load1, 2)}; ` +
      `RPC: ${Object.entries(rpcCalls).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; ` +
      `${fmt(check.rows)} balances + ${meta.pairs.length} reserves checked, ${check.diffs.length} differ` +
      (ponder.errors.length ? `; ${ponder.errors.length} warnings, first: ${JSON.stringify(ponder.errors[0]).slice(0, 400)}` : ''));
    if (applied !== expected) {
      console.log(`    events processed ${applied} != logs of the tracked contracts ${expected}: ` +
        Object.entries(events).map(([k, v]) => `${k} ${v}`).join(', '));
    }
    for (const d of check.diffs.slice(0, 10)) console.log(`    ${d}`);
    if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, `${JSON.stringify(run)}\n`);
    return run;
  } finally {
    if (ponder.proc.exitCode === null && ponder.proc.signalCode === null) {
      const timer = setTimeout(() => ponder.proc.kill('SIGKILL'), 15_000);  // its shutdown closes the database first
      if (!ponder.proc.killed) ponder.proc.kill('SIGTERM');
      await ponder.exited;
      clearTimeout(timer);
    }
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
  if (pad > 0) {
    await rpc(anvil.url, 'anvil_mine', [ethers.toQuantity(pad)]);
    console.log(`anvil mined ${pad} empty blocks on top (head ${Number(await rpc(anvil.url, 'eth_blockNumber'))}): ` +
      'every log is behind Ponder\'s 30-block finality window for chain 31337');
  }
  const truth = await readTruth(anvil.url, meta, meta.head);
  console.log(`truth: balanceOf of ${meta.tokens.length} tokens x ${fmt(truth.addresses)} addresses (${fmt(truth.balances.size)} non-zero), ` +
    `getReserves of ${meta.pairs.length} pairs, at block ${meta.head}`);
  const results = Object.fromEntries(backends.map((b) => [b, []]));
  // Interleaved, so that both sides share whatever else the machine is doing during the run.
  for (let i = 0; i < reps; i++) {
    for (const backend of backends) {
      const run = isPonder(backend)
        ? await ponderRun(backend, meta, anvil, truth)
        : await gatehouseRun(backend, meta, anvil, truth, backend === 'sqlite' && i === 0 ? process.env.BENCH_PERF : undefined);
      if (run.diffs > 0 || run.applied !== run.expected) failed = true;
      results[backend].push(run);
    }
  }
  const rateOf = (backend) => median(results[backend].map((r) => r.logsPerSecond));
  console.log('\n| backend | logs (events) | wall s | logs/s = events/s | server CPU s | anvil CPU s | load avg | vs Ponder 0.16 | vs target 20,000/s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [backend, runs] of Object.entries(results)) {
    const rate = rateOf(backend);
    const counterpart = COUNTERPART[backend];
    let vsPonder = '—';
    if (counterpart && results[counterpart]) {
      vsPonder = `${fmt(rate / rateOf(counterpart), 2)}x (${counterpart} ${fmt(rateOf(counterpart))}/s, measured)`;
    } else if (counterpart) {
      vsPonder = `${fmt(rate / PONDER_QUOTED, 1)}x (${fmt(PONDER_QUOTED)}/s, quoted)`;
    }
    console.log(`| ${backend} | ${fmt(runs[0].applied)} | ${spread(runs.map((r) => r.wall), 2)} | ${spread(runs.map((r) => r.logsPerSecond))} | ` +
      `${spread(runs.map((r) => r.serverCpu), 2)} | ${spread(runs.map((r) => r.anvilCpu), 2)} | ` +
      `${spread(runs.flatMap((r) => r.load), 2)} | ${vsPonder} | ${fmt(rate / TARGET, 2)}x |`);
  }
} finally {
  await anvil.stop();
}
if (failed) {
  console.log('FAILED: a result (gatehouse\'s or Ponder\'s) differs from the chain, or the logs applied (events processed) ' +
    'differ from the logs of the tracked contracts');
  process.exit(1);
}
