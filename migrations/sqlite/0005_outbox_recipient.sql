-- The reply loop guard counts recent emails per recipient for every inbound
-- message: without this index that count scans the whole outbox.
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
