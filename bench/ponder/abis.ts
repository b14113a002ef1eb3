// The events of the bench chain's contracts that gatehouse's pipelines apply (erc20, uniswap_v2,
// multisend), as human-readable ABI fragments: Ponder fetches the logs of the events that have a
// handler in src/index.ts, filtered by topic0 and address, and decodes them with these.
import { parseAbi } from "viem";

export const erc20Abi = parseAbi([
  "event Transfer(address indexed from, address indexed to, uint256 value)",
]);

// The factory's source leaves PairCreated's last parameter (the pair count) unnamed; viem decodes
// the arguments of an event with an unnamed parameter as an array, so it is named here (names do
// not enter the topic).
export const factoryAbi = parseAbi([
  "event PairCreated(address indexed token0, address indexed token1, address pair, uint256 pairCount)",
]);

export const pairAbi = parseAbi([
  "event Mint(address indexed sender, uint256 amount0, uint256 amount1)",
  "event Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)",
  "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)",
  "event Sync(uint112 reserve0, uint112 reserve1)",
]);

export const multiSenderAbi = parseAbi([
  "event MultiSent(address indexed sender, address indexed token, uint256 count, uint256 total, string message)",
]);
