-- topup schema, PostgreSQL flavour. Times are Unix milliseconds (UTC); money is
-- integer minor units (1/100 of the currency unit). Keep in step with
-- migrations/sqlite/0001_init.sql: the same queries run on both.

CREATE TABLE accounts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    lang        TEXT    NOT NULL DEFAULT 'id' CHECK (lang IN ('id', 'en')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    role        TEXT    NOT NULL CHECK (role IN ('main', 'pic')),
    name        TEXT    NOT NULL DEFAULT '',
    discord_id  TEXT    UNIQUE,
    created_at  BIGINT NOT NULL
);
-- Exactly one main user per account.
CREATE UNIQUE INDEX users_one_main ON users (account_id) WHERE role = 'main';

CREATE TABLE user_emails (
    email       TEXT    PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id)
);

CREATE TABLE staff (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    email         TEXT    UNIQUE,
    discord_id    TEXT    UNIQUE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE order_sequences (
    day         TEXT    PRIMARY KEY,
    last        BIGINT NOT NULL
);

CREATE TABLE orders (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          TEXT    NOT NULL UNIQUE,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    user_id         BIGINT REFERENCES users (id),
    status          TEXT    NOT NULL,
    amount_minor    BIGINT,
    paid_minor      BIGINT,
    currency        TEXT    NOT NULL,
    token           TEXT    NOT NULL UNIQUE,
    source          TEXT    NOT NULL,
    flags           TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    submitted_at    BIGINT,
    decided_at      BIGINT,
    decided_by      TEXT,
    reason          TEXT,
    -- The customer's latest email about this order: our mail threads under it.
    thread_message_id TEXT,
    thread_subject  TEXT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX orders_status ON orders (status, submitted_at);
CREATE INDEX orders_account ON orders (account_id, created_at);

CREATE TABLE order_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      BIGINT NOT NULL REFERENCES orders (id),
    at            BIGINT NOT NULL,
    event         TEXT    NOT NULL,
    actor_kind    TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    from_status   TEXT,
    to_status     TEXT,
    amount_minor  BIGINT,
    reason        TEXT
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Message-IDs that belong to an order's thread (ours and the customer's).
CREATE TABLE order_messages (
    message_id  TEXT    PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id)
);

CREATE TABLE inbound_messages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        TEXT    NOT NULL,
    sender        TEXT    NOT NULL,
    subject       TEXT    NOT NULL DEFAULT '',
    intent        TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    account_id    BIGINT REFERENCES accounts (id),
    order_id      BIGINT REFERENCES orders (id),
    raw_hash      TEXT,
    received_at   BIGINT NOT NULL
);

-- Every key a message is known by (Message-ID, IMAP UIDVALIDITY/UID, chat id).
CREATE TABLE inbound_keys (
    key         TEXT    PRIMARY KEY,
    inbound_id  BIGINT NOT NULL REFERENCES inbound_messages (id)
);

CREATE TABLE slips (
    hash          TEXT    PRIMARY KEY,
    content_type  TEXT    NOT NULL,
    size          BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE order_slips (
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    hash        TEXT    NOT NULL REFERENCES slips (hash),
    file_name   TEXT    NOT NULL DEFAULT '',
    inbound_id  BIGINT REFERENCES inbound_messages (id),
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (order_id, hash)
);

-- One credit per paid order: the unique key makes a double credit impossible.
CREATE TABLE ledger (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    order_id      BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    staff         TEXT    NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT    NOT NULL,
    order_id         BIGINT REFERENCES orders (id),
    recipient        TEXT    NOT NULL DEFAULT '',
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
