// The counterparts of gatehouse's projections for the bench's pipelines: ERC-20 balances per
// (token, holder) (chain_erc20_balances), the pairs' tokens (chain_v2_pair_tokens) and reserves
// (chain_v2_pair_reserves), and a row per Mint, Burn, Swap and MultiSent event, where gatehouse
// writes each log's record (chain_logs) and outbox event.
import { onchainTable, primaryKey } from "ponder";

export const erc20Balance = onchainTable(
  "erc20_balance",
  (t) => ({
    token: t.hex().notNull(),
    holder: t.hex().notNull(),
    amount: t.bigint().notNull(),
  }),
  (table) => ({ pk: primaryKey({ columns: [table.token, table.holder] }) }),
);

export const v2Pair = onchainTable("v2_pair", (t) => ({
  pair: t.hex().primaryKey(),
  factory: t.hex().notNull(),
  token0: t.hex().notNull(),
  token1: t.hex().notNull(),
}));

export const v2Reserves = onchainTable("v2_reserves", (t) => ({
  pair: t.hex().primaryKey(),
  reserve0: t.bigint().notNull(),
  reserve1: t.bigint().notNull(),
}));

export const v2Swap = onchainTable("v2_swap", (t) => ({
  id: t.text().primaryKey(),
  pair: t.hex().notNull(),
  sender: t.hex().notNull(),
  to: t.hex().notNull(),
  amount0In: t.bigint().notNull(),
  amount1In: t.bigint().notNull(),
  amount0Out: t.bigint().notNull(),
  amount1Out: t.bigint().notNull(),
  blockNumber: t.bigint().notNull(),
  transactionHash: t.hex().notNull(),
}));

export const v2Liquidity = onchainTable("v2_liquidity", (t) => ({
  id: t.text().primaryKey(),
  kind: t.text().notNull(),
  pair: t.hex().notNull(),
  sender: t.hex().notNull(),
  to: t.hex(),
  amount0: t.bigint().notNull(),
  amount1: t.bigint().notNull(),
  blockNumber: t.bigint().notNull(),
  transactionHash: t.hex().notNull(),
}));

export const multiSend = onchainTable("multi_send", (t) => ({
  id: t.text().primaryKey(),
  sender: t.hex().notNull(),
  token: t.hex().notNull(),
  count: t.bigint().notNull(),
  total: t.bigint().notNull(),
  message: t.text().notNull(),
  blockNumber: t.bigint().notNull(),
  transactionHash: t.hex().notNull(),
}));
