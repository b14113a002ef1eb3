// The reference side of scripts/run-bench: times the operations of gh_bench (bench/eth_bench.cpp)
// on the same bytes with ethers v6 and siwe 3, producing the same outputs, and prints
// {"operation": [ns_per_op, ...one per repetition], ...} as JSON. Each operation's result is
// checked once before timing, then it is warmed up and run in batches for a fixed time, REPS times.
// Usage: node bench/reference.mjs [seconds per repetition, default 1] [repetitions, default 5]
import { Interface, Signature, keccak256, recoverAddress } from 'ethers';
import { SiweMessage } from 'siwe';

const seconds = Number(process.argv[2] ?? 1);
if (!(seconds > 0)) throw new Error(`bad duration: ${process.argv[2]}`);
const reps = Number(process.argv[3] ?? 5);
if (!(Number.isInteger(reps) && reps > 0)) throw new Error(`bad repetitions: ${process.argv[3]}`);

// The fixtures of eth_bench.cpp (see the comments there).
const signerAddress = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const ecrecoverDigest = '0x96d6b660247b927c73840903512067919b8cc743ed0641b11cf51c7ce9365868';
const ecrecoverSignature =
  '0x9d05081857a77c5296016de577ca27b570f803ef4b3c51593c6f2466703f73f3' +
  '3ebabcafd759d153ddf6c4d7ed5e1d698db084a8513f45d1f076b798866fe4671b';
const swapEvent =
  'event Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, uint amount1Out, ' +
  'address indexed to)';
const swapLog = {
  topics: [
    '0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822',
    '0x0000000000000000000000007a250d5630b4cf539739df2c5dacb4c659f2488d',
    '0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2',
  ],
  data:
    '0x0000000000000000000000000000000000000000000000000de0b6b3a7640000' +
    '0000000000000000000000000000000000000000000000000000000000000000' +
    '0000000000000000000000000000000000000000000000000000000000000000' +
    '0000000000000000000000000000000000000000000000000000000095d04e95',
};
const siweText = [
  'app.gatehouse.example wants you to sign in with your Ethereum account:',
  signerAddress,
  '',
  'Sign in to gatehouse.',
  '',
  'URI: https://app.gatehouse.example/login',
  'Version: 1',
  'Chain ID: 1',
  'Nonce: k3J9vQ2xL8mZ4tRw',
  'Issued At: 2025-01-15T12:00:00.000Z',
  'Expiration Time: 2025-01-15T12:10:00.000Z',
].join('\n');
const siweSignature =
  '0xa92e97964e399dfcd7fa2b068b8008d092af2f9614e394fe0227584aaf20117f' +
  '58dfec3207954db0572dc519f171f46efb29b4e5a9ac6a81f4370239ba6b96dd1b';
const siweParams = {
  signature: siweSignature,
  domain: 'app.gatehouse.example',
  nonce: 'k3J9vQ2xL8mZ4tRw',
  time: '2025-01-15T12:05:00.000Z',
};

// Byte i is i mod 256, as in eth_bench.cpp.
const countingBytes = (n) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

function check(condition, what) {
  if (!condition) throw new Error(`reference fixture check failed: ${what}`);
}

// Runs `op` in batches until `budget` seconds have passed; returns ns per call. Batches double
// while they are short, and never run far past the deadline. A sink keeps results alive so that
// V8 cannot drop the work.
let sink;
async function measure(op, isAsync, budget) {
  const budgetNs = budget * 1e9;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  let calls = 0;
  let batch = 1;
  while (elapsed < budgetNs) {
    if (isAsync) {
      for (let i = 0; i < batch; ++i) sink = await op();
    } else {
      for (let i = 0; i < batch; ++i) sink = op();
    }
    calls += batch;
    elapsed = Number(process.hrtime.bigint() - start);
    const perCall = elapsed / calls;
    batch = Math.max(1, Math.min(batch * 2, Math.ceil((budgetNs - elapsed) / perCall)));
  }
  return elapsed / calls;
}

async function bench(name, op, { isAsync = false } = {}) {
  await measure(op, isAsync, Math.min(0.25, seconds / 4));  // warm-up: let V8 optimize first
  results[name] = [];
  for (let i = 0; i < reps; ++i) results[name].push(await measure(op, isAsync, seconds));
}

const results = {};

const bytes32 = countingBytes(32);
const bytes1k = countingBytes(1024);
check(keccak256(bytes32).length === 66, 'keccak256');
await bench('keccak256/32', () => keccak256(bytes32));
await bench('keccak256/1024', () => keccak256(bytes1k));

const signature = Signature.from(ecrecoverSignature);
check(recoverAddress(ecrecoverDigest, signature) === signerAddress, 'ecrecover');
await bench('ecrecover', () => recoverAddress(ecrecoverDigest, signature));

// The pair's events, as eth_bench.cpp's table: parseLog finds Swap among them by topic 0.
const pair = new Interface([
  'event Approval(address indexed owner, address indexed spender, uint value)',
  'event Transfer(address indexed from, address indexed to, uint value)',
  'event Mint(address indexed sender, uint amount0, uint amount1)',
  'event Burn(address indexed sender, uint amount0, uint amount1, address indexed to)',
  swapEvent,
  'event Sync(uint112 reserve0, uint112 reserve1)',
]);
// The decoded arguments as strings (EIP-55 addresses, decimal integers), as eth_bench.cpp renders them.
const parseLog = () => pair.parseLog(swapLog).args.map(String);
const parsed = parseLog();
check(parsed.length === 6 && parsed[1] === String(10n ** 18n) && parsed[4] === '2513456789', 'parseLog');
await bench('decode_swap_log', parseLog);

const verified = await new SiweMessage(siweText).verify(siweParams);
check(verified.success && verified.data.address === signerAddress, 'siwe verify');
// The verdict, as eth_bench.cpp's: true or false (a failure resolves instead of throwing).
const siweVerify = async () => (await new SiweMessage(siweText).verify(siweParams, { suppressExceptions: true })).success;
await bench('siwe_verify', siweVerify, { isAsync: true });

console.log(JSON.stringify(results));
