-- Operations (PostgreSQL flavour). Keep in step with migrations/sqlite/0010_ops.sql.

-- One row per decision (paid or payment failure) on a submitted order, written
-- in the deciding transaction and never changed: `topup_decision_seconds` is
-- bucketed from these rows, so it only ever grows, whatever happens to the
-- order later (an amend clears the order's own decided_at).
CREATE TABLE decision_times (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    outcome TEXT NOT NULL CHECK (outcome IN ('paid', 'payment_failure')),
    decided_at BIGINT NOT NULL,
    millis BIGINT NOT NULL CHECK (millis >= 0)
);
