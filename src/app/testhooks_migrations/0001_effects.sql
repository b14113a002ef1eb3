-- Only with --test-hooks: the effects of the test consumer, to prove each event applies once.
CREATE TABLE testhooks_effects (
  event_id TEXT PRIMARY KEY,
  n INTEGER NOT NULL,
  applied_count INTEGER NOT NULL
);
