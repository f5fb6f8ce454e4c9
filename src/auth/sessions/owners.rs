//! Which user owns which session, remembered: a token is accepted only when its `sub` owns its
//! `sid` (docs/api.md §3), and the fast path must not ask the database to know it. A
//! session's owner never changes, so what is remembered never goes stale; the memory is bounded
//! and starts afresh when full (the next requests ask the database once per session again).

use std::collections::HashMap;
use std::sync::RwLock;

use uuid::Uuid;

/// About 32 bytes of ids each: a few MB at most.
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct SessionOwners(RwLock<HashMap<Uuid, Uuid>>);

/// What the memory says about a token's `sub` and `sid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Owns,
    /// The session belongs to someone else: the token is forged or mis-issued.
    Foreign,
    /// Not remembered: ask the database.
    Unknown,
}

impl SessionOwners {
    pub fn check(&self, session_id: Uuid, user_id: Uuid) -> Ownership {
        match self.0.read().ok().and_then(|m| m.get(&session_id).copied()) {
            Some(owner) if owner == user_id => Ownership::Owns,
            Some(_) => Ownership::Foreign,
            None => Ownership::Unknown,
        }
    }

    /// Remembers an owner the database (or the issuing of a session) has just shown.
    pub fn remember(&self, session_id: Uuid, user_id: Uuid) {
        if let Ok(mut map) = self.0.write() {
            if map.len() >= CAPACITY && !map.contains_key(&session_id) {
                map.clear();
            }
            map.insert(session_id, user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_told_apart_from_a_stranger_and_from_the_unknown() {
        let owners = SessionOwners::default();
        let (session, alice, mallory) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(owners.check(session, alice), Ownership::Unknown);
        owners.remember(session, alice);
        assert_eq!(owners.check(session, alice), Ownership::Owns);
        assert_eq!(owners.check(session, mallory), Ownership::Foreign);
    }

    #[test]
    fn the_memory_stays_bounded() {
        let owners = SessionOwners::default();
        for _ in 0..CAPACITY + 10 {
            owners.remember(Uuid::new_v4(), Uuid::new_v4());
        }
        assert!(owners.0.read().unwrap().len() <= CAPACITY);
    }
}
