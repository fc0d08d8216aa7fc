//! One rotation of a key set, as a pure function of the current set and the time
//! (docs/ARCHITECTURE.md §6). Each rotation:
//! * promotes the `next` key, published in the JWKS since the previous rotation, to
//!   `active`: a key never signs before verifiers have had a whole rotation period to
//!   fetch it;
//! * retires the old active key until every token it signed has expired;
//! * publishes a fresh `next` key;
//! * drops retired keys whose tokens have all expired.
//!
//! The refresh-token MAC key is kept: rotating it would end every refresh family.

use super::KeyError;
use super::document::{KeySetDocument, KeyState, generate_key};
use crate::domain::SigningAlgorithm;
use crate::policy::{LEEWAY_SECONDS, MAX_TOKEN_LIFETIME};
use crate::time::UnixTime;

/// How long a retired key stays: its last token's lifetime, the verifiers' clock
/// leeway, and the time it takes a warm instance to reload the set.
pub fn retire_after(reload_every_seconds: u64) -> u64 {
    MAX_TOKEN_LIFETIME + LEEWAY_SECONDS + reload_every_seconds
}

/// The set after one rotation at `now`. With no usable current set (a new secret), the
/// first set: an active key, a next key and a new MAC key.
pub fn rotate(
    current: Option<&KeySetDocument>,
    alg: SigningAlgorithm,
    now: UnixTime,
    retire_after: u64,
) -> Result<KeySetDocument, KeyError> {
    let Some(current) = current.filter(|doc| doc.keys.iter().any(|k| k.state == KeyState::Active)) else {
        let mut first = KeySetDocument::generate(alg)?;
        first.keys.push(next_key(alg)?);
        return Ok(first);
    };
    let mut keys: Vec<_> = current.keys.iter().filter(|k| k.live_at(now)).cloned().collect();
    let has_next = keys.iter().any(|k| k.state == KeyState::Next);
    for key in &mut keys {
        match key.state {
            KeyState::Active => {
                key.state = KeyState::Retired;
                key.retire_at = Some(now.plus(retire_after));
            }
            KeyState::Next => key.state = KeyState::Active,
            KeyState::Retired => {}
        }
    }
    if !has_next {
        // A set that never published a successor (a hand-made one): promote at once.
        let mut active = generate_key(alg)?;
        active.state = KeyState::Active;
        keys.insert(0, active);
    }
    keys.insert(0, next_key(alg)?);
    Ok(KeySetDocument { keys, refresh_mac_key: current.refresh_mac_key.clone() })
}

fn next_key(alg: SigningAlgorithm) -> Result<super::StoredKey, KeyError> {
    let mut key = generate_key(alg)?;
    key.state = KeyState::Next;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    fn states(doc: &KeySetDocument) -> Vec<(String, KeyState)> {
        doc.keys.iter().map(|k| (k.kid.clone(), k.state)).collect()
    }

    #[test]
    fn the_first_rotation_makes_an_active_and_a_next_key() {
        let doc = rotate(None, SigningAlgorithm::Es256, UnixTime::now(), 100).unwrap();
        let mut found: Vec<KeyState> = doc.keys.iter().map(|k| k.state).collect();
        found.sort_by_key(|s| *s as u8);
        assert_eq!(found, vec![KeyState::Next, KeyState::Active]);
        assert!(KeySet::from_document(&doc).is_ok());
    }

    #[test]
    fn a_rotation_promotes_the_published_key_and_retires_the_old_one() {
        let now = UnixTime::now();
        let first = rotate(None, SigningAlgorithm::Es256, now, 100).unwrap();
        let old_active = first.keys.iter().find(|k| k.state == KeyState::Active).unwrap().kid.clone();
        let published = first.keys.iter().find(|k| k.state == KeyState::Next).unwrap().kid.clone();

        let second = rotate(Some(&first), SigningAlgorithm::Es256, now.plus(10), 100).unwrap();
        let s = states(&second);
        assert!(s.contains(&(published.clone(), KeyState::Active)), "the key published last time signs now");
        assert!(s.contains(&(old_active.clone(), KeyState::Retired)));
        assert_eq!(s.iter().filter(|(_, st)| *st == KeyState::Next).count(), 1, "a new successor is published");
        assert_eq!(second.refresh_mac_key, first.refresh_mac_key, "refresh tokens survive rotation");
        let retired = second.keys.iter().find(|k| k.kid == old_active).unwrap();
        assert_eq!(retired.retire_at, Some(now.plus(110)));

        // The retired key leaves at the first rotation after its tokens have expired.
        let third = rotate(Some(&second), SigningAlgorithm::Es256, now.plus(50), 100).unwrap();
        assert!(third.keys.iter().any(|k| k.kid == old_active), "still within its tokens' lifetime");
        let fourth = rotate(Some(&third), SigningAlgorithm::Es256, now.plus(111), 100).unwrap();
        assert!(!fourth.keys.iter().any(|k| k.kid == old_active), "gone after its last token expired");
    }
}
