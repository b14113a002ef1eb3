-- SQLite has no NUMERIC(78,0) that keeps 78 digits: amounts are decimal TEXT.
CREATE TABLE fixture_balances (
  account_id BIGINT NOT NULL REFERENCES fixture_accounts (id),
  amount     TEXT   NOT NULL,
  dialect    TEXT   NOT NULL DEFAULT 'sqlite'
);
