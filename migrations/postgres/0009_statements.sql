-- Bank statements and reconciliation (PostgreSQL flavour). Keep in step with
-- migrations/sqlite/0009_statements.sql. Times are Unix milliseconds;
-- money is integer minor units.

-- One import of one file (CLI, board upload, or a mailed statement).
CREATE TABLE statement_imports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    bank        TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    lines       BIGINT NOT NULL,
    added       BIGINT NOT NULL,
    actor       TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Every statement line once: `line_key` is the SHA-256 of account, date,
-- direction, amount, reference (else description), running balance and the
-- line's occurrence among identical lines of its file, so a re-import or an
-- overlapping period adds nothing. `order_id` is unique: never two lines on
-- one order; a line names at most one order.
CREATE TABLE statement_lines (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_key       TEXT    NOT NULL UNIQUE,
    import_id      BIGINT NOT NULL REFERENCES statement_imports (id),
    bank           TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    booked_on      TEXT    NOT NULL,
    direction      TEXT    NOT NULL CHECK (direction IN ('credit', 'debit')),
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    description    TEXT    NOT NULL,
    reference      TEXT,
    payer          TEXT,
    balance_minor  BIGINT,
    state          TEXT    NOT NULL
        CHECK (state IN ('matched', 'suggested', 'ambiguous', 'unmatched', 'debit')),
    rule           TEXT    CHECK (rule IS NULL OR rule IN ('order_number', 'reference', 'amount', 'staff')),
    order_id       BIGINT UNIQUE REFERENCES orders (id),
    -- Order numbers an ambiguous line could be (comma-separated), for staff.
    candidates     TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX statement_lines_state ON statement_lines (state, booked_on);
CREATE INDEX statement_lines_account ON statement_lines (account, booked_on);

-- The unique code added to an order's amount (`desk.unique_code`): the
-- customer transfers amount + code rupiah. Unique among unsettled orders
-- (enforced by the desk in its write transaction).
CREATE TABLE order_codes (
    order_id        BIGINT PRIMARY KEY REFERENCES orders (id),
    code            BIGINT NOT NULL CHECK (code BETWEEN 1 AND 999),
    transfer_minor  BIGINT NOT NULL
);
