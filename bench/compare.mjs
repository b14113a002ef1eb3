// Prints gh_bench's timings beside bench/reference.mjs's: for each operation the median ns/op over
// the repetitions with its spread ((max - min) / median), and the ratio reference / gatehouse (how
// many times faster gatehouse is). The "native/..." rows time the C library under one of our hot
// paths alone; for those the ratio is gatehouse / native: the cost of our layer over the library.
// Machines are noisy, so it only reports; it never judges.
// Usage: node bench/compare.mjs <gh_bench JSON> <reference.mjs JSON>
import { readFileSync } from 'node:fs';

const [ghPath, refPath] = process.argv.slice(2);
if (!ghPath || !refPath) throw new Error('usage: compare.mjs <gh_bench.json> <reference.json>');

const nsPerUnit = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const gatehouse = new Map();  // name -> [ns per op, one per repetition]
for (const run of JSON.parse(readFileSync(ghPath, 'utf8')).benchmarks) {
  if (run.run_type !== 'iteration') continue;
  if (run.error_occurred) throw new Error(`gh_bench ${run.name}: ${run.error_message}`);
  const name = run.run_name ?? run.name;
  if (!gatehouse.has(name)) gatehouse.set(name, []);
  gatehouse.get(name).push(run.real_time * nsPerUnit[run.time_unit]);
}
const reference = JSON.parse(readFileSync(refPath, 'utf8'));

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, spread: (sorted[sorted.length - 1] - sorted[0]) / median, n: sorted.length };
}
const format = (ns) => (ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1));
const cell = (s) => (s ? `${format(s.median)} ±${(s.spread * 100).toFixed(0)}%` : 'missing');

// "native/keccak256 (Crypto++)/32" is the baseline of "keccak256/32".
const nativeOf = (name) => name.replace(/^native\/([^ /]+) \([^)]*\)/, '$1');

const rows = [['operation', 'gatehouse ns/op', 'reference ns/op', 'ratio']];
let missing = 0;
for (const name of new Set([...gatehouse.keys(), ...Object.keys(reference)])) {
  const gh = gatehouse.has(name) ? stats(gatehouse.get(name)) : undefined;
  if (name.startsWith('native/')) {
    const ours = gatehouse.has(nativeOf(name)) ? stats(gatehouse.get(nativeOf(name))) : undefined;
    rows.push([name, cell(gh), '-', gh && ours ? `ours ${(ours.median / gh.median).toFixed(2)}x native` : '-']);
    continue;
  }
  const ref = reference[name] ? stats(reference[name]) : undefined;
  if (!gh || !ref) ++missing;
  rows.push([name, cell(gh), cell(ref), gh && ref ? `${(ref.median / gh.median).toFixed(1)}x faster` : '-']);
}

const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
const line = (row) => row.map((text, c) => (c === 0 ? text.padEnd(widths[c]) : text.padStart(widths[c]))).join('  ');
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows.slice(1)) console.log(line(row));
const reps = Math.max(...[...gatehouse.values()].map((s) => s.length));
console.log(`\nmedian of ${reps} repetitions ± (max - min) / median; reference: ethers v6 and siwe 3 on node`,
  process.version, '(noisy machines: read the spread before the ratio)');
if (missing > 0) {
  console.error(`${missing} operation(s) measured on one side only`);
  process.exit(1);
}
