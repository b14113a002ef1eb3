ALTER TABLE fixture_balances ADD COLUMN note TEXT;
