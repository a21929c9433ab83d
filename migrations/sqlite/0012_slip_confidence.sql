-- How far the amount read off a slip can be trusted (sqlite flavour; keep in step
-- with the other backend's 0012): 1 when it came from a PDF's text layer or
-- from two agreeing OCR reads of a labelled, well-formed figure; 0 otherwise
-- (a lone headline, a total, one read, reads that disagree). NULL when no
-- amount was read, and on rows read before this column existed, which count
-- as unsure: only a sure amount may raise "amount differs".
ALTER TABLE slip_reads ADD COLUMN amount_sure INTEGER;
