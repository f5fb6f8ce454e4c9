//! The in-process set of revoked sessions: token checks without a database round trip, and a
//! revocation that is done on every instance when the revoking request is answered.
//!
//! (About a third of this file is its tests: the trust window and the propagation wait are
//! checked with a paused clock.)
//!
//! Every instance listens on `gatehouse_revocations` (PostgreSQL LISTEN/NOTIFY: a trigger sends a
//! session's id whenever it ends), then loads the recent revocations from `session_revocations`:
//! listen first, then load, so nothing falls between. Three more kinds of message share the
//! channel:
//! - `hb:<instance>`: each instance's heartbeat, sent every second through the pool. Hearing its
//!   own proves its listening connection alive: an instance trusts its set only for
//!   [`TRUST_WINDOW`] after its last own heartbeat came back, so a connection that died silently
//!   (a failover, a dropped route) stops being trusted within seconds, and the guard asks the
//!   database (or answers 503) instead. Hearing the others' tells who is alive.
//! - `ack:<instance>:<session>`: sent by each instance once a revocation is in its set.
//! - The revoking instance waits for its own notification and every live peer's `ack` before it
//!   answers ([`Revocations::propagate`]); a peer that does not ack within [`PROPAGATION_WAIT`]
//!   (longer than the trust window) has stopped trusting its own set by then. So once the
//!   response is sent, no instance accepts the token (docs/api.md §3 "Revocation").

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db;

pub const CHANNEL: &str = "gatehouse_revocations";

/// How often an instance sends its heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long after its own last heartbeat came back an instance trusts its set.
pub const TRUST_WINDOW: Duration = Duration::from_secs(3);
/// How long after its last heartbeat a peer still counts as alive, so that its acknowledgement
/// is waited for: longer than the trust window, so no peer trusts its set while it does not
/// count (the margin covers the two instances hearing one heartbeat at slightly other times).
const PEER_WINDOW: Duration = Duration::from_millis(3_500);
/// How long a revoking request waits for the peers' acknowledgements at most: longer than the
/// trust window, so a peer that has not acknowledged by then no longer trusts its set.
pub const PROPAGATION_WAIT: Duration = Duration::from_millis(4_000);

pub struct Revocations {
    /// Revoked session ids and when this instance learnt of them.
    revoked: RwLock<HashMap<Uuid, Instant>>,
    /// Whether the set is complete since the listener's last (re)connection.
    loaded: AtomicBool,
    /// Milliseconds since `epoch` until which the set is trusted (the listener proved alive).
    trusted_until: AtomicU64,
    epoch: Instant,
    /// This process, as its heartbeats and acknowledgements name it.
    instance: Uuid,
    /// Other instances by when their heartbeat was last heard.
    peers: Mutex<HashMap<Uuid, Instant>>,
    /// Who has confirmed each recent revocation (this instance's own notification included).
    confirmed: Mutex<HashMap<Uuid, (Instant, HashSet<Uuid>)>>,
    /// Woken whenever a confirmation arrives.
    confirmation: Notify,
    /// Told when the signing keys changed (a rotation, a revocation): `keys` on the channel.
    keys: Notify,
    /// How long an entry matters: the longest an access token of the session can still be valid.
    keep: Duration,
}

/// What the set says about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Revoked,
    NotRevoked,
    /// The set may be incomplete or its listener dead: ask the database.
    Unknown,
}

/// One message on the channel.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Revoked(Uuid),
    KeysChanged,
    Heartbeat(Uuid),
    Ack { instance: Uuid, session: Uuid },
}

impl Message {
    fn parse(payload: &str) -> Option<Self> {
        if payload == "keys" {
            return Some(Self::KeysChanged);
        }
        if let Some(instance) = payload.strip_prefix("hb:") {
            return Uuid::parse_str(instance).ok().map(Self::Heartbeat);
        }
        if let Some(rest) = payload.strip_prefix("ack:") {
            let (instance, session) = rest.split_once(':')?;
            return Some(Self::Ack {
                instance: Uuid::parse_str(instance).ok()?,
                session: Uuid::parse_str(session).ok()?,
            });
        }
        Uuid::parse_str(payload).ok().map(Self::Revoked)
    }
}

impl Revocations {
    pub fn new(access_token_ttl: Duration) -> Self {
        Self {
            revoked: RwLock::new(HashMap::new()),
            loaded: AtomicBool::new(false),
            trusted_until: AtomicU64::new(0),
            epoch: Instant::now(),
            instance: Uuid::new_v4(),
            peers: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(HashMap::new()),
            confirmation: Notify::new(),
            keys: Notify::new(),
            // The token lifetime, the validation leeway, and a margin for clock differences.
            keep: access_token_ttl + Duration::from_secs(120),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn check(&self, session_id: Uuid) -> Verdict {
        if self
            .revoked
            .read()
            .is_ok_and(|set| set.contains_key(&session_id))
        {
            return Verdict::Revoked;
        }
        if self.is_current() {
            Verdict::NotRevoked
        } else {
            Verdict::Unknown
        }
    }

    /// Resolves when the signing keys changed since the last call.
    pub async fn keys_changed(&self) {
        self.keys.notified().await;
    }

    /// How many other instances were heard within the peer window: the ones a revocation waits
    /// for.
    pub fn live_peers(&self) -> usize {
        self.peers.lock().map_or(0, |peers| {
            peers
                .values()
                .filter(|seen| seen.elapsed() < PEER_WINDOW)
                .count()
        })
    }

    /// Whether the set is complete and its listener proved alive within the trust window.
    pub fn is_current(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
            && self.now_ms() < self.trusted_until.load(Ordering::Acquire)
    }

    /// Records revocations this instance made, before it answers the request that made them.
    pub fn add(&self, sessions: impl IntoIterator<Item = Uuid>) {
        if let Ok(mut set) = self.revoked.write() {
            let now = Instant::now();
            set.extend(sessions.into_iter().map(|id| (id, now)));
        }
    }

    /// Records revocations this instance made and waits until every instance will refuse their
    /// tokens: this instance's own notification has come back (PostgreSQL has sent it to every
    /// listener) and every peer heard within the trust window has acknowledged it, or
    /// [`PROPAGATION_WAIT`] has passed (a peer that is silent that long trusts nothing it
    /// remembers any more). Returns whether every confirmation arrived.
    pub async fn propagate(&self, sessions: Vec<Uuid>) -> bool {
        if sessions.is_empty() {
            return true;
        }
        self.add(sessions.iter().copied());
        let deadline = tokio::time::Instant::now() + PROPAGATION_WAIT;
        loop {
            // Registered before checking, so a confirmation between the two is not missed.
            let notified = self.confirmation.notified();
            if self.all_confirmed(&sessions) {
                self.forget_confirmations(&sessions);
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                log::warn!(
                    "revocation not confirmed by every instance within {PROPAGATION_WAIT:?}; \
                     the silent ones no longer trust their revocation sets"
                );
                self.forget_confirmations(&sessions);
                return false;
            }
        }
    }

    fn all_confirmed(&self, sessions: &[Uuid]) -> bool {
        let mut required: HashSet<Uuid> = self
            .peers
            .lock()
            .map(|peers| {
                peers
                    .iter()
                    .filter(|(_, seen)| seen.elapsed() < PEER_WINDOW)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        required.insert(self.instance);
        let Ok(confirmed) = self.confirmed.lock() else {
            return false;
        };
        sessions.iter().all(|session| {
            confirmed
                .get(session)
                .is_some_and(|(_, by)| required.is_subset(by))
        })
    }

    fn forget_confirmations(&self, sessions: &[Uuid]) {
        if let Ok(mut confirmed) = self.confirmed.lock() {
            for session in sessions {
                confirmed.remove(session);
            }
        }
    }

    fn confirm(&self, session: Uuid, by: Uuid) {
        if let Ok(mut confirmed) = self.confirmed.lock() {
            confirmed
                .entry(session)
                .or_insert_with(|| (Instant::now(), HashSet::new()))
                .1
                .insert(by);
        }
        self.confirmation.notify_waiters();
    }

    fn replace(&self, sessions: Vec<Uuid>) {
        if let Ok(mut set) = self.revoked.write() {
            let now = Instant::now();
            set.retain(|_, seen| now.duration_since(*seen) < self.keep);
            set.extend(sessions.into_iter().map(|id| (id, now)));
        }
    }

    fn prune(&self) {
        let now = Instant::now();
        if let Ok(mut set) = self.revoked.write() {
            set.retain(|_, seen| now.duration_since(*seen) < self.keep);
        }
        if let Ok(mut confirmed) = self.confirmed.lock() {
            confirmed.retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
        }
        if let Ok(mut peers) = self.peers.lock() {
            peers.retain(|_, seen| now.duration_since(*seen) < Duration::from_secs(60));
        }
    }

    fn lose_trust(&self) {
        self.loaded.store(false, Ordering::Release);
        self.trusted_until.store(0, Ordering::Release);
    }

    /// Listens and keeps the set current until `shutdown` resolves; reconnects by itself.
    pub async fn maintain(&self, pool: PgPool, shutdown: impl Future<Output = ()>) {
        self.follow(pool, shutdown, true).await;
    }

    /// For a process that ends sessions but checks no tokens (the command line): follows the
    /// channel without announcing itself, since it is no peer the instances should wait for,
    /// and returns once the set is loaded and every running instance has had a heartbeat period
    /// to be heard, so that [`Revocations::propagate`] waits for each of them. Following stops
    /// when the returned guard is dropped.
    pub async fn observe(self: &Arc<Self>, pool: PgPool) -> Observing {
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            this.follow(pool, std::future::pending(), false).await;
        });
        let deadline = Instant::now() + PROPAGATION_WAIT;
        while !self.loaded.load(Ordering::Acquire) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(HEARTBEAT_EVERY + Duration::from_millis(250)).await;
        Observing {
            _following: AbortOnDrop(task),
        }
    }

    async fn follow(&self, pool: PgPool, shutdown: impl Future<Output = ()>, announce: bool) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let session = tokio::select! {
                result = self.listen_and_follow(&pool, announce) => result,
                _ = &mut shutdown => return,
            };
            // A connection that got as far as being loaded was healthy: start backing off
            // afresh, so one blip late in the process's life costs 100 ms, not the maximum.
            if self.loaded.load(Ordering::Acquire) {
                backoff = Duration::from_millis(100);
            }
            self.lose_trust();
            if let Err(e) = session {
                log::warn!("revocation listener: {e}; checking sessions in the database meanwhile");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut shutdown => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One listening connection's life: listen, load, follow messages until it drops, with a
    /// heartbeat every second meanwhile.
    async fn listen_and_follow(&self, pool: &PgPool, announce: bool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        self.replace(db::sessions::recent_revocations(pool, self.keep).await?);
        self.loaded.store(true, Ordering::Release);
        // Heartbeats go from a task of their own: `try_recv` is never cancelled halfway through
        // a message, so none can be lost. The task ends with this connection.
        let heartbeats = announce.then(|| {
            AbortOnDrop(tokio::spawn(send_heartbeats(
                pool.clone(),
                format!("hb:{}", self.instance),
            )))
        });
        let mut last_prune = Instant::now();
        loop {
            match listener.try_recv().await? {
                Some(notification) => self.receive(pool, notification.payload()),
                // The connection dropped: notifications may have been missed.
                None => {
                    drop(heartbeats);
                    return Ok(());
                }
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune();
                last_prune = Instant::now();
            }
        }
    }

    fn receive(&self, pool: &PgPool, payload: &str) {
        match Message::parse(payload) {
            Some(Message::Revoked(session)) => {
                self.add([session]);
                self.confirm(session, self.instance);
                self.send(pool, format!("ack:{}:{session}", self.instance));
            }
            Some(Message::Heartbeat(instance)) if instance == self.instance => {
                let until = self.now_ms() + TRUST_WINDOW.as_millis() as u64;
                self.trusted_until.store(until, Ordering::Release);
            }
            Some(Message::Heartbeat(instance)) => {
                if let Ok(mut peers) = self.peers.lock() {
                    peers.insert(instance, Instant::now());
                }
            }
            Some(Message::Ack { instance, session }) => self.confirm(session, instance),
            Some(Message::KeysChanged) => self.keys.notify_one(),
            None => log::warn!("revocation listener: an unknown message"),
        }
    }

    /// Sends a message through the pool (not the listening connection), off the listener's path.
    fn send(&self, pool: &PgPool, message: String) {
        let pool = pool.clone();
        tokio::spawn(async move {
            if let Err(e) = db::sessions::notify_revocations(&pool, &message).await {
                log::warn!("revocation listener: cannot send a message: {e}");
            }
        });
    }
}

/// Sends this instance's heartbeat every second, the first at once.
async fn send_heartbeats(pool: PgPool, message: String) {
    let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        ticks.tick().await;
        if let Err(e) = db::sessions::notify_revocations(&pool, &message).await {
            log::warn!("revocation listener: cannot send a heartbeat: {e}");
        }
    }
}

/// A command line's following of the channel; it stops when dropped.
pub struct Observing {
    _following: AbortOnDrop,
}

/// A task that stops when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
