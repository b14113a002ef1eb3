// The handlers: the same changes as gatehouse's pipelines apply, written the way the Ponder docs
// write them (an insert with onConflictDoUpdate per changed row; Ponder batches and caches the
// rows in memory during the backfill and flushes them per block range).
import { ponder } from "ponder:registry";
import { erc20Balance, multiSend, v2Liquidity, v2Pair, v2Reserves, v2Swap } from "ponder:schema";
import { zeroAddress } from "viem";

// A transfer decreases the sender's balance (unless minted) and increases the recipient's (unless
// burnt); a balance row that reaches zero stays, with amount 0, as in gatehouse.
ponder.on("ERC20:Transfer", async ({ event, context }) => {
  const token = event.log.address;
  const { from, to, value } = event.args;
  if (from !== zeroAddress) {
    await context.db
      .insert(erc20Balance)
      .values({ token, holder: from, amount: -value })
      .onConflictDoUpdate((row) => ({ amount: row.amount - value }));
  }
  if (to !== zeroAddress) {
    await context.db
      .insert(erc20Balance)
      .values({ token, holder: to, amount: value })
      .onConflictDoUpdate((row) => ({ amount: row.amount + value }));
  }
});

ponder.on("UniswapV2Factory:PairCreated", async ({ event, context }) => {
  await context.db.insert(v2Pair).values({
    pair: event.args.pair,
    factory: event.log.address,
    token0: event.args.token0,
    token1: event.args.token1,
  });
});

ponder.on("UniswapV2Pair:Sync", async ({ event, context }) => {
  const { reserve0, reserve1 } = event.args;
  await context.db
    .insert(v2Reserves)
    .values({ pair: event.log.address, reserve0, reserve1 })
    .onConflictDoUpdate({ reserve0, reserve1 });
});

ponder.on("UniswapV2Pair:Swap", async ({ event, context }) => {
  await context.db.insert(v2Swap).values({
    id: event.id,
    pair: event.log.address,
    sender: event.args.sender,
    to: event.args.to,
    amount0In: event.args.amount0In,
    amount1In: event.args.amount1In,
    amount0Out: event.args.amount0Out,
    amount1Out: event.args.amount1Out,
    blockNumber: event.block.number,
    transactionHash: event.transaction.hash,
  });
});

ponder.on("UniswapV2Pair:Mint", async ({ event, context }) => {
  await context.db.insert(v2Liquidity).values({
    id: event.id,
    kind: "mint",
    pair: event.log.address,
    sender: event.args.sender,
    amount0: event.args.amount0,
    amount1: event.args.amount1,
    blockNumber: event.block.number,
    transactionHash: event.transaction.hash,
  });
});

ponder.on("UniswapV2Pair:Burn", async ({ event, context }) => {
  await context.db.insert(v2Liquidity).values({
    id: event.id,
    kind: "burn",
    pair: event.log.address,
    sender: event.args.sender,
    to: event.args.to,
    amount0: event.args.amount0,
    amount1: event.args.amount1,
    blockNumber: event.block.number,
    transactionHash: event.transaction.hash,
  });
});

ponder.on("MultiSender:MultiSent", async ({ event, context }) => {
  await context.db.insert(multiSend).values({
    id: event.id,
    sender: event.args.sender,
    token: event.args.token,
    count: event.args.count,
    total: event.args.total,
    message: event.args.message,
    blockNumber: event.block.number,
    transactionHash: event.transaction.hash,
  });
});
