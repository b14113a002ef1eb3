// make bench-thread-archive: what one run of the job messaging.thread_archive costs with many
// threads that are not due, as it runs every minute. Per backend (SQLite in a temporary directory;
// PostgreSQL in a fresh database when build/test-services.env names one) and binary, a fresh
// database migrated by that binary, then the same rows in msg_threads: BENCH_THREADS threads with a
// week's auto-archive time, active within the week (not due), 1% of them pinned posts quiet for
// long (never due), and BENCH_DUE threads due. The first run of the job must archive exactly the due
// ones (checked); then BENCH_REPS runs find none, each timed as a process (`gatehouse jobs run`),
// beside the same number of runs of a job that finds nothing to do (messaging.reports_purge), whose
// time is the process's own start and stop. Printed: the medians and spread of both, the job's own
// time (the difference), and with BENCH_BASELINE_BIN (another gatehouse binary, an older build, on
// its own database with the same rows, runs interleaved) gatehouse's own time as a ratio to it.
// Reports only: exits non-zero only when something fails to run or the check fails.
//
//   BENCH_THREADS  threads not due (default 300000)
//   BENCH_DUE      threads due at the first run (default 300)
//   BENCH_REPS     timed runs of each job per binary and backend (default 9)
//   BENCH_BACKENDS of "sqlite postgres" (default sqlite, plus postgres when configured)
//   BENCH_BASELINE_BIN another gatehouse binary, run as "baseline"
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testPostgresUrl } from './lib/services.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = process.env.GATEHOUSE_BIN ?? join(root, 'build/release/bin/gatehouse');
const baselineBin = process.env.BENCH_BASELINE_BIN ? resolve(process.env.BENCH_BASELINE_BIN) : null;
const THREADS = Number(process.env.BENCH_THREADS ?? 300_000);
const DUE = Number(process.env.BENCH_DUE ?? 300);
const REPS = Number(process.env.BENCH_REPS ?? 9);
const NOW = Date.now();
const HOUR = 3_600_000;

const pgAdmin = testPostgresUrl(root);
const backends = (process.env.BENCH_BACKENDS ?? (pgAdmin ? 'sqlite postgres' : 'sqlite')).trim().split(/\s+/);
if (backends.includes('postgres') && !pgAdmin) throw new Error('BENCH_BACKENDS names postgres, but no PostgreSQL is configured');
const binaries = baselineBin ? { gatehouse: bin, baseline: baselineBin } : { gatehouse: bin };

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

let counter = 0;
function freshDatabase(backend) {
  if (backend === 'postgres') {
    const name = `gh_bench_archive_${process.pid}_${counter++}`;
    run('psql', [pgAdmin, '-qAtc', `DROP DATABASE IF EXISTS ${name}`]);
    run('psql', [pgAdmin, '-qAtc', `CREATE DATABASE ${name}`]);
    const u = new URL(pgAdmin);
    u.pathname = `/${name}`;
    const url = u.toString();
    return {
      flags: ['--database', url],
      query: (sql) => run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]),
      drop: () => run('psql', [pgAdmin, '-qAtc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-archive-'));
  return {
    flags: ['--data-dir', dir],
    query: (sql) => run('sqlite3', ['-bail', '-cmd', '.timeout 10000', join(dir, 'gatehouse.db'), sql]),
    drop: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// The rows, the same on both backends: n counts from 1 (a recursive CTE on SQLite).
function seed(db, backend) {
  const numbers = (count) => backend === 'postgres'
    ? `SELECT g::bigint AS n FROM generate_series(1, ${count}) g`
    : `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${count}) SELECT n FROM s`;
  const insert = (prefix, count, minutes, lastMs, pinned) =>
    `INSERT INTO msg_threads (id, channel_id, seq, name, creator, created_ms, auto_archive_minutes, last_ms, pinned) ` +
    `SELECT '${prefix}' || n, 'ch' || (n % 500), NULL, 'thread', '0x00000000000000000000000000000000000000aa', 0, ${minutes}, ${lastMs}, ${pinned} FROM (${numbers(count)}) x`;
  const pinned = Math.floor(THREADS / 100);
  db.query([
    // Active within the week: from an hour and a minute to six days ago.
    insert('w', THREADS - pinned, 10080, `${NOW - HOUR - 60_000} - (n * 7919) % ${5 * 24 * HOUR}`, 0),
    insert('p', pinned, 60, NOW - 30 * 24 * HOUR, 1),
    insert('d', DUE, 60, `${NOW - 2 * HOUR} - n * 1000`, 0),
    backend === 'postgres' ? 'ANALYZE msg_threads' : 'ANALYZE',
  ].join(';\n'));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

function timed(binary, job, db) {
  const started = process.hrtime.bigint();
  run(binary, ['jobs', 'run', job, ...db.flags]);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

for (const backend of backends) {
  const dbs = {};
  for (const [name, binary] of Object.entries(binaries)) {
    const db = freshDatabase(backend);
    run(binary, ['migrate', ...db.flags]);
    seed(db, backend);
    dbs[name] = db;
  }
  try {
    const times = {};
    for (const [name, binary] of Object.entries(binaries)) {
      run(binary, ['jobs', 'run', 'messaging.thread_archive', ...dbs[name].flags]);
      const archived = Number(dbs[name].query('SELECT count(*) FROM msg_threads WHERE archived_ms IS NOT NULL'));
      if (archived !== DUE) throw new Error(`${name} on ${backend}: the first run archived ${archived} threads, not ${DUE}`);
      times[name] = { archive: [], control: [] };
    }
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, binary] of Object.entries(binaries)) {
        times[name].archive.push(timed(binary, 'messaging.thread_archive', dbs[name]));
        times[name].control.push(timed(binary, 'messaging.reports_purge', dbs[name]));
      }
    }
    console.log(`\n${backend}: ${THREADS} threads not due (${Math.floor(THREADS / 100)} pinned), ${REPS} runs each, ms`);
    console.log('| binary | thread_archive run | control run | the job\'s own |');
    console.log('|---|---|---|---|');
    const own = {};
    for (const name of Object.keys(binaries)) {
      const t = times[name];
      own[name] = t.archive.map((a, i) => a - t.control[i]);
      console.log(`| ${name} | ${median(t.archive).toFixed(1)} (${spread(t.archive)}) | ${median(t.control).toFixed(1)} (${spread(t.control)}) | ${median(own[name]).toFixed(1)} (${spread(own[name])}) |`);
    }
    if (baselineBin) {
      const ratio = Math.max(median(own.gatehouse), 0.1) / Math.max(median(own.baseline), 0.1);
      // Below about a millisecond the difference is the spread of two process starts.
      console.log(`gatehouse / baseline, the job's own time: ${ratio.toFixed(3)}× (each floored at 0.1 ms; ` +
        'below about 1 ms the difference is within the spread of a process start)');
    }
  } finally {
    for (const db of Object.values(dbs)) db.drop();
  }
}
