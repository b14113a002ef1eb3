// GET /bench/state: every balance row and the pairs' reserves, for the bench to compare with
// balanceOf and getReserves() at the head, as it compares gatehouse's tables; and the row counts of
// the per-event tables. Amounts as decimal strings (JSON has no bigint).
import { db } from "ponder:api";
import { erc20Balance, multiSend, v2Liquidity, v2Pair, v2Reserves, v2Swap } from "ponder:schema";
import { count } from "ponder";
import { Hono } from "hono";

const app = new Hono();

app.get("/bench/state", async (c) => {
  const balances = await db.select().from(erc20Balance);
  const reserves = await db.select().from(v2Reserves);
  const rows = async (table: typeof v2Pair | typeof v2Swap | typeof v2Liquidity | typeof multiSend) =>
    (await db.select({ n: count() }).from(table))[0]!.n;
  return c.json({
    balances: balances.map((b) => [b.token, b.holder, b.amount.toString()]),
    reserves: reserves.map((r) => [r.pair, `${r.reserve0},${r.reserve1}`]),
    rows: {
      pairs: await rows(v2Pair),
      swaps: await rows(v2Swap),
      liquidity: await rows(v2Liquidity),
      multiSends: await rows(multiSend),
    },
  });
});

export default app;
