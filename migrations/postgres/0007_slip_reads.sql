-- What the desk read off each slip file (PostgreSQL flavour). Keep in step with
-- migrations/sqlite/0007_slip_reads.sql. Times are Unix milliseconds.
--
-- One row per file (by SHA-256), which is also the reading queue: a row is
-- `pending` until the worker reads it (`attempts` and `next_at` drive the
-- retries; `error` says what went wrong last), then `done` with the fields
-- found (NULL when not found), or `failed` when it cannot be read.
CREATE TABLE slip_reads (
    hash            TEXT    PRIMARY KEY REFERENCES slips (hash),
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_at         BIGINT NOT NULL,
    error           TEXT,
    method          TEXT,
    amount_minor    BIGINT,
    -- Date and time as printed on the slip (the bank's local time), `YYYY-MM-DDTHH:MM:SS`.
    slip_time       TEXT,
    bank            TEXT,
    sender_name     TEXT,
    sender_account  TEXT,
    dest_account    TEXT,
    dest_name       TEXT,
    -- Letters and digits only, upper case (matched against bank statements too).
    reference       TEXT,
    remark          TEXT,
    read_ms         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX slip_reads_queue ON slip_reads (status, next_at);
CREATE INDEX slip_reads_reference ON slip_reads (reference);
