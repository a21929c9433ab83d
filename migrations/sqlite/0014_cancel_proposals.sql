-- The desk also asks before cancelling (sqlite flavour; keep in step with the
-- other backend's 0014): a cancellation only the intent model read ("Did you
-- mean to cancel TU-...? Reply YES") is a proposal too, with no amount.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt; nothing
-- references it.
CREATE TABLE proposals_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    action           TEXT    NOT NULL CHECK (action IN ('amend', 'cancel')),
    amount_minor     INTEGER CHECK ((action = 'amend') = (amount_minor IS NOT NULL)),
    order_status     TEXT    NOT NULL,
    order_amount_minor INTEGER,
    message_id       TEXT    NOT NULL,
    inbound_id       INTEGER REFERENCES inbound_messages (id),
    created_at       INTEGER NOT NULL,
    used_at          INTEGER
) STRICT;
INSERT INTO proposals_new (id, order_id, account_id, action, amount_minor, order_status,
                           order_amount_minor, message_id, inbound_id, created_at, used_at)
    SELECT id, order_id, account_id, action, amount_minor, order_status,
           order_amount_minor, message_id, inbound_id, created_at, used_at
    FROM proposals;
DROP TABLE proposals;
ALTER TABLE proposals_new RENAME TO proposals;
CREATE INDEX proposals_message ON proposals (message_id);
