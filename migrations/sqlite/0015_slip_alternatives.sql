-- The other amounts the OCR reads of an unsure slip amount found, the
-- likeliest first, as sen separated by spaces (sqlite flavour; keep in step with
-- the other backend's 0015). NULL when there were none, and on rows read
-- before this column existed. An order whose claim is exactly one of them
-- takes it, still unsure (see crate::slip::with_claim).
ALTER TABLE slip_reads ADD COLUMN amount_alternatives TEXT;
