-- Hostile-input hardening (PostgreSQL flavour). Keep in step with
-- migrations/sqlite/0006_hardening.sql.

ALTER TABLE inbound_messages ADD COLUMN failed_error TEXT;
ALTER TABLE inbound_messages ADD COLUMN content_hash TEXT;
CREATE INDEX inbound_failed ON inbound_messages (id) WHERE failed_error IS NOT NULL;

ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'sent', 'dead', 'suppressed'));
ALTER TABLE outbox ADD COLUMN email_kind TEXT;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;

CREATE TABLE rate_events (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope  TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    at     BIGINT  NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (scope, key, at);

CREATE TABLE staff_devices (
    token_hash  TEXT    PRIMARY KEY,
    staff_id    BIGINT  NOT NULL REFERENCES staff (id),
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);

ALTER TABLE discord_link_codes ADD COLUMN replaces TEXT;
