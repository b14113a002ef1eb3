-- The center lists by kind (`GET /v1/notifications?kind=mention,reply`, an inbox's "Mentions"):
-- newest first within each kind, without reading the account's other notifications.
CREATE INDEX notify_notifications_kind ON notify_notifications (account, kind, created_ms, id);
