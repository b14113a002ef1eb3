// A server process of a bench: its JSON log lines on stdout are read for the `listening` line (the
// port) and for warnings and errors; the last 4,000 characters of stderr are kept for the message
// of an early exit. With BENCH_SERVER_LOG=FILE every log line is appended to FILE as well.
// `options`: `cwd` and `env` for the process, and `problem(line)`, which log lines count as warnings
// and errors (default: gatehouse's `level` of warn or error). `listening` resolves only for a
// process that logs gatehouse's `listening` line; it rejects on exit, so a caller that does not
// wait for it should not leave it unhandled (it is marked handled here).
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const gatehouseProblem = (line) => line.level === 'warn' || line.level === 'error';

export function startProcess(cmd, args, options = {}) {
  const problem = options.problem ?? gatehouseProblem;
  const proc = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const errors = [];
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const listening = new Promise((res, rej) => {
    let pending = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (process.env.BENCH_SERVER_LOG) appendFileSync(process.env.BENCH_SERVER_LOG, text + '\n');
        try {
          const line = JSON.parse(text);
          if (line.msg === 'listening') res(line.port);
          if (problem(line)) errors.push(line);
        } catch { /* not a log line */ }
      }
    });
    exited.then((e) => rej(new Error(`${cmd} exited early (${JSON.stringify(e)}): ${stderr}`)));
  });
  listening.catch(() => {});  // awaited by the callers that need it, with their own handling
  return { proc, exited, listening, errors, get stderr() { return stderr; } };
}
