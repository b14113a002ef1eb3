-- Accounts: the same SQL on both dialects.
CREATE TABLE fixture_accounts (
  id      BIGINT PRIMARY KEY,
  address TEXT   NOT NULL UNIQUE
);
CREATE INDEX fixture_accounts_by_address ON fixture_accounts (address);
