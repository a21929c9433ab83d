-- Bank statements and reconciliation (SQLite flavour). Keep in step with
-- migrations/postgres/0009_statements.sql. Times are Unix milliseconds;
-- money is integer minor units.

-- One import of one file (CLI, board upload, or a mailed statement).
CREATE TABLE statement_imports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    bank        TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    lines       INTEGER NOT NULL,
    added       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Every statement line once: `line_key` is the SHA-256 of account, date,
-- direction, amount, reference (else description), running balance and the
-- line's occurrence among identical lines of its file, so a re-import or an
-- overlapping period adds nothing. `order_id` is unique: never two lines on
-- one order; a line names at most one order.
CREATE TABLE statement_lines (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    line_key       TEXT    NOT NULL UNIQUE,
    import_id      INTEGER NOT NULL REFERENCES statement_imports (id),
    bank           TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    booked_on      TEXT    NOT NULL,
    direction      TEXT    NOT NULL CHECK (direction IN ('credit', 'debit')),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    description    TEXT    NOT NULL,
    reference      TEXT,
    payer          TEXT,
    balance_minor  INTEGER,
    state          TEXT    NOT NULL
        CHECK (state IN ('matched', 'suggested', 'ambiguous', 'unmatched', 'debit')),
    rule           TEXT    CHECK (rule IS NULL OR rule IN ('order_number', 'reference', 'amount', 'staff')),
    order_id       INTEGER UNIQUE REFERENCES orders (id),
    -- Order numbers an ambiguous line could be (comma-separated), for staff.
    candidates     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX statement_lines_state ON statement_lines (state, booked_on);
CREATE INDEX statement_lines_account ON statement_lines (account, booked_on);

-- The unique code added to an order's amount (`desk.unique_code`): the
-- customer transfers amount + code rupiah. Unique among unsettled orders
-- (enforced by the desk in its write transaction).
CREATE TABLE order_codes (
    order_id        INTEGER PRIMARY KEY REFERENCES orders (id),
    code            INTEGER NOT NULL CHECK (code BETWEEN 1 AND 999),
    transfer_minor  INTEGER NOT NULL
) STRICT;
