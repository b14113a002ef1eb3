-- The presence each account chose for itself (as Discord keeps a user's status): the status its
-- sockets show on every node and after every reconnect, and a custom status (text, emoji, an
-- optional expiry in Unix ms). An account that never chose one has no row and shows online.
-- Notify reads `status` to hold push back while an account is on do not disturb.
CREATE TABLE realtime_presence (
  account TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  custom_text TEXT,
  custom_emoji TEXT,
  custom_expires_ms BIGINT,
  updated_ms BIGINT NOT NULL
);
