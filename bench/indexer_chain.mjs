// The chain of the indexer's end-to-end backfill benchmark (bench/indexer_backfill.mjs), built once
// on a loopback anvil and cached under build/bench-chain/ as an anvil state (blocks, receipts and
// logs included) keyed by this file, the generator's inputs, the contracts' bytecode and anvil's
// version: reruns load it with --load-state and skip the generation.
//
// The chain: three TestTokens (A, B, C), MultiSender, a Uniswap V2 Factory with pairs A/B and B/C
// holding liquidity, one TestNFT, TestMultiToken and Staking (configured for their pipelines, as an
// operator would, and silent), then TRANSFERS ERC-20 Transfer logs by MultiSender batches of 256
// recipients drawn from HOLDERS distinct addresses, interleaved with SWAPS V2 swaps (a transfer of
// the input token to the pair, then pair.swap to a holder, amounts computed with the pair's own
// constant-product formula from reserves tracked here). Automine is off while the transactions are
// sent (explicit nonces, JSON-RPC batches), then blocks are mined until the pool is empty; each
// block holds what fits in anvil's 30M gas limit (about three batches).
//
// As a script: `node bench/indexer_chain.mjs` builds (or finds) the chain and prints its metadata.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ethers } from 'ethers';

const root = resolve(import.meta.dirname, '..');
export const anvilBin = process.env.GATEHOUSE_ANVIL ?? join(root, 'node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil');
const CHAIN_ID = 31337;
const BATCH = 256;
const GAS_PRICE = 2_000_000_000n;
const BLOCK_GAS = 30_000_000n;

/** The generator's inputs (environment overrides for quick trials). */
export function chainInputs() {
  return {
    transfers: Number(process.env.BENCH_TRANSFERS ?? 200_000),
    swaps: Number(process.env.BENCH_SWAPS ?? 3_000),
    holders: Number(process.env.BENCH_HOLDERS ?? 40_000),
    seed: process.env.BENCH_SEED ?? 'gatehouse-indexer-bench-1',
  };
}

function artifact(name) {
  const path = join(root, 'build/contracts', `${name}.json`);
  if (!existsSync(path)) {
    const r = spawnSync('node', [join(root, 'scripts/build-contracts.mjs')], { encoding: 'utf8', cwd: root });
    if (r.status !== 0) throw new Error(`build-contracts failed: ${r.stderr}${r.stdout}`);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

const CONTRACTS = ['TestToken', 'MultiSender', 'UniswapV2Factory', 'UniswapV2Pair', 'TestNFT', 'TestMultiToken', 'Staking'];

function cacheKey(inputs) {
  const h = createHash('sha256');
  h.update(readFileSync(import.meta.filename));
  h.update(JSON.stringify(inputs));
  for (const c of CONTRACTS) h.update(artifact(c).bytecode);
  h.update(spawnSync(anvilBin, ['--version'], { encoding: 'utf8' }).stdout ?? '');
  return h.digest('hex').slice(0, 16);
}

export function freePort() {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** A JSON-RPC call (or a batch: an array of [method, params]) over fetch; throws on any error. */
export async function rpc(url, method, params = []) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await r.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function rpcBatch(url, calls) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: i, method, params }))) });
  const body = await r.json();
  const out = new Array(calls.length);
  for (const a of body) {
    if (a.error) throw new Error(`${calls[a.id][0]}: ${JSON.stringify(a.error)}`);
    out[a.id] = a.result;
  }
  return out;
}

/** Starts anvil on a free loopback port (extra args: --load-state ...); resolves once it answers. */
export async function startAnvil(extra = []) {
  const port = await freePort();
  // anvil writes the states it no longer holds in memory under ~/.foundry/anvil/tmp and leaves
  // them there when killed: gigabytes per run of this chain. A directory of our own, removed on stop.
  const cache = mkdtempSync(join(tmpdir(), 'gh-bench-anvil-'));
  const proc = spawn(anvilBin, ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(CHAIN_ID),
    '--silent', '--disable-block-gas-limit', '--cache-path', cache, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.on('exit', () => rmSync(cache, { recursive: true, force: true }));
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  let exited = false;
  const done = new Promise((res) => proc.on('exit', () => { exited = true; res(); }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;  // loading a large state takes a while
  for (;;) {
    if (exited) throw new Error(`anvil exited during start-up: ${stderr}`);
    try {
      if (Number(await rpc(url, 'eth_chainId')) === CHAIN_ID) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error('anvil did not start'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, proc, pid: proc.pid, stop: async () => { proc.kill('SIGTERM'); await done; } };
}

// A deterministic stream of 32-byte values from the seed (keccak in counter mode).
function makeRandom(seed) {
  let counter = 0;
  return {
    bytes() { return ethers.getBytes(ethers.keccak256(ethers.toUtf8Bytes(`${seed}:${counter++}`))); },
    below(n) { return Number(ethers.toBigInt(this.bytes()) % BigInt(n)); },
    bigBetween(lo, hi) { return lo + ethers.toBigInt(this.bytes()) % (hi - lo); },
  };
}

/** The holder addresses of the chain: keccak("holder:SEED:i")[12..] (never a contract, never zero). */
export function holderAddresses(inputs) {
  const out = [];
  for (let i = 0; i < inputs.holders; i++) {
    out.push(ethers.getAddress(ethers.dataSlice(ethers.keccak256(ethers.toUtf8Bytes(`holder:${inputs.seed}:${i}`)), 12)));
  }
  return out;
}

async function generate(inputs, statePath, metaPath) {
  const started = Date.now();
  const anvil = await startAnvil();
  try {
    const url = anvil.url;
    const provider = new ethers.JsonRpcProvider(url, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
    const signer = await provider.getSigner(0);
    const deployer = await signer.getAddress();
    const random = makeRandom(inputs.seed);
    const holders = holderAddresses(inputs);

    // Deployments and set-up, automined (one block each).
    const deploy = async (name, ...args) => {
      const a = artifact(name);
      const c = await new ethers.ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
      const receipt = await c.deploymentTransaction().wait();
      return { address: await c.getAddress(), block: receipt.blockNumber, contract: c };
    };
    const supply = 10n ** 30n;
    const tokens = [];
    for (const sym of ['GBA', 'GBB', 'GBC']) tokens.push({ symbol: sym, ...(await deploy('TestToken', `Bench ${sym}`, sym, 18, supply)) });
    const multi = await deploy('MultiSender');
    const factory = await deploy('UniswapV2Factory', deployer);
    const nft = await deploy('TestNFT', 'Bench NFT', 'GBN', 'https://bench.invalid/');
    const multiToken = await deploy('TestMultiToken', 'https://bench.invalid/{id}');
    const staking = await deploy('Staking', tokens[0].address);
    const pairAbi = artifact('UniswapV2Pair').abi;
    const pairs = [];
    for (const [i, j] of [[0, 1], [1, 2]]) {
      const tx = await factory.contract.createPair(tokens[i].address, tokens[j].address);
      const receipt = await tx.wait();
      const address = await factory.contract.getPair(tokens[i].address, tokens[j].address);
      const pair = new ethers.Contract(address, pairAbi, signer);
      const token0 = await pair.token0();
      const token1 = await pair.token1();
      pairs.push({ address, block: receipt.blockNumber, token0, token1, contract: pair });
    }
    const liquidity = 10n ** 24n;
    for (const p of pairs) {
      for (const t of [p.token0, p.token1]) {
        await (await tokens.find((x) => x.address === t).contract.transfer(p.address, liquidity)).wait();
      }
      await (await p.contract.mint(deployer)).wait();
      const [r0, r1] = await p.contract.getReserves();
      p.reserves = [r0, r1];
    }
    for (const t of tokens) await (await t.contract.approve(multi.address, ethers.MaxUint256)).wait();

    // The bulk: automine off, explicit nonces, JSON-RPC batches, then mining until the pool is empty.
    await rpc(url, 'evm_setAutomine', [false]);
    let nonce = await provider.getTransactionCount(deployer, 'pending');
    const tokenIface = new ethers.Interface(artifact('TestToken').abi);
    const multiIface = new ethers.Interface(artifact('MultiSender').abi);
    const pairIface = new ethers.Interface(pairAbi);
    const batches = [];
    for (let left = inputs.transfers; left > 0; left -= BATCH) batches.push(Math.min(BATCH, left));
    // Interleave: each action is a batch or a swap, in a seeded order.
    const actions = [...batches.map((n) => ({ kind: 'batch', n })), ...Array.from({ length: inputs.swaps }, () => ({ kind: 'swap' }))];
    for (let i = actions.length - 1; i > 0; i--) {
      const j = random.below(i + 1);
      [actions[i], actions[j]] = [actions[j], actions[i]];
    }
    const txs = [];
    const send = (to, data, gas) => txs.push(['eth_sendTransaction', [{ from: deployer, to, data,
      gas: ethers.toQuantity(gas), gasPrice: ethers.toQuantity(GAS_PRICE), nonce: ethers.toQuantity(nonce++) }]]);
    let batchNo = 0;
    for (const a of actions) {
      if (a.kind === 'batch') {
        const token = tokens[batchNo % tokens.length];
        const recipients = [];
        const amounts = [];
        for (let k = 0; k < a.n; k++) {
          recipients.push(holders[random.below(holders.length)]);
          amounts.push(random.bigBetween(1n, 10n ** 18n));
        }
        send(multi.address, multiIface.encodeFunctionData('multiSend', [token.address, recipients, amounts, `batch ${batchNo}`]),
          BigInt(a.n) * 34_000n + 200_000n);
        batchNo++;
      } else {
        const p = pairs[random.below(pairs.length)];
        const zeroForOne = random.below(2) === 0;
        const amountIn = random.bigBetween(10n ** 15n, 10n ** 20n);
        const [rIn, rOut] = zeroForOne ? [p.reserves[0], p.reserves[1]] : [p.reserves[1], p.reserves[0]];
        // UniswapV2Library.getAmountOut: the largest output the pair's K check accepts.
        const amountOut = (amountIn * 997n * rOut) / (rIn * 1000n + amountIn * 997n);
        p.reserves = zeroForOne ? [rIn + amountIn, rOut - amountOut] : [rOut - amountOut, rIn + amountIn];
        const tokenIn = zeroForOne ? p.token0 : p.token1;
        send(tokenIn, tokenIface.encodeFunctionData('transfer', [p.address, amountIn]), 80_000n);
        const to = holders[random.below(holders.length)];
        send(p.address, pairIface.encodeFunctionData('swap', zeroForOne ? [0n, amountOut, to, '0x'] : [amountOut, 0n, to, '0x']),
          150_000n);
      }
    }
    // Blocks are composed here: about 30M gas of our gas limits each (anvil runs without a block
    // gas limit, since its miner drops the transactions that do not fit instead of keeping them).
    const hashes = [];
    let mined = 0;
    for (let i = 0; i < txs.length;) {
      let gas = 0n;
      let j = i;
      while (j < txs.length && (j === i || gas + BigInt(txs[j][1][0].gas) <= BLOCK_GAS)) gas += BigInt(txs[j++][1][0].gas);
      for (let k = i; k < j; k += 50) hashes.push(...(await rpcBatch(url, txs.slice(k, Math.min(j, k + 50)))));
      await rpc(url, 'evm_mine');
      mined++;
      i = j;
    }
    const status = await rpc(url, 'txpool_status');
    if (Number(status.pending) + Number(status.queued) !== 0) throw new Error(`transactions left in the pool: ${JSON.stringify(status)}`);
    // Every transaction succeeded (a failed swap would make the reserves here wrong).
    for (let i = 0; i < hashes.length; i += 200) {
      const receipts = await rpcBatch(url, hashes.slice(i, i + 200).map((h) => ['eth_getTransactionReceipt', [h]]));
      receipts.forEach((r, k) => { if (!r || r.status !== "0x1") throw new Error(`transaction ${i + k} of ${hashes.length} (mined ${mined} blocks) failed: ${JSON.stringify(r)} ${JSON.stringify(txs[i + k][1][0]).slice(0, 300)}`); });
    }
    for (const p of pairs) {
      const [r0, r1] = await p.contract.getReserves();
      if (r0 !== p.reserves[0] || r1 !== p.reserves[1]) throw new Error('pair reserves differ from the generator\'s');
    }
    const head = Number(await rpc(url, 'eth_blockNumber'));
    // What each pipeline should apply: the logs of its contracts and topics.
    const count = async (address, topics) => (await rpc(url, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: ethers.toQuantity(head), address, topics }])).length;
    const transferTopic = ethers.id('Transfer(address,address,uint256)');
    const v2Topics = ['PairCreated(address,address,address,uint256)', 'Sync(uint112,uint112)',
      'Swap(address,uint256,uint256,uint256,uint256,address)', 'Mint(address,uint256,uint256)',
      'Burn(address,uint256,uint256,address)'].map((s) => ethers.id(s));
    const expected = {
      erc20: await count(tokens.map((t) => t.address), [transferTopic]),
      uniswap_v2: await count([factory.address, ...pairs.map((p) => p.address)], [v2Topics]),
      multisend: await count([multi.address], [ethers.id('MultiSent(address,address,uint256,uint256,string)')]),
    };
    const dumped = await rpc(url, 'anvil_dumpState');
    let state = Buffer.from(dumped.slice(2), 'hex');
    if (state[0] === 0x1f && state[1] === 0x8b) state = gunzipSync(state);
    writeFileSync(`${statePath}.tmp`, state);
    renameSync(`${statePath}.tmp`, statePath);
    const strip = ({ contract, ...rest }) => rest;
    const meta = {
      inputs, chainId: CHAIN_ID, head, deployer, blocksMined: mined, transactions: txs.length,
      tokens: tokens.map(strip), pairs: pairs.map((p) => ({ ...strip(p), reserves: p.reserves.map(String) })),
      factory: strip(factory), multiSender: strip(multi), nft: strip(nft), multiToken: strip(multiToken),
      staking: strip(staking), expected, generatedInSeconds: (Date.now() - started) / 1000,
    };
    writeFileSync(metaPath, JSON.stringify(meta, null, 1));
    return meta;
  } finally {
    await anvil.stop();
  }
}

/** The cached chain for `inputs`, generated when missing: { statePath, meta }. */
export async function ensureChain(inputs = chainInputs(), log = console.error) {
  const dir = join(root, 'build/bench-chain');
  mkdirSync(dir, { recursive: true });
  const key = cacheKey(inputs);
  const statePath = join(dir, `${key}.state.json`);
  const metaPath = join(dir, `${key}.meta.json`);
  if (existsSync(statePath) && existsSync(metaPath)) {
    return { statePath, meta: JSON.parse(readFileSync(metaPath, 'utf8')), cached: true };
  }
  log(`generating the bench chain ${key} (${inputs.transfers} transfers, ${inputs.swaps} swaps, ${inputs.holders} holders)...`);
  const meta = await generate(inputs, statePath, metaPath);
  log(`generated in ${meta.generatedInSeconds.toFixed(1)} s: ${meta.transactions} transactions in ${meta.blocksMined} blocks, head ${meta.head}`);
  return { statePath, meta, cached: false };
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const { statePath, meta, cached } = await ensureChain();
  console.log(JSON.stringify({ statePath, cached, head: meta.head, expected: meta.expected, blocks: meta.blocksMined }));
}
