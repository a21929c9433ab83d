-- The desk also asks before cancelling (postgres flavour; keep in step with
-- the other backend's 0014): a cancellation only the intent model read ("Did
-- you mean to cancel TU-...? Reply YES") is a proposal too, with no amount.
ALTER TABLE proposals DROP CONSTRAINT proposals_action_check;
ALTER TABLE proposals ALTER COLUMN amount_minor DROP NOT NULL;
ALTER TABLE proposals ADD CONSTRAINT proposals_action_check
    CHECK (action IN ('amend', 'cancel'));
ALTER TABLE proposals ADD CONSTRAINT proposals_amount_check
    CHECK ((action = 'amend') = (amount_minor IS NOT NULL));
