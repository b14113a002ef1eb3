// Ponder doing gatehouse's work on the chain of bench/indexer_backfill.mjs: the ERC-20 Transfers of
// the three TestTokens, the Uniswap V2 factory's PairCreated and its pairs' Mint, Burn, Swap and
// Sync, and MultiSender's MultiSent, each contract from its deployment block. The bench gives
// everything that differs per run in the environment:
//   PONDER_RPC_URL         the bench's anvil
//   PONDER_BENCH_CONTRACTS JSON { tokens, factory, pairs, multiSender }, each { address, block }
//                          (the chain's meta, see bench/indexer_chain.mjs)
//   PONDER_DATABASE_URL    a fresh PostgreSQL database; without it, PGlite in PONDER_PGLITE_DIR
//                          (a fresh temporary directory per run)
import { createConfig } from "ponder";
import { erc20Abi, factoryAbi, multiSenderAbi, pairAbi } from "./abis";

type Deployed = { address: `0x${string}`; block: number };
type Contracts = { tokens: Deployed[]; factory: Deployed; pairs: Deployed[]; multiSender: Deployed };

const rpc = process.env.PONDER_RPC_URL;
const json = process.env.PONDER_BENCH_CONTRACTS;
if (!rpc || !json) throw new Error("PONDER_RPC_URL and PONDER_BENCH_CONTRACTS are set by bench/indexer_backfill.mjs");
const c = JSON.parse(json) as Contracts;
const first = (xs: Deployed[]) => Math.min(...xs.map((x) => x.block));

export default createConfig({
  database: process.env.PONDER_DATABASE_URL
    ? { kind: "postgres", connectionString: process.env.PONDER_DATABASE_URL }
    : { kind: "pglite", directory: process.env.PONDER_PGLITE_DIR ?? ".ponder/pglite" },
  chains: {
    anvil: { id: 31337, rpc },
  },
  contracts: {
    // One contract for the three tokens, as a Ponder user would write it (one ABI, one handler):
    // its start block is the first token's; no token has a log before its own deployment block.
    ERC20: {
      chain: "anvil",
      abi: erc20Abi,
      address: c.tokens.map((t) => t.address),
      startBlock: first(c.tokens),
    },
    UniswapV2Factory: {
      chain: "anvil",
      abi: factoryAbi,
      address: c.factory.address,
      startBlock: c.factory.block,
    },
    // The pairs listed by address, as gatehouse is given them (--chain-contract uniswap_v2:PAIR@BLOCK).
    UniswapV2Pair: {
      chain: "anvil",
      abi: pairAbi,
      address: c.pairs.map((p) => p.address),
      startBlock: first(c.pairs),
    },
    MultiSender: {
      chain: "anvil",
      abi: multiSenderAbi,
      address: c.multiSender.address,
      startBlock: c.multiSender.block,
    },
  },
});
