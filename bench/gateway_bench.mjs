// make bench-gateway: runs bench/ws_load (gh_ws_load) against a fresh release server per run
// (SQLite in a temporary directory, per-IP caps and rate limits lifted for the one loopback client)
// and against bench/ws_fanout_reference.mjs (Node's `ws`), each case repeated, and prints medians
// with their spread, ratios to the targets of the gateway and to the measured Node baseline.
// Reports only: exits non-zero only when something fails to run.
//   BENCH_CASES   space-separated SOCKETS:RATE:MESSAGES (default "1000:20:500 10000:1:25")
//   BENCH_REPS    runs of each case and server (default 3)
//   BENCH_SERVERS "gatehouse reference floor" (default all three; floor is bench/ws_floor.cpp,
//                 gh_ws_floor: one epoll thread, one write(2) per frame per socket, the floor of
//                 what one send per frame per socket costs over loopback TCP)
//   BENCH_JSON    file to which every run's figures are appended as JSON lines (optional)
//   BENCH_LOADGEN the load generator's binary (default build/release/bin/gh_ws_load), e.g. a copy of
//                 an older build to compare two generators against the same servers
//   BENCH_BASELINE_BIN another gatehouse binary (an older build), run as server "baseline" beside
//                 the others, interleaved, with the same flags; gatehouse is then printed as a ratio
//                 to it. A case with one socket measures the server's CPU per posted message.
//   BENCH_THREAD  1: gatehouse and baseline post in a thread of the channel (started on its own by
//                 the poster, subscribed to by the sockets), not in the channel
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startProcess } from './lib/process.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = process.env.GATEHOUSE_BIN ?? join(root, 'build/release/bin/gatehouse');
const loadgen = process.env.BENCH_LOADGEN ? resolve(process.env.BENCH_LOADGEN) : join(root, 'build/release/bin/gh_ws_load');
const floorBin = join(root, 'build/release/bin/gh_ws_floor');
const DOMAIN = 'bench.gatehouse.test';

const cases = (process.env.BENCH_CASES ?? '1000:20:500 10000:1:25').trim().split(/\s+/).map((c) => {
  const [sockets, rate, messages] = c.split(':').map(Number);
  return { sockets, rate, messages };
});
const reps = Number(process.env.BENCH_REPS ?? 3);
const baselineBin = process.env.BENCH_BASELINE_BIN ? resolve(process.env.BENCH_BASELINE_BIN) : null;
const servers = (process.env.BENCH_SERVERS ?? 'gatehouse reference floor').trim().split(/\s+/);
if (baselineBin && !servers.includes('baseline')) servers.splice(1, 0, 'baseline');

// Targets of the gateway (issue: at most 2 µs of CPU per frame, p99 under 5 ms at 1,000 sockets,
// at most 4 KiB per idle socket) and the figures quoted for Node's ws on a 2-core machine.
const TARGET_CPU_US = 2;
const TARGET_P99_MS_1000 = 5;
const TARGET_IDLE_KIB = 4;
const QUOTED_WS_CPU_US = [12, 13];
const QUOTED_WS_IDLE_KIB = 6.4;

async function waitReady(url) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became ready`);
}

function startServer(kind) {
  if (kind === 'reference') return { ...startProcess(process.execPath, [join(root, 'bench/ws_fanout_reference.mjs')]), cleanup() {} };
  if (kind === 'floor') return { ...startProcess(floorBin, []), cleanup() {} };
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ws-bench-'));
  const s = startProcess(kind === 'baseline' ? baselineBin : bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--roles', 'api,gateway,worker',
    '--chain', '31337=http://127.0.0.1:9', '--siwe-domain', DOMAIN,
    // One client IP opens every socket and sends every request: lift the per-IP defenses.
    '--max-connections', '30000', '--max-connections-per-ip', '30000', '--rate-limit', '100000', '--rate-burst', '100000',
    '--signin-rate-limit', '10000', '--signin-rate-burst', '10000', '--signin-address-rate-limit', '10000',
    '--signin-address-rate-burst', '10000', '--message-rate-limit', '10000', '--message-rate-burst', '10000',
    '--ws-max-sockets-per-account', '30000']);
  return { ...s, cleanup() { rmSync(dir, { recursive: true, force: true }); } };
}

function runLoadgen(args) {
  return new Promise((res, rej) => {
    const p = spawn(loadgen, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (c) => { out += c; });
    p.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`gh_ws_load exited ${code}`));
      try { res(JSON.parse(out.trim().split('\n').pop())); } catch (e) { rej(e); }
    });
  });
}

async function runOnce(kind, c) {
  const server = startServer(kind);
  try {
    const port = await server.listening;
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);
    const args = ['--url', url, '--pid', String(server.proc.pid), '--sockets', String(c.sockets),
      '--rate', String(c.rate), '--messages', String(c.messages), '--domain', DOMAIN];
    // The floor speaks the reference's frames: no sign-in, channel "bench".
    if (kind !== 'gatehouse' && kind !== 'baseline') args.push('--reference');
    else if (process.env.BENCH_THREAD === '1') args.push('--thread');
    return await runLoadgen(args);
  } finally {
    server.proc.kill('SIGTERM');
    const stopped = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r(null), 15_000))]);
    if (stopped === null) { server.proc.kill('SIGKILL'); await server.exited; }
    server.cleanup();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const figure = (runs, f, d = 1) => {
  const xs = runs.map(f);
  return `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;
};

const results = new Map(); // "kind sockets" -> runs
for (const c of cases) {
  for (let r = 0; r < reps; r++) {
    for (const kind of servers) {
      process.stderr.write(`== ${kind}: ${c.sockets} sockets, ${c.rate} msg/s x ${c.messages} (run ${r + 1}/${reps})\n`);
      const out = await runOnce(kind, c);
      if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, `${JSON.stringify(out)}\n`);
      process.stderr.write(`   p99 ${fmt(out.latency_p99_us / 1000, 2)} ms, lost ${out.lost_frames}, ` +
        `${fmt(out.cpu_us_per_frame, 2)} µs/frame, ${fmt(out.idle_bytes_per_socket / 1024, 2)} KiB/idle socket\n`);
      const key = `${kind} ${c.sockets}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(out);
    }
  }
}

const loads = [...results.values()].flat().map((o) => o.load_average);
console.log(`\ngateway fan-out: median (min–max) of ${reps} runs per row; CPU and memory are the server's; ` +
  `machine load average ${fmt(median(loads), 1)} (${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)}) on ${(await import('node:os')).cpus().length} cores`);
console.log('KiB/idle: (server RSS with C idle sockets - before) / C; marginal: the same between C/2 and C sockets');
console.log('server     sockets  msg/s  p50 ms        p99 ms          max ms          lost  KiB/idle sock  marginal       KiB/busy sock  CPU µs/frame    loadgen µs/frame');
for (const c of cases) {
  for (const kind of servers) {
    const runs = results.get(`${kind} ${c.sockets}`);
    console.log([kind.padEnd(10), String(c.sockets).padStart(7), String(c.rate).padStart(6),
      figure(runs, (o) => o.latency_p50_us / 1000, 2).padEnd(13), figure(runs, (o) => o.latency_p99_us / 1000, 2).padEnd(15),
      figure(runs, (o) => o.latency_max_us / 1000, 1).padEnd(15), String(Math.max(...runs.map((o) => o.lost_frames + o.duplicate_frames))).padStart(4),
      figure(runs, (o) => o.idle_bytes_per_socket / 1024, 2).padEnd(14),
      figure(runs, (o) => (o.marginal_idle_bytes_per_socket ?? NaN) / 1024, 2).padEnd(14),
      figure(runs, (o) => o.busy_bytes_per_socket / 1024, 2).padEnd(14),
      figure(runs, (o) => o.cpu_us_per_frame, 2).padEnd(15), figure(runs, (o) => o.loadgen_cpu_us_per_frame, 2)].join(' '));
  }
}

console.log('\nratios (gatehouse median / reference; below 1 is better for gatehouse)');
for (const c of cases) {
  const g = results.get(`gatehouse ${c.sockets}`);
  if (!g) continue;
  const cpu = median(g.map((o) => o.cpu_us_per_frame));
  const idle = median(g.map((o) => o.idle_bytes_per_socket / 1024));
  const marginal = median(g.map((o) => (o.marginal_idle_bytes_per_socket ?? NaN) / 1024));
  const p99 = median(g.map((o) => o.latency_p99_us / 1000));
  const lines = [`${c.sockets} sockets at ${c.rate} msg/s:`,
    `  CPU/frame   ${fmt(cpu, 2)} µs: ${fmt(cpu / TARGET_CPU_US, 2)}x the 2 µs target; ` +
      `${fmt(cpu / QUOTED_WS_CPU_US[0], 2)}–${fmt(cpu / QUOTED_WS_CPU_US[1], 2)}x the quoted ws 12–13 µs`,
    `  idle socket ${fmt(idle, 2)} KiB: ${fmt(idle / TARGET_IDLE_KIB, 2)}x the 4 KiB target; ` +
      `${fmt(idle / QUOTED_WS_IDLE_KIB, 2)}x the quoted ws 6.4 KiB`,
    `  marginal    ${fmt(marginal, 2)} KiB: ${fmt(marginal / TARGET_IDLE_KIB, 2)}x the 4 KiB target; ` +
      `${fmt(marginal / QUOTED_WS_IDLE_KIB, 2)}x the quoted ws 6.4 KiB`];
  if (c.sockets === 1000) lines.push(`  p99         ${fmt(p99, 2)} ms: ${fmt(p99 / TARGET_P99_MS_1000, 2)}x the 5 ms target`);
  const ref = results.get(`reference ${c.sockets}`);
  if (ref) {
    const rcpu = median(ref.map((o) => o.cpu_us_per_frame));
    const ridle = median(ref.map((o) => o.idle_bytes_per_socket / 1024));
    const rmarginal = median(ref.map((o) => (o.marginal_idle_bytes_per_socket ?? NaN) / 1024));
    const rp99 = median(ref.map((o) => o.latency_p99_us / 1000));
    lines.push(`  measured against Node ws here: CPU/frame ${fmt(cpu / rcpu, 2)}x (${fmt(rcpu, 2)} µs), ` +
      `idle socket ${fmt(idle / ridle, 2)}x (${fmt(ridle, 2)} KiB; marginal ${fmt(marginal / rmarginal, 2)}x, ` +
      `${fmt(rmarginal, 2)} KiB), p99 ${fmt(p99 / rp99, 2)}x (${fmt(rp99, 2)} ms)`);
  }
  const base = results.get(`baseline ${c.sockets}`);
  if (base) {
    const bcpu = median(base.map((o) => o.cpu_us_per_frame));
    const bp99 = median(base.map((o) => o.latency_p99_us / 1000));
    const bidle = median(base.map((o) => o.idle_bytes_per_socket / 1024));
    lines.push(`  against the baseline binary: CPU/frame ${fmt(cpu / bcpu, 2)}x (${fmt(bcpu, 2)} µs), ` +
      `p99 ${fmt(p99 / bp99, 2)}x (${fmt(bp99, 2)} ms), idle socket ${fmt(idle / bidle, 2)}x (${fmt(bidle, 2)} KiB)`);
  }
  const floor = results.get(`floor ${c.sockets}`);
  if (floor) {
    const fcpu = median(floor.map((o) => o.cpu_us_per_frame));
    const fidle = median(floor.map((o) => o.idle_bytes_per_socket / 1024));
    const fp99 = median(floor.map((o) => o.latency_p99_us / 1000));
    lines.push(`  against the floor (one write(2) per frame per socket): CPU/frame ${fmt(cpu / fcpu, 2)}x ` +
      `(${fmt(fcpu, 2)} µs, itself ${fmt(fcpu / TARGET_CPU_US, 2)}x the 2 µs target), idle socket ${fmt(idle / fidle, 2)}x ` +
      `(${fmt(fidle, 2)} KiB), p99 ${fmt(p99 / fp99, 2)}x (${fmt(fp99, 2)} ms)`);
  }
  console.log(lines.join('\n'));
}
