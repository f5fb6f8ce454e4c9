-- One row per sign-in. Access tokens name their session (`sid`), so revoking the row ends every
-- token of that sign-in at the next request, on every instance sharing this database.
-- `expires_at` slides forward with each refresh, up to `refresh_token_ttl` after the last one.
CREATE TABLE sessions (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text,
    ip           inet,
    revoked_at   timestamptz,
    CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 512)
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- Housekeeping deletes by these.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Refresh tokens: opaque 256-bit values, stored only as SHA-256 (high-entropy tokens need no slow
-- hash; the digest is useless to whoever reads the table). Single use: a refresh marks its token
-- spent and adds the next one. A spent token presented again within the grace window (parallel
-- tabs) gets a fresh token of the same session; after it, the whole session is revoked, because
-- the token was stolen or replayed (OAuth 2.0 Security BCP, refresh token rotation).
CREATE TABLE refresh_tokens (
    hash       bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    spent_at   timestamptz,
    CONSTRAINT refresh_tokens_hash_length CHECK (octet_length(hash) = 32)
);

CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
