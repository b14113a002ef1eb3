#!/usr/bin/env node
// Checks a dev-chain deployment (the JSON `gatehouse dev-chain` writes) independently of our C++
// ABI, signing and RPC code: everything here goes through ethers v6. Used by the devchain chain
// tests and the dev-chain integration test. Prints one JSON line {"ok": true, "checks": n} and
// exits 0, or prints the first failed check and exits 1.
//
// Usage: node tests/chain/check-demo-deployment.mjs <deployment.json>
import { readFileSync } from 'node:fs';
import { Contract, JsonRpcProvider, SigningKey, Wallet, getAddress, id, keccak256, parseUnits, toUtf8Bytes } from 'ethers';

const file = process.argv[2];
if (!file) {
  console.error('usage: check-demo-deployment.mjs <deployment.json>');
  process.exit(2);
}
const d = JSON.parse(readFileSync(file, 'utf8'));
const provider = new JsonRpcProvider(d.rpc_url, d.chain_id, { staticNetwork: true, batchMaxCount: 1 });
let checks = 0;

function check(condition, what) {
  if (!condition) {
    console.log(JSON.stringify({ ok: false, failed: what }));
    process.exit(1);
  }
  checks += 1;
}
const eq = (a, b, what) => check(a === b, `${what}: got ${a}, want ${b}`);

const erc20 = (address) =>
  new Contract(address, ['function balanceOf(address) view returns (uint256)', 'function decimals() view returns (uint8)',
    'function symbol() view returns (string)', 'function totalSupply() view returns (uint256)'], provider);

// Addresses in the file are EIP-55 (getAddress throws on a bad checksum).
for (const a of [d.deployer, ...d.test_accounts, ...Object.values(d.contracts)]) eq(getAddress(a), a, 'EIP-55 address');
// The listed dev keys are the accounts they claim.
for (const k of d.dev_keys) eq(new Wallet(k.private_key).address, k.address, 'dev key address');
eq(d.dev_keys[0].address, d.deployer, 'deployer is dev key 0');
eq((await provider.getNetwork()).chainId, BigInt(d.chain_id), 'chain id');

// Tokens: metadata and the seeded balances of accounts 1..3 (account 4 is left to tests that
// spend; account 1 staked 100 GTA).
const expectDecimals = { GTA: 18n, GTB: 18n, TUSD: 6n, WETH: 18n };
for (const [symbol, t] of Object.entries(d.tokens)) {
  const c = erc20(t.address);
  eq(await c.symbol(), symbol, `${symbol} symbol`);
  eq(await c.decimals(), expectDecimals[symbol], `${symbol} decimals`);
}
const [a1, a2, a3] = d.test_accounts;
eq(await erc20(d.tokens.GTA.address).balanceOf(a1), parseUnits('900', 18), 'GTA of account 1 (1000 minus 100 staked)');
eq(await erc20(d.tokens.GTA.address).balanceOf(a2), parseUnits('1000', 18), 'GTA of account 2');
eq(await erc20(d.tokens.GTB.address).balanceOf(a3), parseUnits('1000', 18), 'GTB of account 3');
eq(await erc20(d.tokens.TUSD.address).balanceOf(a2), parseUnits('5000', 6), 'TUSD of account 2');
eq(await erc20(d.tokens.GTA.address).balanceOf(d.contracts.SmartWallet), parseUnits('100', 18), 'GTA of the smart wallet');

// Pairs: reserves are exactly the liquidity the demo plan adds, in token0/token1 order.
const plan = {
  'GTA/WETH': [['GTA', '20000'], ['WETH', '10']],
  'GTB/WETH': [['GTB', '40000'], ['WETH', '5']],
  'WETH/TUSD': [['WETH', '20'], ['TUSD', '40000']],
  'GTA/TUSD': [['GTA', '10000'], ['TUSD', '10000']],
};
const factory = new Contract(d.contracts.UniswapV2Factory, ['function getPair(address,address) view returns (address)',
  'function allPairsLength() view returns (uint256)'], provider);
eq(await factory.allPairsLength(), 4n, 'pair count');
for (const [name, legs] of Object.entries(plan)) {
  const p = d.pairs[name];
  check(p, `pair ${name} listed`);
  const pair = new Contract(p.address, ['function getReserves() view returns (uint112,uint112,uint32)',
    'function token0() view returns (address)', 'function token1() view returns (address)'], provider);
  eq(await factory.getPair(d.tokens[legs[0][0]].address, d.tokens[legs[1][0]].address), p.address, `${name} address`);
  const [t0, t1] = [await pair.token0(), await pair.token1()];
  eq(t0, p.token0, `${name} token0`);
  eq(t1, p.token1, `${name} token1`);
  const amount = Object.fromEntries(legs.map(([s, whole]) => [d.tokens[s].address, parseUnits(whole, Number(expectDecimals[s]))]));
  const [r0, r1] = await pair.getReserves();
  eq(r0, amount[t0], `${name} reserve0`);
  eq(r1, amount[t1], `${name} reserve1`);
  eq(r0.toString(), p.reserve0, `${name} reserve0 in the file`);
}

// NFTs and multi-tokens as seeded.
const nft = new Contract(d.contracts.TestNFT, ['function ownerOf(uint256) view returns (address)',
  'function tokenURI(uint256) view returns (string)'], provider);
eq(await nft.ownerOf(1n), a1, 'NFT 1 owner');
eq(await nft.ownerOf(4n), d.contracts.SmartWallet, 'NFT 4 owner');
eq(await nft.tokenURI(2n), 'https://gatehouse.invalid/nft/2', 'NFT 2 tokenURI');
const multi = new Contract(d.contracts.TestMultiToken, ['function balanceOf(address,uint256) view returns (uint256)'], provider);
eq(await multi.balanceOf(a1, 1n), 10n, 'ERC-1155 id 1 of account 1');
eq(await multi.balanceOf(d.deployer, 3n), 100n, 'ERC-1155 id 3 of the deployer');

// EIP-1271: the wallet accepts its owner's signature over a hash, and nothing else.
const wallet = new Contract(d.contracts.SmartWallet, ['function isValidSignature(bytes32,bytes) view returns (bytes4)',
  'function owner() view returns (address)'], provider);
eq(await wallet.owner(), d.smart_wallet_owner, 'smart wallet owner');
const ownerKey = d.dev_keys.find((k) => k.address === d.smart_wallet_owner).private_key;
const otherKey = d.dev_keys.find((k) => k.address !== d.smart_wallet_owner).private_key;
const hash = keccak256(toUtf8Bytes('gatehouse EIP-1271 check'));
eq(await wallet.isValidSignature(hash, new SigningKey(ownerKey).sign(hash).serialized), '0x1626ba7e', 'owner signature accepted');
eq(await wallet.isValidSignature(hash, new SigningKey(otherKey).sign(hash).serialized), '0xffffffff', 'other signature refused');
eq(await wallet.isValidSignature(hash, '0x1234'), '0xffffffff', 'malformed signature refused without a revert');

// Events: the initial stake and one MultiSent per seeded token.
const staked = await provider.getLogs({ address: d.contracts.Staking, fromBlock: 0, toBlock: d.deployed_at_block,
  topics: [id('Staked(address,uint256,uint256)')] });
eq(staked.length, 1, 'Staked logs at deployment');
const multiSent = await provider.getLogs({ address: d.contracts.MultiSender, fromBlock: 0, toBlock: d.deployed_at_block,
  topics: [id('MultiSent(address,address,uint256,uint256,string)')] });
eq(multiSent.length, 3, 'MultiSent logs at deployment (one per batch)');
const points = new Contract(d.contracts.Points, ['function pointsOf(address) view returns (uint256)'], provider);
eq(await points.pointsOf(a1), 100n, 'points of account 1');

console.log(JSON.stringify({ ok: true, checks }));
provider.destroy();
