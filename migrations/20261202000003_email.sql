-- Email: verified addresses, verification and reset tokens, known clients, the outbox
-- (CONTRACT.md section 7).

-- Only a verified address is stored on the account: an address counts once it is verified, so
-- a pending one lives with its token below. Verified addresses are unique case-insensitively.
ALTER TABLE users
    ADD COLUMN email             text,
    ADD COLUMN email_verified_at timestamptz,
    ADD CONSTRAINT users_email_length CHECK (char_length(email) <= 254),
    ADD CONSTRAINT users_email_verified CHECK ((email IS NULL) = (email_verified_at IS NULL));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email IS NOT NULL;

-- Single-use tokens mailed in links: 256 random bits, stored only as SHA-256. `purpose` is
-- 'verify' (with the address it proves) or 'reset'.
CREATE TABLE email_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT email_tokens_purpose CHECK (purpose IN ('verify', 'reset')),
    CONSTRAINT email_tokens_verify_has_email CHECK ((purpose = 'verify') = (email IS NOT NULL)),
    CONSTRAINT email_tokens_hash_length CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

-- The clients an account has signed in from (a digest of the user agent and network), so a
-- sign-in from a new one can be announced.
CREATE TABLE known_clients (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     bytea       NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, digest)
);

-- Mail to send, written in the same transaction as the change it tells of, sent by a worker on
-- any instance (FOR UPDATE SKIP LOCKED). The body carries live links, so it is sealed
-- (AES-256-GCM, the row's id as associated data) under a key derived from `secret_key`, and
-- dropped once sent. Rows do not reference users: a notice outlives a deleted account.
CREATE TABLE mail_outbox (
    id              uuid        PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body_sealed     bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    failed_at       timestamptz
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_created_at_idx ON mail_outbox (created_at);
