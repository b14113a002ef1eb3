-- Reports: a member tells the channel's moderators about a message (spam, a scam, harassment...).
-- The message's author and body are kept as they were when reported, so an edit or delete does not
-- take the evidence away. One report per reporter and message; moderators resolve or dismiss it.
-- Closed reports go after MessagingSettings::report_retention (job messaging.reports_purge).
CREATE TABLE msg_reports (
  id BIGSERIAL PRIMARY KEY,
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  reporter TEXT NOT NULL,
  reason TEXT NOT NULL,
  note TEXT NOT NULL,
  status TEXT NOT NULL,
  resolution TEXT NOT NULL,
  resolved_by TEXT,
  resolved_ms BIGINT,
  created_ms BIGINT NOT NULL,
  UNIQUE (channel_id, seq, reporter)
);
CREATE INDEX msg_reports_status ON msg_reports (status, id);
CREATE INDEX msg_reports_reporter ON msg_reports (reporter, status);
CREATE INDEX msg_reports_closed ON msg_reports (resolved_ms);
