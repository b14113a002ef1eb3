CREATE TABLE fixture_balances (
  account_id BIGINT        NOT NULL REFERENCES fixture_accounts (id),
  amount     NUMERIC(78, 0) NOT NULL,
  dialect    TEXT          NOT NULL DEFAULT 'postgres'
);
