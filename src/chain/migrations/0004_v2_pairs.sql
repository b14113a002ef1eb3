-- Uniswap V2 pair state, from PairCreated ("factory,token0,token1") and Sync ("reserve0,reserve1",
-- decimal): journaled like the other projections so a reorg restores the previous state.
CREATE TABLE chain_v2_pair_tokens (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  tokens TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract)
);
CREATE TABLE chain_v2_pair_reserves (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  reserves TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract)
);
