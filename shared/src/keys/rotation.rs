//! One rotation of a key set, as a pure function of the current set and the time
//! (docs/ARCHITECTURE.md §6). A rotation:
//! * promotes the `next` key to `active` only once it has been published long enough for
//!   every verifier to know it (their key reload and their JWKS cache); a younger `next`
//!   key is left to age, and the active key keeps signing;
//! * retires the old active key until every token it signed has expired;
//! * publishes a fresh `next` key;
//! * drops retired keys whose tokens have all expired.
//!
//! The refresh-token MAC key is kept: rotating it would end every refresh family. Only
//! the first rotation of a new secret (no set yet) makes a set from nothing.

use super::KeyError;
use super::document::{KeySetDocument, KeyState, generate_key};
use crate::domain::SigningAlgorithm;
use crate::policy::{JWKS_MAX_AGE_SECONDS, LEEWAY_SECONDS, MAX_TOKEN_LIFETIME};
use crate::time::UnixTime;

/// The longest a rotation may take from `createSecret` to `finishSecret`. Secrets
/// Manager runs the four steps back to back (seconds); a rotation resumed later than
/// this is refused at `finishSecret`, so that the retire times written at
/// `createSecret` always hold from the moment the rotation completes.
pub const FINISH_WINDOW_SECONDS: u64 = 15 * 60;

/// How a rotation times its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationTiming {
    /// How long a retired key keeps verifying after its rotation completes.
    pub retire_after: u64,
    /// How long a `next` key must have been published before it may sign.
    pub min_publication: u64,
}

impl RotationTiming {
    /// For verifiers that reload their key set every `reload_every_seconds`.
    pub fn for_reload_interval(reload_every_seconds: u64) -> Self {
        Self {
            // Its last token's lifetime, the verifiers' clock leeway, the time a warm
            // instance keeps signing with it before it reloads, and the time the
            // rotation may take to complete.
            retire_after: MAX_TOKEN_LIFETIME + LEEWAY_SECONDS + reload_every_seconds + FINISH_WINDOW_SECONDS,
            // Published at most FINISH_WINDOW after it was made; then every instance
            // reloads it, and every JWKS cache refreshes.
            min_publication: FINISH_WINDOW_SECONDS + reload_every_seconds + JWKS_MAX_AGE_SECONDS,
        }
    }
}

/// The set after one rotation at `now`, for a deployment whose default access-token
/// algorithm is `default`: each required algorithm rotates on its own, and one no longer
/// required retires. `None` is a new
/// secret's placeholder: the first set (an active and a next key of every algorithm, a
/// new MAC key). A set without exactly one active key of an algorithm is an error, never
/// a reason to start over.
pub fn rotate(
    current: Option<&KeySetDocument>,
    default: SigningAlgorithm,
    now: UnixTime,
    timing: RotationTiming,
) -> Result<KeySetDocument, KeyError> {
    let required = SigningAlgorithm::key_set_algorithms(default);
    let Some(current) = current else {
        let mut first = KeySetDocument::generate_for(default)?;
        for alg in &required {
            first.keys.push(next_key(*alg, now)?);
        }
        first.prepared_at = Some(now);
        return Ok(first);
    };
    // A required algorithm the set holds keys of must have exactly one active key; only
    // an algorithm the set lacks altogether is added (below).
    for alg in current.algorithms() {
        let active = current.keys.iter().filter(|k| k.alg == alg && k.state == KeyState::Active).count();
        if active > 1 || (active == 0 && required.contains(&alg)) {
            return Err(KeyError::NoSingleActiveKey(active));
        }
    }
    let mut keys: Vec<_> = current.keys.iter().filter(|k| k.live_at(now)).cloned().collect();
    for alg in &required {
        rotate_algorithm(&mut keys, *alg, now, timing)?;
    }
    // An algorithm no longer required (`SIGNING_ALG` changed from EdDSA): its active key
    // retires like any other, and it gets no successor.
    for alg in current.algorithms().into_iter().filter(|alg| !required.contains(alg)) {
        keys.retain(|k| !(k.alg == alg && k.state == KeyState::Next));
        for key in keys.iter_mut().filter(|k| k.alg == alg && k.state == KeyState::Active) {
            key.state = KeyState::Retired;
            key.retire_at = Some(now.plus(timing.retire_after));
        }
    }
    Ok(KeySetDocument { keys, refresh_mac_key: current.refresh_mac_key.clone(), prepared_at: Some(now) })
}

/// One algorithm's keys: promote a ripe next key (retiring the active one) and publish
/// its successor, or publish a first successor, or leave a young one to age.
fn rotate_algorithm(
    keys: &mut Vec<super::StoredKey>,
    alg: SigningAlgorithm,
    now: UnixTime,
    timing: RotationTiming,
) -> Result<(), KeyError> {
    if !keys.iter().any(|k| k.alg == alg) {
        // An algorithm the set did not hold yet (a set made before it was required): it
        // must sign at once, so it is active now; verifiers fetch the JWKS again on an
        // unknown kid.
        tracing::warn!(event = "keys.algorithm_added", alg = alg.as_str());
        let mut active = generate_key(alg)?;
        active.created_at = now;
        keys.push(active);
        keys.push(next_key(alg, now)?);
        return Ok(());
    }
    let next = keys.iter().find(|k| k.alg == alg && k.state == KeyState::Next);
    let has_next = next.is_some();
    let ripe = next.is_some_and(|k| k.created_at.plus(timing.min_publication) <= now);
    if ripe {
        for key in keys.iter_mut().filter(|k| k.alg == alg) {
            match key.state {
                KeyState::Active => {
                    key.state = KeyState::Retired;
                    key.retire_at = Some(now.plus(timing.retire_after));
                }
                KeyState::Next => key.state = KeyState::Active,
                KeyState::Retired => {}
            }
        }
    }
    // A ripe rotation publishes the successor's successor; an algorithm with no next key
    // (a hand-made set) gets one published. A young next key is left to age.
    if ripe || !has_next {
        keys.insert(0, next_key(alg, now)?);
    }
    Ok(())
}

fn next_key(alg: SigningAlgorithm, now: UnixTime) -> Result<super::StoredKey, KeyError> {
    let mut key = generate_key(alg)?;
    key.state = KeyState::Next;
    key.created_at = now;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    const TIMING: RotationTiming = RotationTiming { retire_after: 100, min_publication: 50 };

    /// The ES256 key in `state` (each algorithm rotates alike).
    fn kid_in(doc: &KeySetDocument, state: KeyState) -> String {
        doc.keys.iter().find(|k| k.alg == SigningAlgorithm::Es256 && k.state == state).unwrap().kid.clone()
    }

    fn of(doc: &KeySetDocument, alg: SigningAlgorithm) -> Vec<KeyState> {
        let mut states: Vec<KeyState> = doc.keys.iter().filter(|k| k.alg == alg).map(|k| k.state).collect();
        states.sort_by_key(|s| *s as u8);
        states
    }

    #[test]
    fn the_first_rotation_makes_an_active_and_a_next_key_of_every_algorithm() {
        let doc = rotate(None, SigningAlgorithm::Es256, UnixTime::now(), TIMING).unwrap();
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            assert_eq!(of(&doc, alg), vec![KeyState::Next, KeyState::Active], "{alg:?}");
        }
        assert!(of(&doc, SigningAlgorithm::EdDsa).is_empty(), "EdDSA only when it is the default");
        assert!(KeySet::from_document(&doc).is_ok());
    }

    #[test]
    fn a_rotation_promotes_the_published_key_once_it_is_old_enough_and_retires_the_old_one() {
        let now = UnixTime::now();
        let first = rotate(None, SigningAlgorithm::Es256, now, TIMING).unwrap();
        let old_active = kid_in(&first, KeyState::Active);
        let published = kid_in(&first, KeyState::Next);

        // Too soon: the published key is not known everywhere yet. Nothing changes hands.
        let early = rotate(Some(&first), SigningAlgorithm::Es256, now.plus(10), TIMING).unwrap();
        assert_eq!(
            (kid_in(&early, KeyState::Active), kid_in(&early, KeyState::Next)),
            (old_active.clone(), published.clone())
        );
        assert_eq!(
            early.keys.len(),
            4,
            "no second successor is published (ES256 and RS256: an active and a next key each)"
        );

        let second = rotate(Some(&early), SigningAlgorithm::Es256, now.plus(50), TIMING).unwrap();
        assert_eq!(kid_in(&second, KeyState::Active), published, "the key published last time signs now");
        assert_eq!(kid_in(&second, KeyState::Retired), old_active);
        assert_eq!(of(&second, SigningAlgorithm::Es256), vec![KeyState::Next, KeyState::Active, KeyState::Retired]);
        assert_eq!(of(&second, SigningAlgorithm::Rs256), vec![KeyState::Next, KeyState::Active, KeyState::Retired]);
        assert_eq!(second.refresh_mac_key, first.refresh_mac_key, "refresh tokens survive rotation");
        let retired = second.keys.iter().find(|k| k.kid == old_active).unwrap();
        assert_eq!(retired.retire_at, Some(now.plus(150)));

        // The retired key leaves at the first rotation after its tokens have expired.
        let third = rotate(Some(&second), SigningAlgorithm::Es256, now.plus(120), TIMING).unwrap();
        assert!(third.keys.iter().any(|k| k.kid == old_active), "still within its tokens' lifetime");
        let fourth = rotate(Some(&third), SigningAlgorithm::Es256, now.plus(151), TIMING).unwrap();
        assert!(!fourth.keys.iter().any(|k| k.kid == old_active), "gone after its last token expired");
    }

    #[test]
    fn an_algorithm_no_longer_required_retires_and_gets_no_successor() {
        let now = UnixTime::now();
        let eddsa = rotate(None, SigningAlgorithm::EdDsa, now, TIMING).unwrap();
        assert_eq!(of(&eddsa, SigningAlgorithm::EdDsa), vec![KeyState::Next, KeyState::Active]);
        let switched = rotate(Some(&eddsa), SigningAlgorithm::Es256, now.plus(50), TIMING).unwrap();
        assert_eq!(of(&switched, SigningAlgorithm::EdDsa), vec![KeyState::Retired], "verifies its tokens, signs none");
        let set = KeySet::from_document(&switched).unwrap();
        assert!(set.signing_key(SigningAlgorithm::EdDsa).is_none());
        assert!(set.signing_key(SigningAlgorithm::Es256).is_some());
        let later = rotate(Some(&switched), SigningAlgorithm::Es256, now.plus(151), TIMING).unwrap();
        assert!(of(&later, SigningAlgorithm::EdDsa).is_empty(), "gone after its last token expired");
    }

    #[test]
    fn a_set_without_a_next_key_publishes_one_and_keeps_signing_with_its_active_key() {
        let now = UnixTime::now();
        let hand_made = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        let rotated = rotate(Some(&hand_made), SigningAlgorithm::Es256, now, TIMING).unwrap();
        assert_eq!(kid_in(&rotated, KeyState::Active), hand_made.keys[0].kid);
        assert_eq!(of(&rotated, SigningAlgorithm::Es256), vec![KeyState::Next, KeyState::Active]);
        // An algorithm the set lacked (RS256) signs at once and publishes its successor.
        assert_eq!(of(&rotated, SigningAlgorithm::Rs256), vec![KeyState::Next, KeyState::Active]);
    }

    #[test]
    fn a_set_without_exactly_one_active_key_is_an_error_never_a_fresh_start() {
        let mut doc = KeySetDocument::generate(SigningAlgorithm::Es256).unwrap();
        doc.keys[0].state = KeyState::Next;
        assert!(matches!(
            rotate(Some(&doc), SigningAlgorithm::Es256, UnixTime::now(), TIMING),
            Err(KeyError::NoSingleActiveKey(0))
        ));
    }
}
