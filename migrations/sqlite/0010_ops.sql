-- Operations (SQLite flavour). Keep in step with migrations/postgres/0010_ops.sql.

-- One row per decision (paid or payment failure) on a submitted order, written
-- in the deciding transaction and never changed: `topup_decision_seconds` is
-- bucketed from these rows, so it only ever grows, whatever happens to the
-- order later (an amend clears the order's own decided_at).
CREATE TABLE decision_times (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    outcome TEXT NOT NULL CHECK (outcome IN ('paid', 'payment_failure')),
    decided_at INTEGER NOT NULL,
    millis INTEGER NOT NULL CHECK (millis >= 0)
);
