-- Web sign-in: sessions (customer and staff) and one-time sign-in links.
-- Only SHA-256 hashes of the secrets are stored, so a leaked database does
-- not sign anyone in. Keep in step with migrations/sqlite/0003_web.sql.

CREATE TABLE web_sessions (
    id_hash     TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('customer', 'staff')),
    subject_id  BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

CREATE TABLE web_sign_in_tokens (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id),
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX web_sign_in_tokens_expiry ON web_sign_in_tokens (expires_at);
