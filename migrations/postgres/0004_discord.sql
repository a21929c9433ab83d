-- Discord adapter tables (PostgreSQL flavour). Keep in step with
-- migrations/sqlite/0004_discord.sql. Times are Unix milliseconds.

-- One review card per review round of an order: a round starts with the
-- event that moved the order into `dealing` (a slip or an amendment), so a
-- resubmission gets a new card and the old ones are kept.
CREATE TABLE discord_cards (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    round_event_id  BIGINT NOT NULL REFERENCES order_events (id),
    channel_id      TEXT   NOT NULL,
    message_id      TEXT   NOT NULL,
    -- 1 once the card shows its round's final outcome (no more edits needed).
    settled         BIGINT NOT NULL DEFAULT 0 CHECK (settled IN (0, 1)),
    posted_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (order_id, round_event_id)
);

-- A pending `/link email` code: one per Discord user, hashed, short-lived.
CREATE TABLE discord_link_codes (
    discord_id  TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    code_hash   TEXT   NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
