// A server process of a bench: its JSON log lines on stdout are read for the `listening` line (the
// port) and for warnings and errors; the last 4,000 characters of stderr are kept for the message
// of an early exit. With BENCH_SERVER_LOG=FILE every log line is appended to FILE as well.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export function startProcess(cmd, args) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
          if (line.level === 'warn' || line.level === 'error') errors.push(line);
        } catch { /* not a log line */ }
      }
    });
    exited.then((e) => rej(new Error(`${cmd} exited early (${JSON.stringify(e)}): ${stderr}`)));
  });
  return { proc, exited, listening, errors, get stderr() { return stderr; } };
}
