-- One row per job: who runs it now (a lease that a crashed node's expiry frees) and the latest
-- scheduled fire time claimed, so that each fire time runs once across every node.
CREATE TABLE jobs_leases (
  job TEXT PRIMARY KEY,
  holder TEXT,
  expires_ms INTEGER NOT NULL,
  last_slot_ms INTEGER NOT NULL
);
-- Run history: one row per run, written when it starts and completed when it ends.
CREATE TABLE jobs_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  node TEXT NOT NULL,
  cause TEXT NOT NULL,
  slot_ms INTEGER,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  outcome TEXT NOT NULL,
  error TEXT
);
CREATE INDEX jobs_runs_job ON jobs_runs (job, id);
