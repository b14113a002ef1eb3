#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned solcjs from node_modules and writes one artifact per
// contract to build/contracts/<Name>.json: {contractName, sourceName, abi, bytecode,
// deployedBytecode, compiler}. Bytecode is 0x-prefixed. The Uniswap V2 Factory and Pair artifacts
// (prebuilt in @uniswap/v2-core, bytecode without 0x) are normalised into the same directory and
// shape, so `gatehouse dev-chain` reads one format.
//
// Cheap when nothing changed: a stamp holds a hash of every input (sources, compiler version,
// settings, this script, the OpenZeppelin sources actually imported, the Uniswap artifacts); a
// matching stamp with every artifact present skips compilation. Exits non-zero on any compile
// error and on any warning in our own sources (a warning there is a bug we have not fixed yet).
//
// Usage: node scripts/build-contracts.mjs [--force] [--quiet]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const contractsDir = join(root, 'contracts');
const nodeModules = join(root, 'node_modules');
const outDir = join(root, 'build', 'contracts');
const stampFile = join(outDir, '.stamp');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const quiet = args.has('--quiet');

const require = createRequire(import.meta.url);
// Loading solcjs (an emscripten build) takes seconds: the up-to-date check uses the version from
// its package.json and loads the compiler only when there is something to compile.
const solcVersion = JSON.parse(readFileSync(join(nodeModules, 'solc', 'package.json'), 'utf8')).version;

// The EVM version is pinned rather than left to the compiler's default so that a solc upgrade
// cannot silently produce bytecode anvil's hardfork rejects. OpenZeppelin 5.x needs Cancun (mcopy).
const compilerSettings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

const uniswapArtifacts = ['UniswapV2Factory', 'UniswapV2Pair'];
const uniswapBuild = join(nodeModules, '@uniswap', 'v2-core', 'build');

function log(message) {
  if (!quiet) console.log(message);
}

function fail(message) {
  console.error(`build-contracts: ${message}`);
  process.exit(1);
}

// Only node_modules packages may be imported, and only by a plain relative path inside them: the
// import callback must not become a way to read arbitrary files.
function resolveImport(path) {
  if (path.startsWith('@openzeppelin/') && !path.includes('..')) {
    const file = join(nodeModules, path);
    if (existsSync(file)) return { contents: readFileSync(file, 'utf8') };
  }
  return { error: `import not found: ${path} (only @openzeppelin/... from node_modules is allowed)` };
}

const sourceNames = readdirSync(contractsDir).filter((f) => f.endsWith('.sol')).sort();
if (sourceNames.length === 0) fail(`no .sol files in ${contractsDir}`);
const sources = Object.fromEntries(
  sourceNames.map((f) => [`contracts/${f}`, { content: readFileSync(join(contractsDir, f), 'utf8') }]),
);

// Every input that changes the output goes into the stamp. Imports are followed transitively
// (a textual scan is enough: we only need to know which files to hash, the compiler does the
// real resolution).
function importedFiles() {
  const seen = new Set();
  const importPattern = /import\s+(?:[^'"]*from\s+)?["']([^"']+)["']/g;
  const stack = Object.keys(sources).map((name) => ({ name, content: sources[name].content }));
  while (stack.length > 0) {
    const { name, content } = stack.pop();
    for (const m of content.matchAll(importPattern)) {
      let target = m[1];
      if (target.startsWith('.')) target = join(dirname(name), target).replaceAll('\\', '/');
      if (!target.startsWith('@openzeppelin/') || seen.has(target)) continue;
      seen.add(target);
      const file = join(nodeModules, target);
      if (existsSync(file)) stack.push({ name: target, content: readFileSync(file, 'utf8') });
    }
  }
  return [...seen].sort();
}

function inputHash() {
  const h = createHash('sha256');
  const add = (label, data) => h.update(`${label}\0${data.length}\0`).update(data);
  add('solc', solcVersion);
  add('settings', JSON.stringify(compilerSettings));
  add('script', readFileSync(fileURLToPath(import.meta.url)));
  for (const [name, { content }] of Object.entries(sources)) add(name, content);
  for (const dep of importedFiles()) add(dep, readFileSync(join(nodeModules, dep)));
  for (const name of uniswapArtifacts) add(name, readFileSync(join(uniswapBuild, `${name}.json`)));
  return h.digest('hex');
}

function contractNames() {
  return sourceNames.map((f) => f.replace(/\.sol$/, ''));
}

function upToDate(hash) {
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8').trim() !== hash) return false;
  return [...contractNames(), ...uniswapArtifacts].every((n) => existsSync(join(outDir, `${n}.json`)));
}

// Written to a temporary name and renamed: a concurrent reader (another test binary starting)
// never sees half a file.
function writeAtomically(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function compile() {
  const solc = require('solc');
  const input = { language: 'Solidity', sources, settings: compilerSettings };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolveImport }));
  const diagnostics = output.errors ?? [];
  const fatal = diagnostics.filter(
    (d) => d.severity === 'error' || (d.severity === 'warning' && (d.sourceLocation?.file ?? 'contracts/').startsWith('contracts/')),
  );
  for (const d of diagnostics) (fatal.includes(d) ? console.error : log)(d.formattedMessage ?? d.message);
  if (fatal.length > 0) fail(`${fatal.length} error(s) or warning(s) in contracts/; nothing written`);

  const artifacts = [];
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    if (!sourceName.startsWith('contracts/')) continue;
    for (const [contractName, c] of Object.entries(contracts)) {
      const bytecode = c.evm?.bytecode?.object ?? '';
      // Interfaces and abstract contracts have no bytecode; only deployable ones are artifacts.
      if (bytecode.length === 0) continue;
      artifacts.push({
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        compiler: `solc ${solc.version()}`,
      });
    }
  }
  for (const name of contractNames()) {
    if (!artifacts.some((a) => a.contractName === name)) fail(`contracts/${name}.sol has no deployable contract ${name}`);
  }
  return artifacts;
}

function uniswap() {
  return uniswapArtifacts.map((name) => {
    const a = JSON.parse(readFileSync(join(uniswapBuild, `${name}.json`), 'utf8'));
    const withPrefix = (hex) => (hex.startsWith('0x') ? hex : `0x${hex}`);
    if (!a.bytecode || !Array.isArray(a.abi)) fail(`${name}.json in @uniswap/v2-core has no abi/bytecode`);
    return {
      contractName: name,
      sourceName: `@uniswap/v2-core/contracts/${name}.sol`,
      abi: a.abi,
      bytecode: withPrefix(a.bytecode),
      deployedBytecode: withPrefix(a.evm?.deployedBytecode?.object ?? a.deployedBytecode ?? ''),
      compiler: 'solc 0.5.16 (prebuilt by @uniswap/v2-core)',
    };
  });
}

const hash = inputHash();
if (!force && upToDate(hash)) {
  log(`build-contracts: up to date (${outDir})`);
  process.exit(0);
}
mkdirSync(outDir, { recursive: true });
const artifacts = [...compile(), ...uniswap()];
for (const a of artifacts) writeAtomically(join(outDir, `${a.contractName}.json`), `${JSON.stringify(a, null, 2)}\n`);
writeAtomically(stampFile, `${hash}\n`);
log(`build-contracts: wrote ${artifacts.map((a) => a.contractName).join(', ')} to ${outDir}`);
