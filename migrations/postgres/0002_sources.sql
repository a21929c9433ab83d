-- IMAP catch-up cursors: the highest UID handled (in order) per mailbox and
-- UIDVALIDITY, so a restart fetches only what came after it. Keep in step
-- with migrations/sqlite/0002_sources.sql.

CREATE TABLE imap_cursors (
    mailbox_key   TEXT   PRIMARY KEY,
    uid_validity  BIGINT NOT NULL,
    last_uid      BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
