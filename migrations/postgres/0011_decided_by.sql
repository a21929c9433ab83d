-- Which rule decided what an inbound message meant (postgres flavour; keep in step
-- with the other backend's 0011): `parser` when the parser's reading was
-- acted on as it was, else the name of the rule that read it against the
-- order's state (e.g. `payment_failure_amount_is_amend`). Empty for
-- messages nothing was decided on (unknown senders, automatic mail).
ALTER TABLE inbound_messages ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';

-- A question the desk asked instead of guessing ("change TU-... to Rp X?
-- Reply YES"): a "yes" in the thread of `message_id` carries it out once, and
-- only while the order is as it was when asked (status and amount).
CREATE TABLE proposals (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT  NOT NULL REFERENCES orders (id),
    account_id       BIGINT  NOT NULL REFERENCES accounts (id),
    action           TEXT    NOT NULL CHECK (action IN ('amend')),
    amount_minor     BIGINT  NOT NULL,
    order_status     TEXT    NOT NULL,
    order_amount_minor BIGINT,
    message_id       TEXT    NOT NULL,
    inbound_id       BIGINT  REFERENCES inbound_messages (id),
    created_at       BIGINT  NOT NULL,
    used_at          BIGINT
);
CREATE INDEX proposals_message ON proposals (message_id);
