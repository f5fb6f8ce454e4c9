-- Passkeys (CONTRACT.md section 5).

-- A WebAuthn credential of an account. `passkey` is webauthn-rs's record of it (public key,
-- signature counter, backup flags), replaced after each use as the WebAuthn spec asks
-- (section 7.2, steps 21-22). A credential belongs to one account at most.
CREATE TABLE passkeys (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id bytea       NOT NULL,
    name          text        NOT NULL,
    passkey       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    CONSTRAINT passkeys_name_length CHECK (char_length(name) BETWEEN 1 AND 64)
);
CREATE UNIQUE INDEX passkeys_credential_id_key ON passkeys (credential_id);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- A ceremony in progress: its state (the challenge and what it allows), single-use, five
-- minutes, so any instance may finish what another started. `user_id` is the account of a
-- registration or a second step; a passkey-only sign-in has none until it is finished.
-- `mfa_token_hash` ties a second step to its pending sign-in.
CREATE TABLE webauthn_challenges (
    id             uuid        PRIMARY KEY,
    purpose        text        NOT NULL,
    user_id        uuid        REFERENCES users (id) ON DELETE CASCADE,
    mfa_token_hash bytea,
    state          jsonb       NOT NULL,
    expires_at     timestamptz NOT NULL,
    spent_at       timestamptz,
    CONSTRAINT webauthn_challenges_purpose CHECK (purpose IN ('register', 'sign_in', 'second_factor'))
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);
