// Scheduled jobs through the real binary: `jobs list` shows every job with its schedule, last
// run and next fire time; `jobs run NAME` runs one now, its exit code saying how it went (0, 1
// failed, 2 no such job, 75 a run is going on: the lease holds across processes); a server with
// the jobs role exports the per-job metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, runCommand, startServer, freshDatabase, backends } from './lib/harness.mjs';

// The rows of `jobs list`, by job name.
function listJobs(flags) {
  const r = runCommand(['jobs', 'list', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  const [header, ...rows] = r.stdout.trim().split('\n');
  assert.match(header, /^NAME\s+SCHEDULE\s+LAST_RUN\s+OUTCOME\s+NEXT_RUN\s+DESCRIPTION$/);
  const jobs = {};
  for (const row of rows) {
    const m = row.match(/^(\S+)\s+(.+?)\s{2,}(\S+)\s+(\S+)\s+(\S+Z)\s+(.*)$/);
    assert.ok(m, `unparsed row: ${row}`);
    jobs[m[1]] = { schedule: m[2], lastRun: m[3], outcome: m[4], nextRun: m[5], description: m[6] };
  }
  return jobs;
}

async function eventually(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const backend of backends()) {
  test(`jobs list and jobs run (${backend})`, async () => {
    const db = freshDatabase(backend);
    const dir = mkdtempSync(join(tmpdir(), 'gh-jobs-'));
    const flags = [...db.flags, '--test-hooks'];
    try {
      let jobs = listJobs(flags);
      for (const name of ['auth.nonces_purge', 'auth.sessions_purge', 'bus.outbox_purge', 'bus.processed_purge',
        'jobs.history_purge', 'testhooks.fails', 'testhooks.holds']) {
        assert.ok(jobs[name], `${name} listed`);
        assert.equal(jobs[name].lastRun, '-');
        assert.equal(jobs[name].outcome, '-');
        assert.ok(Date.parse(jobs[name].nextRun) > Date.now() - 60_000, jobs[name].nextRun);
        assert.ok(jobs[name].description.length > 0);
      }
      assert.equal(jobs['auth.nonces_purge'].schedule, '*/10 * * * *');
      assert.equal(new Date(jobs['auth.nonces_purge'].nextRun).getUTCMinutes() % 10, 0);
      assert.equal(jobs['testhooks.fails'].schedule, '@yearly');
      assert.match(jobs['testhooks.fails'].nextRun, /^\d{4}-01-01T00:00:00\.000Z$/);

      const ok = runCommand(['jobs', 'run', 'auth.nonces_purge', ...flags]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /auth\.nonces_purge succeeded/);
      const failed = runCommand(['jobs', 'run', 'testhooks.fails', ...flags]);
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /testhooks\.fails failed: test_failure: failed on purpose/);
      const unknown = runCommand(['jobs', 'run', 'no.such_job', ...flags]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no job is named no\.such_job/);
      jobs = listJobs(flags);
      assert.equal(jobs['auth.nonces_purge'].outcome, 'success');
      assert.ok(Math.abs(Date.parse(jobs['auth.nonces_purge'].lastRun) - Date.now()) < 600_000);
      assert.equal(jobs['testhooks.fails'].outcome, 'failure');
      assert.equal(jobs['bus.outbox_purge'].outcome, '-');

      // One run at a time across processes: while one holds the lease, another is refused (75).
      const release = join(dir, 'release');
      const holder = spawn(bin, ['jobs', 'run', 'testhooks.holds', ...flags], {
        env: { ...process.env, GATEHOUSE_TEST_JOB_RELEASE_FILE: release }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      const holderExit = new Promise((res) => holder.on('exit', (code) => res(code)));
      await eventually(() => listJobs(flags)['testhooks.holds'].outcome === 'running', 'the first run to start');
      const busy = runCommand(['jobs', 'run', 'testhooks.holds', ...flags], { GATEHOUSE_TEST_JOB_RELEASE_FILE: release });
      assert.equal(busy.code, 75, busy.stderr);
      assert.match(busy.stderr, /a run of this job is going on/);
      writeFileSync(release, '');
      assert.equal(await holderExit, 0);
      assert.equal(listJobs(flags)['testhooks.holds'].outcome, 'success');
      // Released: the next run goes at once (the file exists, so it does not wait).
      assert.equal(runCommand(['jobs', 'run', 'testhooks.holds', ...flags], { GATEHOUSE_TEST_JOB_RELEASE_FILE: release }).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      db.drop();
    }
  });
}

test('a server with the jobs role exports per-job metrics; without it, none', async () => {
  const db = freshDatabase('sqlite');
  try {
    // A success recorded by any node shows as the last success after a start.
    assert.equal(runCommand(['jobs', 'run', 'auth.nonces_purge', ...db.flags]).code, 0);
    let server = await startServer([...db.flags, '--roles', 'api,jobs']);
    let text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of ['auth.nonces_purge', 'bus.outbox_purge', 'jobs.history_purge']) {
      assert.match(text, new RegExp(`gatehouse_job_runs_total\\{job="${name.replace('.', '\\.')}"\\} 0`));
      assert.match(text, new RegExp(`gatehouse_job_failures_total\\{job="${name.replace('.', '\\.')}"\\} 0`));
    }
    const last = text.match(/gatehouse_job_last_success_timestamp_seconds\{job="auth\.nonces_purge"\} (\S+)/);
    assert.ok(last && Math.abs(Number(last[1]) * 1000 - Date.now()) < 600_000, text);
    assert.match(text, /gatehouse_job_duration_seconds_bucket\{job="auth\.sessions_purge",le="\+Inf"\} 0/);
    await server.stop();
    server = await startServer([...db.flags, '--roles', 'api']);
    text = await (await fetch(`${server.url}/metrics`)).text();
    assert.doesNotMatch(text, /gatehouse_job_runs_total\{/);
    await server.stop();
  } finally {
    db.drop();
  }
});
