-- Which rule decided what an inbound message meant (sqlite flavour; keep in step
-- with the other backend's 0011): `parser` when the parser's reading was
-- acted on as it was, else the name of the rule that read it against the
-- order's state (e.g. `payment_failure_amount_is_amend`). Empty for
-- messages nothing was decided on (unknown senders, automatic mail).
ALTER TABLE inbound_messages ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
