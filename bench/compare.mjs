// Prints gh_bench's timings beside bench/reference.mjs's as a table with ratios (reference /
// gatehouse: how many times faster gatehouse is). Machines are noisy, so it only reports; it never
// judges. Usage: node bench/compare.mjs <gh_bench JSON> <reference.mjs JSON>
import { readFileSync } from 'node:fs';

const [ghPath, refPath] = process.argv.slice(2);
if (!ghPath || !refPath) throw new Error('usage: compare.mjs <gh_bench.json> <reference.json>');

const nsPerUnit = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const gatehouse = new Map();
for (const run of JSON.parse(readFileSync(ghPath, 'utf8')).benchmarks) {
  if (run.run_type !== 'iteration') continue;
  if (run.error_occurred) throw new Error(`gh_bench ${run.name}: ${run.error_message}`);
  gatehouse.set(run.name, run.real_time * nsPerUnit[run.time_unit]);
}
const reference = JSON.parse(readFileSync(refPath, 'utf8'));

const format = (ns) => (ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1));
const rows = [['operation', 'gatehouse ns/op', 'reference ns/op', 'ratio (ref/gh)']];
const names = [...new Set([...gatehouse.keys(), ...Object.keys(reference)])];
let missing = 0;
for (const name of names) {
  const gh = gatehouse.get(name);
  const ref = reference[name];
  if (gh === undefined || ref === undefined) ++missing;
  rows.push([
    name,
    gh === undefined ? 'missing' : format(gh),
    ref === undefined ? 'missing' : format(ref),
    gh === undefined || ref === undefined ? '-' : `${(ref / gh).toFixed(1)}x`,
  ]);
}

const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
const line = (row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows.slice(1)) console.log(line(row));
console.log('\nreference: ethers v6 and siwe 3 on node', process.version, '(one run; noisy machines, ratios only)');
if (missing > 0) {
  console.error(`${missing} operation(s) measured on one side only`);
  process.exit(1);
}
