-- One row per sign-in. Access tokens name their session (`sid`), so revoking the row ends every
-- token of that sign-in at the next request, on every instance sharing this database.
-- The refresh token is stored only as its SHA-256 (it is 256 random bits, so a fast hash is
-- enough: there is nothing to brute-force, OWASP ASVS 7.2.x / 6.4.1).
CREATE TABLE sessions (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash      bytea       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    user_agent        text,
    ip                inet,
    revoked_at        timestamptz,
    CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 512)
);

CREATE UNIQUE INDEX sessions_refresh_hash_key ON sessions (refresh_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
