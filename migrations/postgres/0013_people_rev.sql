-- A revision of an account's people (postgres flavour; keep in step with the
-- other backend's 0013): bumped by every change to its users or their
-- addresses, so a cached status page can tell in one read whether the names
-- it shows are still current (see store::orders::page_version).
ALTER TABLE accounts ADD COLUMN people_rev BIGINT NOT NULL DEFAULT 0;
