-- Hostile-input hardening (SQLite flavour). Keep in step with
-- migrations/postgres/0006_hardening.sql.

-- A message whose handling kept failing is recorded with the error (kept raw
-- for staff) so the source can move on; `content_hash` tells a redelivery
-- (same content) from a different message that reuses a Message-ID.
ALTER TABLE inbound_messages ADD COLUMN failed_error TEXT;
ALTER TABLE inbound_messages ADD COLUMN content_hash TEXT;
CREATE INDEX inbound_failed ON inbound_messages (id) WHERE failed_error IS NOT NULL;

-- The outbox gains `suppressed` (an answer the loop guard held back, kept
-- visible), the email kind (the cap counts only answers to messages we could
-- not act on) and the claimant of a lease (so only it extends the lease).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    order_id         INTEGER REFERENCES orders (id),
    recipient        TEXT    NOT NULL DEFAULT '',
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'dead', 'suppressed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    email_kind       TEXT,
    claimed_by       TEXT
) STRICT;
INSERT INTO outbox_new (id, kind, order_id, recipient, payload, status, attempts,
    next_attempt_at, lease_until, last_error, created_at, sent_at)
    SELECT id, kind, order_id, recipient, payload, status, attempts, next_attempt_at,
           lease_until, last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);

-- Rate limits that must survive a restart and be shared by several daemons:
-- one row per counted event (a failed staff sign-in, a link-code request,
-- a sign-in link mailed ...), counted over a sliding window.
CREATE TABLE rate_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    scope  TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    at     INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_events_key ON rate_events (scope, key, at);

-- Browsers a staff member signed in from: the per-name sign-in brake does not
-- lock a staff member out of a device they already proved, so a stranger
-- guessing passwords cannot lock them out.
CREATE TABLE staff_devices (
    token_hash  TEXT    PRIMARY KEY,
    staff_id    INTEGER NOT NULL REFERENCES staff (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- A link code that would replace a user's existing Discord link is mailed to
-- the account's main user (their confirmation); the code remembers which link
-- it replaces, so it cannot overwrite a link made in the meantime.
ALTER TABLE discord_link_codes ADD COLUMN replaces TEXT;
