//! A software WebAuthn authenticator for the passkey tests: an ES256 key pair, `none`
//! attestation, user verification, a signature counter, and knobs to forge each part a relying
//! party must check (origin, challenge, signature, user verification). Written from the WebAuthn
//! Level 3 spec (sections 6.1, 6.5, 7.1, 7.2), independently of the server's crate.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

/// What one ceremony should get wrong.
#[derive(Debug, Clone, Default)]
pub struct Forgery {
    /// Report this origin in the client data instead of the authenticator's.
    pub origin: Option<String>,
    /// Sign this challenge instead of the one asked for.
    pub challenge: Option<String>,
    /// Flip a bit of the signature.
    pub bad_signature: bool,
    /// Leave the user-verified flag off.
    pub unverified: bool,
    /// Present the counter of an earlier use again.
    pub replay_counter: bool,
}

pub struct Authenticator {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
    origin: String,
}

impl Authenticator {
    /// An authenticator in a browser at `origin` (`scheme://host[:port]`).
    pub fn new(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let mut credential_id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut credential_id).unwrap();
        Self {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.to_owned(),
        }
    }

    /// The same credential (id and key) in another authenticator object: for "already
    /// registered".
    pub fn clone_credential(&self, origin: &str) -> Self {
        let mut copy = Self::new(origin);
        copy.credential_id = self.credential_id.clone();
        copy
    }

    fn client_data(&self, kind: &str, options: &Value, forgery: &Forgery) -> Vec<u8> {
        let challenge = forgery.challenge.clone().unwrap_or_else(|| {
            options["challenge"]
                .as_str()
                .expect("a challenge")
                .to_owned()
        });
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": forgery.origin.clone().unwrap_or_else(|| self.origin.clone()),
            "crossOrigin": false
        })
        .to_string()
        .into_bytes()
    }

    fn flags(&self, forgery: &Forgery, attested: bool) -> u8 {
        let mut flags = 0x01; // user present
        if !forgery.unverified {
            flags |= 0x04; // user verified
        }
        if attested {
            flags |= 0x40; // attested credential data included
        }
        flags
    }

    /// Answers `navigator.credentials.create({publicKey})`: the RegistrationResponseJSON.
    pub fn register(&mut self, options: &Value, forgery: &Forgery) -> Value {
        let rp_id = options["rp"]["id"].as_str().expect("rp.id");
        self.user_handle = unb64(options["user"]["id"].as_str().expect("user.id"));
        let client_data = self.client_data("webauthn.create", options, forgery);
        let public = self.key.public_key().as_ref();
        assert_eq!(public.len(), 65, "an uncompressed P-256 point");
        let cose_key = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())), // kty: EC2
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())), // alg: ES256
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())), // crv: P-256
            (
                Cbor::Integer((-2).into()),
                Cbor::Bytes(public[1..33].to_vec()),
            ),
            (
                Cbor::Integer((-3).into()),
                Cbor::Bytes(public[33..65].to_vec()),
            ),
        ]);
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags(forgery, true));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cbor(&cose_key));
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&cbor(&attestation)),
                "transports": ["internal"]
            },
            "clientExtensionResults": {}
        })
    }

    /// Answers `navigator.credentials.get({publicKey})`: the AuthenticationResponseJSON.
    pub fn sign_in(&mut self, options: &Value, forgery: &Forgery) -> Value {
        let rp_id = options["rpId"].as_str().expect("rpId");
        if !forgery.replay_counter {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", options, forgery);
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags(forgery, false));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, &client_data).as_ref());
        let mut signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        if forgery.bad_signature {
            let last = signature.len() - 1;
            signature[last] ^= 0x01;
        }
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle)
            },
            "clientExtensionResults": {}
        })
    }
}
