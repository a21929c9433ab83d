-- IMAP catch-up cursors: the highest UID handled (in order) per mailbox and
-- UIDVALIDITY, so a restart fetches only what came after it. Keep in step
-- with migrations/postgres/0002_sources.sql.

CREATE TABLE imap_cursors (
    mailbox_key   TEXT    PRIMARY KEY,
    uid_validity  INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
