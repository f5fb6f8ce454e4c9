-- Second factors (CONTRACT.md section 4).

-- An authenticator app per account. The secret is sealed (AES-256-GCM under a key derived from
-- `secret_key`): whoever reads the table cannot compute codes. `confirmed_at` is NULL while the
-- enrolment waits for its first code. `last_step` is the 30-second step whose code was last
-- accepted: a code of that step or an earlier one is refused, so each code works once (RFC 6238
-- 5.2).
CREATE TABLE totp_factors (
    user_id       uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    last_step     bigint
);

-- Recovery codes, stored only as HMAC-SHA256 under a key derived from `secret_key` (80 random
-- bits each: no slow hash needed, and the digest is useless without the key). Single use.
CREATE TABLE recovery_codes (
    user_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in waiting for its second factor: the `mfa_token` (stored as SHA-256), single-use, five
-- minutes, dead after five wrong codes. `next_path` keeps a browser's `next`.
CREATE TABLE mfa_challenges (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    next_path  text,
    failures   integer     NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    CONSTRAINT mfa_challenges_token_hash_length CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

-- How each session's user proved who they are (RFC 8176 `amr` values), carried by its tokens.
ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';
