-- Pinned messages of a channel, at most max_pins (the service counts them under the channel's row
-- lock). Deleting a message removes its pin.
CREATE TABLE msg_pins (
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  pinned_by TEXT NOT NULL,
  pinned_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, seq)
);
