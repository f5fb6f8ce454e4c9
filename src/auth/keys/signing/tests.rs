use super::*;

const DAY: Duration = Duration::from_secs(86_400);
const LIFE: Duration = Duration::from_secs(900);

fn key(kid: &str, publish_at: i64, activate_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        private_sealed: vec![],
        public_jwk: json!({}),
        publish_at: OffsetDateTime::from_unix_timestamp(publish_at).unwrap(),
        activate_at: OffsetDateTime::from_unix_timestamp(activate_at).unwrap(),
        revoked_at: None,
    }
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// Publish, switch, retire, expire, along one clock.
#[test]
fn a_rotation_publishes_first_switches_later_and_retires_after_the_last_token() {
    let t0 = 1_000_000;
    // `a` signs; `b` is published at t0 + 10 and signs from t0 + 610.
    let keys = vec![key("b", t0 + 10, t0 + 610), key("a", t0, t0)];
    let plan_at = |s| plan(&keys, at(s), LIFE);
    assert_eq!(
        plan_at(t0 + 5),
        Plan {
            signing: Some(1),
            published: vec![1]
        }
    );
    assert_eq!(
        plan_at(t0 + 10),
        Plan {
            signing: Some(1),
            published: vec![0, 1]
        }
    );
    // Switched: b signs, a stays published while its tokens live.
    assert_eq!(
        plan_at(t0 + 610),
        Plan {
            signing: Some(0),
            published: vec![0, 1]
        }
    );
    assert_eq!(
        plan_at(t0 + 610 + 899),
        Plan {
            signing: Some(0),
            published: vec![0, 1]
        }
    );
    // Expired: every token a signed has.
    assert_eq!(
        plan_at(t0 + 610 + 900),
        Plan {
            signing: Some(0),
            published: vec![0]
        }
    );
}

#[test]
fn a_revoked_key_neither_signs_nor_is_published() {
    let mut keys = vec![key("b", 0, 100), key("a", 0, 0)];
    keys[0].revoked_at = Some(at(150));
    assert_eq!(
        plan(&keys, at(200), LIFE),
        Plan {
            signing: Some(1),
            published: vec![1]
        }
    );
}

#[test]
fn a_rotation_is_due_when_the_signing_key_is_old_and_nothing_waits() {
    let keys = vec![key("a", 0, 0)];
    assert!(!rotation_due(&keys, at(29 * 86_400), 30 * DAY));
    assert!(rotation_due(&keys, at(30 * 86_400), 30 * DAY));
    let waiting = vec![key("b", 30 * 86_400, 30 * 86_400 + 600), key("a", 0, 0)];
    assert!(!rotation_due(&waiting, at(30 * 86_400 + 1), 30 * DAY));
    assert!(rotation_due(&[], at(0), 30 * DAY), "no key at all");
}
