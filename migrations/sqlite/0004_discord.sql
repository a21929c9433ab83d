-- Discord adapter tables (SQLite flavour). Keep in step with
-- migrations/postgres/0004_discord.sql. Times are Unix milliseconds.

-- One review card per review round of an order: a round starts with the
-- event that moved the order into `dealing` (a slip or an amendment), so a
-- resubmission gets a new card and the old ones are kept.
CREATE TABLE discord_cards (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    round_event_id  INTEGER NOT NULL REFERENCES order_events (id),
    channel_id      TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    -- 1 once the card shows its round's final outcome (no more edits needed).
    settled         INTEGER NOT NULL DEFAULT 0 CHECK (settled IN (0, 1)),
    posted_at       INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (order_id, round_event_id)
) STRICT;

-- A pending `/link email` code: one per Discord user, hashed, short-lived.
CREATE TABLE discord_link_codes (
    discord_id  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    code_hash   TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
