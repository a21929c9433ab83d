-- topup schema, SQLite flavour. Times are Unix milliseconds (UTC); money is
-- integer minor units (1/100 of the currency unit). Keep in step with
-- migrations/postgres/0001_init.sql: the same queries run on both.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    lang        TEXT    NOT NULL DEFAULT 'id' CHECK (lang IN ('id', 'en')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    role        TEXT    NOT NULL CHECK (role IN ('main', 'pic')),
    name        TEXT    NOT NULL DEFAULT '',
    discord_id  TEXT    UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;
-- Exactly one main user per account.
CREATE UNIQUE INDEX users_one_main ON users (account_id) WHERE role = 'main';

CREATE TABLE user_emails (
    email       TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id)
) STRICT;

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    email         TEXT    UNIQUE,
    discord_id    TEXT    UNIQUE,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE order_sequences (
    day         TEXT    PRIMARY KEY,
    last        INTEGER NOT NULL
) STRICT;

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    user_id         INTEGER REFERENCES users (id),
    status          TEXT    NOT NULL,
    amount_minor    INTEGER,
    paid_minor      INTEGER,
    currency        TEXT    NOT NULL,
    token           TEXT    NOT NULL UNIQUE,
    source          TEXT    NOT NULL,
    flags           TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    submitted_at    INTEGER,
    decided_at      INTEGER,
    decided_by      TEXT,
    reason          TEXT,
    -- The customer's latest email about this order: our mail threads under it.
    thread_message_id TEXT,
    thread_subject  TEXT,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_status ON orders (status, submitted_at);
CREATE INDEX orders_account ON orders (account_id, created_at);

CREATE TABLE order_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id      INTEGER NOT NULL REFERENCES orders (id),
    at            INTEGER NOT NULL,
    event         TEXT    NOT NULL,
    actor_kind    TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    from_status   TEXT,
    to_status     TEXT,
    amount_minor  INTEGER,
    reason        TEXT
) STRICT;
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Message-IDs that belong to an order's thread (ours and the customer's).
CREATE TABLE order_messages (
    message_id  TEXT    PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id)
) STRICT;

CREATE TABLE inbound_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT    NOT NULL,
    sender        TEXT    NOT NULL,
    subject       TEXT    NOT NULL DEFAULT '',
    intent        TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    account_id    INTEGER REFERENCES accounts (id),
    order_id      INTEGER REFERENCES orders (id),
    raw_hash      TEXT,
    received_at   INTEGER NOT NULL
) STRICT;

-- Every key a message is known by (Message-ID, IMAP UIDVALIDITY/UID, chat id).
CREATE TABLE inbound_keys (
    key         TEXT    PRIMARY KEY,
    inbound_id  INTEGER NOT NULL REFERENCES inbound_messages (id)
) STRICT;

CREATE TABLE slips (
    hash          TEXT    PRIMARY KEY,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE order_slips (
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    hash        TEXT    NOT NULL REFERENCES slips (hash),
    file_name   TEXT    NOT NULL DEFAULT '',
    inbound_id  INTEGER REFERENCES inbound_messages (id),
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (order_id, hash)
) STRICT;

-- One credit per paid order: the unique key makes a double credit impossible.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    order_id      INTEGER NOT NULL UNIQUE REFERENCES orders (id),
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    staff         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    order_id         INTEGER REFERENCES orders (id),
    recipient        TEXT    NOT NULL DEFAULT '',
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
