-- The portal on the web and who did what (SQLite flavour). Keep in step with
-- migrations/postgres/0008_portal.sql. Times are Unix milliseconds.

-- A user's own page and mail language; NULL follows the account's language.
ALTER TABLE users ADD COLUMN lang TEXT CHECK (lang IS NULL OR lang IN ('id', 'en'));
-- A PIC the main user removed: the row stays (orders and events point at it),
-- its addresses are released (kept here for display) and it cannot act.
ALTER TABLE users ADD COLUMN removed_at INTEGER;
ALTER TABLE users ADD COLUMN former_email TEXT NOT NULL DEFAULT '';

-- A staff member's board language; NULL follows desk.staff_lang.
ALTER TABLE staff ADD COLUMN lang TEXT CHECK (lang IS NULL OR lang IN ('id', 'en'));

-- The user who sent the latest slip or amendment (they get the status mails too).
ALTER TABLE orders ADD COLUMN submitted_by INTEGER REFERENCES users (id);
-- When the staff channel was reminded of this order's current review round.
ALTER TABLE orders ADD COLUMN reminded_at INTEGER;

-- The customer user who acted (NULL for staff, system and operator), how the
-- action came in (`email`, `discord`, `web`, `status_link`, `cli`, ...), and
-- a code for notes the pages show in the reader's language.
ALTER TABLE order_events ADD COLUMN user_id INTEGER REFERENCES users (id);
ALTER TABLE order_events ADD COLUMN via TEXT NOT NULL DEFAULT '';
ALTER TABLE order_events ADD COLUMN reason_code TEXT NOT NULL DEFAULT '';
