-- The server's own signing keys for access tokens (CONTRACT.md section 6). Every instance signs
-- with the key this table names current and verifies with the published ones; the private half
-- is sealed (AES-256-GCM under a key derived from `secret_key`, the kid as associated data).
-- A key is published from `publish_at` and signs from `activate_at`; the next key is published
-- at least two JWKS cache lifetimes before it signs, so verifiers have it before they meet it.
-- A key stops signing when a newer one activates and leaves the set once every token it signed
-- has expired; `revoked_at` (a compromised key) takes it out at once.
CREATE TABLE signing_keys (
    kid            text        PRIMARY KEY,
    alg            text        NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
    private_sealed bytea       NOT NULL,
    public_jwk     jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    publish_at     timestamptz NOT NULL,
    activate_at    timestamptz NOT NULL,
    revoked_at     timestamptz,
    CONSTRAINT signing_keys_publish_before_activate CHECK (publish_at <= activate_at)
);
CREATE INDEX signing_keys_activate_at_idx ON signing_keys (activate_at DESC);
