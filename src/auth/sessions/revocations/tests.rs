use super::*;

fn trusted(set: &Revocations) {
    set.loaded.store(true, Ordering::Release);
    set.trusted_until
        .store(set.now_ms() + 60_000, Ordering::Release);
}

#[test]
fn an_untrusted_set_defers_to_the_database_but_never_forgets_a_revocation() {
    let set = Revocations::new(Duration::from_secs(900));
    let (revoked, other) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(set.check(other), Verdict::Unknown);
    set.add([revoked]);
    assert_eq!(set.check(revoked), Verdict::Revoked);
    assert_eq!(set.check(other), Verdict::Unknown);
    trusted(&set);
    assert_eq!(set.check(other), Verdict::NotRevoked);
    assert_eq!(set.check(revoked), Verdict::Revoked);
}

#[test]
fn a_loaded_set_whose_heartbeat_stopped_coming_back_is_not_trusted() {
    let set = Revocations::new(Duration::from_secs(900));
    set.loaded.store(true, Ordering::Release);
    set.trusted_until.store(set.now_ms(), Ordering::Release);
    assert_eq!(set.check(Uuid::new_v4()), Verdict::Unknown);
}

#[test]
fn messages_parse_by_kind() {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(Message::parse(&a.to_string()), Some(Message::Revoked(a)));
    assert_eq!(
        Message::parse(&format!("hb:{a}")),
        Some(Message::Heartbeat(a))
    );
    assert_eq!(
        Message::parse(&format!("ack:{a}:{b}")),
        Some(Message::Ack {
            instance: a,
            session: b
        })
    );
    assert_eq!(Message::parse("ack:nonsense"), None);
    assert_eq!(Message::parse("garbage"), None);
}

#[tokio::test]
async fn a_revocation_is_propagated_once_this_instance_and_every_live_peer_confirmed_it() {
    let set = std::sync::Arc::new(Revocations::new(Duration::from_secs(900)));
    let (session, peer) = (Uuid::new_v4(), Uuid::new_v4());
    set.peers.lock().unwrap().insert(peer, Instant::now());
    let waiting = tokio::spawn({
        let set = std::sync::Arc::clone(&set);
        async move { set.propagate(vec![session]).await }
    });
    tokio::task::yield_now().await;
    set.confirm(session, set.instance);
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "the peer has not confirmed yet");
    set.confirm(session, peer);
    assert!(waiting.await.unwrap());
    assert_eq!(set.check(session), Verdict::Revoked);
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_holds_a_revocation_back_no_longer_than_the_wait() {
    let set = Revocations::new(Duration::from_secs(900));
    let session = Uuid::new_v4();
    set.peers
        .lock()
        .unwrap()
        .insert(Uuid::new_v4(), Instant::now());
    set.confirm(session, set.instance);
    let started = tokio::time::Instant::now();
    assert!(!set.propagate(vec![session]).await);
    assert!(started.elapsed() >= PROPAGATION_WAIT);
}
