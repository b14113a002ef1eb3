// The requests the hostile-input sweep (malformed.test.mjs) starts from: for each route of the
// server's table, a few valid bodies and query strings, taken from what the integration suites
// send. Two uses:
//
//   node --import ./tests/integration/lib/request-corpus.mjs ...   records every fetch of the
//       process (method, URL, body) as JSON lines in $GATEHOUSE_RECORD_REQUESTS;
//   node tests/integration/lib/request-corpus.mjs RECORDED          keeps, per route, the bodies
//       and queries that together name the most fields, and writes requests.json beside this file.
//
// `make request-corpus` runs both over the integration suites.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const recording = process.env.GATEHOUSE_RECORD_REQUESTS;
if (recording) {
  const original = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url;
    const body = typeof init.body === 'string' ? init.body : null;
    appendFileSync(recording, `${JSON.stringify({ method: init.method ?? 'GET', url, body })}\n`);
    return original(input, init);
  };
}

const BODIES_PER_ROUTE = 3;
const QUERIES_PER_ROUTE = 3;
const MAX_STRING = 4096;

// Every path to a value of v ("a", "a.b", "a.0"), objects and arrays included.
function leaves(v, prefix = '') {
  if (v === null || typeof v !== 'object') return [];
  return Object.keys(v).flatMap((k) => [`${prefix}${k}`, ...leaves(v[k], `${prefix}${k}.`)]);
}

// The entries that together name the most paths, greedily, at most `count`.
function widest(candidates, namesOf, count) {
  const chosen = [];
  const seen = new Set();
  const left = [...candidates];
  while (chosen.length < count && left.length) {
    left.sort((a, b) => namesOf(b).filter((n) => !seen.has(n)).length - namesOf(a).filter((n) => !seen.has(n)).length);
    const next = left.shift();
    if (chosen.length && namesOf(next).every((n) => seen.has(n))) break;
    chosen.push(next);
    for (const n of namesOf(next)) seen.add(n);
  }
  return chosen;
}

const MAX_ITEMS = 4;
// Long strings cut, long arrays too (the sweep replaces an array's first items).
const trimmed = (v) => JSON.parse(JSON.stringify(v, (_, x) => {
  if (typeof x === 'string' && x.length > MAX_STRING) return x.slice(0, MAX_STRING);
  return Array.isArray(x) && x.length > MAX_ITEMS ? x.slice(0, MAX_ITEMS) : x;
}));

async function build(recorded) {
  const { startServer, freshDatabase } = await import('./harness.mjs');
  const db = freshDatabase('sqlite');
  const server = await startServer([...db.flags, '--test-hooks']);
  const { routes } = await (await fetch(`${server.url}/v1/_test/routes`)).json();
  await server.stop();
  db.drop();
  const templates = routes.filter((r) => !r.path.startsWith('/v1/_test')).map((r) => ({
    key: `${r.method} ${r.path}`, method: r.method, re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  const seen = new Map();
  for (const line of readFileSync(recorded, 'utf8').split('\n')) {
    if (!line) continue;
    const { method, url, body } = JSON.parse(line);
    let u;
    try { u = new URL(url); } catch { continue; }
    const t = templates.find((x) => x.method === method && x.re.test(u.pathname));
    if (!t) continue;
    if (!seen.has(t.key)) seen.set(t.key, { bodies: new Map(), queries: new Map() });
    const e = seen.get(t.key);
    if (body) {
      try {
        const v = JSON.parse(body);
        if (v && typeof v === 'object' && !Array.isArray(v)) e.bodies.set(JSON.stringify(leaves(v).sort()), v);
      } catch { /* not JSON: the sweep sends its own */ }
    }
    if (u.search) e.queries.set([...u.searchParams.keys()].sort().join('&'), u.search.slice(1));
  }
  const corpus = {};
  for (const { key } of templates) {
    const e = seen.get(key);
    corpus[key] = {
      bodies: e ? widest([...e.bodies.values()], leaves, BODIES_PER_ROUTE).map(trimmed) : [],
      queries: e ? widest([...e.queries.values()], (q) => [...new URLSearchParams(q).keys()], QUERIES_PER_ROUTE) : [],
    };
  }
  const out = resolve(fileURLToPath(import.meta.url), '../requests.json');
  // One route per line: a new route or body is a one-line change.
  const lines = Object.entries(corpus).map(([key, v]) => `${JSON.stringify(key)}: ${JSON.stringify(v)}`);
  writeFileSync(out, `{\n${lines.join(',\n')}\n}\n`);
  const empty = Object.entries(corpus).filter(([, v]) => !v.bodies.length && !v.queries.length).length;
  console.log(`${out}: ${templates.length} routes, ${empty} without a body or query`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await build(process.argv[2]);
