//! The pool's tests: answers alone and in batches, hashes across crates and from the seed,
//! the queue limit and the priority of the hashing threads.

use super::*;
use std::sync::mpsc;

fn password(s: &str) -> Password {
    Password::parse(s.to_owned()).unwrap()
}

#[tokio::test]
async fn only_hashes_of_another_cost_need_remaking() {
    let hasher = PasswordHasher::start(1, 4, 5).await.unwrap();
    let current = hasher.hash(password("correct horse")).await.unwrap();
    assert!(!hasher.needs_rehash(&current));
    assert!(hasher.needs_rehash(&bcrypt_rust::hash("correct horse", 4).unwrap()));
    assert!(!hasher.needs_rehash("not a bcrypt hash"));
}

#[tokio::test]
async fn a_hash_verifies_its_password_and_no_other() {
    let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
    let hash = hasher.hash(password("correct horse")).await.unwrap();
    assert!(hash.starts_with("$2b$04$"));
    assert!(
        hasher
            .verify(password("correct horse"), Some(hash.clone()))
            .await
            .unwrap()
    );
    assert!(
        !hasher
            .verify(password("correct horsE"), Some(hash))
            .await
            .unwrap()
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_run_at_a_lower_priority_than_the_caller() {
    let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
    let caller = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
    let hashing = hasher
        .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap())
        .await
        .unwrap();
    assert_eq!(hashing, (caller + HASHING_NICENESS).min(19));
}

#[tokio::test]
async fn an_unknown_user_never_verifies() {
    let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
    assert!(!hasher.verify(password("anything"), None).await.unwrap());
}

#[tokio::test]
async fn seed_made_hashes_verify_unchanged() {
    // Made by the Flask seed's library: python bcrypt 5.0, `hashpw(pw.encode(), gensalt(12))`.
    let cases = [
        (
            "seed-password-1",
            "$2b$12$t6Xa.EbwEmo10T/ZAmucR.nN52v1Mp5yb6WkJMnDtRrTpoZJH2Lem",
        ),
        (
            "pässwörd-ünïcode",
            "$2b$12$3zOb.ofpQ.jnbVVfUeMSa.xbUTXiRIcaOXxpG.YvBt8wJ0BlsVtIa",
        ),
    ];
    let hasher = PasswordHasher::start(1, 4, 12).await.unwrap();
    for (pw, hash) in cases {
        assert!(
            hasher
                .verify(password(pw), Some(hash.into()))
                .await
                .unwrap(),
            "{pw}"
        );
    }
}

#[tokio::test]
async fn checks_run_in_a_batch_answer_as_they_would_alone() {
    let plan = BatchPlan { lanes: 8, min: 2 };
    let hasher = Arc::new(PasswordHasher::start_with(plan, 1, 16, 5).await.unwrap());
    let right = hasher.hash(password("correct horse")).await.unwrap();
    let other_cost = bcrypt::hash("correct horse", 4).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let hasher = Arc::clone(&hasher);
        async move { hasher.run(move || wait.recv().ok()).await }
    });
    while hasher.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    // Queued behind the blocker, so the thread takes them together.
    let cases = [
        ("correct horse", Some(right.clone()), true),
        ("correct horsE", Some(right.clone()), false),
        ("correct horse", None, false),
        ("correct horse", Some(other_cost), true),
        ("correct horse", Some("$2b$05$tampered".into()), false),
        ("correct horse", Some(right), true),
    ];
    let checks: Vec<_> = cases
        .iter()
        .map(|(pw, hash, _)| {
            let hasher = Arc::clone(&hasher);
            let (pw, hash) = (password(pw), hash.clone());
            tokio::spawn(async move { hasher.verify(pw, hash).await.unwrap() })
        })
        .collect();
    while hasher.in_flight() < 1 + cases.len() {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for (check, (pw, hash, expected)) in checks.into_iter().zip(&cases) {
        assert_eq!(check.await.unwrap(), *expected, "{pw} against {hash:?}");
    }
    assert_eq!(hasher.batched(), cases.len() as u64);
}

#[tokio::test]
async fn hashes_agree_with_the_bcrypt_crate_both_ways() {
    // Every account hashed before the switch was made by the `bcrypt` crate; a hash of ours
    // must also stay readable by it. 72 bytes is the longest password we accept.
    let longest = "é".repeat(36);
    let hasher = PasswordHasher::start(1, 4, 5).await.unwrap();
    for pw in ["a", "correct horse", "pässwörd-ünïcode", longest.as_str()] {
        let theirs = bcrypt::hash(pw, 5).unwrap();
        assert!(
            hasher
                .verify(password(pw), Some(theirs.clone()))
                .await
                .unwrap(),
            "{pw}"
        );
        assert!(
            !hasher
                .verify(password("wrong"), Some(theirs))
                .await
                .unwrap(),
            "{pw}"
        );
        let ours = hasher.hash(password(pw)).await.unwrap();
        assert!(bcrypt::verify(pw, &ours).unwrap(), "{pw}");
        assert!(!bcrypt::verify("wrong", &ours).unwrap(), "{pw}");
    }
}

#[tokio::test]
async fn a_tampered_hash_is_a_mismatch_not_a_panic() {
    let hasher = PasswordHasher::start(1, 4, 4).await.unwrap();
    for bad in [
        "$2b$04$short",
        "$2b$99$",
        "not a hash",
        "$2b$04$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    ] {
        assert!(
            !hasher
                .verify(password("x"), Some(bad.into()))
                .await
                .unwrap(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let hasher = PasswordHasher::start(1, 1, 4).await.unwrap();
    let (started, has_started) = oneshot::channel();
    let (release, wait) = mpsc::channel::<()>();

    // Occupy the only thread...
    let blocker = hasher.run(move || {
        let _ = started.send(());
        wait.recv().ok()
    });
    tokio::pin!(blocker);
    tokio::select! {
        _ = &mut blocker => unreachable!("the blocker waits for release"),
        _ = has_started => {}
    }
    // ...fill the only queue slot (a job is queued on its first poll)...
    let queued = hasher.run(|| ());
    tokio::pin!(queued);
    tokio::select! {
        biased;
        _ = &mut queued => unreachable!("the thread is busy"),
        _ = std::future::ready(()) => {}
    }
    // ...and the next job is refused without waiting.
    assert!(matches!(hasher.run(|| ()).await, Err(HashError::Busy)));

    release.send(()).unwrap();
    assert!(blocker.await.is_ok());
    assert!(queued.await.is_ok());
}
