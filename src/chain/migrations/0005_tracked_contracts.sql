-- Contracts added at run time (a gate, a reward, a DEX factory, an operator) or configured with
-- their own start block. Each is backfilled alone from start_block, its cursor (backfilled_to:
-- the last block applied for it) climbing to its pipeline's checkpoint; then it joins the
-- pipeline's address filter (joined = 1) and follows the head with the others.
CREATE TABLE chain_tracked_contracts (
  chain_id BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  contract TEXT NOT NULL,
  start_block BIGINT NOT NULL,
  backfilled_to BIGINT NOT NULL,
  joined INTEGER NOT NULL,
  logs_applied BIGINT NOT NULL,
  last_error TEXT,
  added_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (chain_id, pipeline, contract)
);
