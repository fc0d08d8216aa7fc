//! Opaque refresh tokens: `<fid>.<generation>.<mac>` with
//! `mac = HMAC-SHA256(refresh_key, "<fid>.<generation>")`.
//!
//! Nothing secret is stored: the family item holds only the current generation, a forged
//! or truncated token is rejected without a read, and the successor of generation g can be
//! re-derived, which is what single-successor grace needs (docs/ARCHITECTURE.md §2).

use crate::ids::FamilyId;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Generations are `u32`: a family refreshed every second for its whole life stays far
/// below the limit, and a longer number is rejected as malformed before any read.
pub type Generation = u32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub family: FamilyId,
    pub generation: Generation,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("malformed or forged refresh token")]
pub struct InvalidRefreshToken;

/// 22 base64url characters: the 128-bit family ids this server makes.
const FAMILY_ID_LEN: usize = 22;

impl RefreshToken {
    pub fn encode(&self, key: &hmac::Key) -> String {
        let message = self.signed_part();
        let tag = hmac::sign(key, message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Parse and authenticate; a constant-time MAC check happens before anything else
    /// trusts the contents.
    pub fn decode(token: &str, key: &hmac::Key) -> Result<Self, InvalidRefreshToken> {
        let mut parts = token.split('.');
        let (Some(fid), Some(generation), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidRefreshToken);
        };
        let well_formed_fid =
            fid.len() == FAMILY_ID_LEN && fid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        // One spelling per generation: decimal digits, no sign, no whitespace, no leading
        // zero (so `fid.00.mac` is not a second name for `fid.0.mac`).
        let canonical = !generation.is_empty()
            && generation.len() <= 10
            && generation.bytes().all(|b| b.is_ascii_digit())
            && (generation == "0" || !generation.starts_with('0'));
        if !well_formed_fid || !canonical {
            return Err(InvalidRefreshToken);
        }
        let generation: Generation = generation.parse().map_err(|_| InvalidRefreshToken)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| InvalidRefreshToken)?;
        let candidate = Self { family: FamilyId::new(fid), generation };
        hmac::verify(key, candidate.signed_part().as_bytes(), &mac).map_err(|_| InvalidRefreshToken)?;
        Ok(candidate)
    }

    pub fn successor(&self) -> Option<Self> {
        Some(Self { family: self.family.clone(), generation: self.generation.checked_add(1)? })
    }

    fn signed_part(&self) -> String {
        format!("{}.{}", self.family, self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &crate::ids::random_bytes::<32>())
    }

    #[test]
    fn round_trip_and_successor() {
        let key = key();
        let token = RefreshToken { family: FamilyId::random(), generation: 0 };
        let encoded = token.encode(&key);
        assert_eq!(RefreshToken::decode(&encoded, &key), Ok(token.clone()));
        assert_eq!(token.successor().unwrap().generation, 1);
    }

    #[test]
    fn a_generation_has_exactly_one_spelling() {
        let key = key();
        let fid = FamilyId::random();
        // Validly MAC'ed tokens whose generation is spelled another way.
        let signed = |generation: &str| {
            let message = format!("{fid}.{generation}");
            format!("{message}.{}", URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()).as_ref()))
        };
        for other in ["00", "01", "007", "+1", "-0", " 1", "1 ", "0x1", "１"] {
            assert_eq!(RefreshToken::decode(&signed(other), &key), Err(InvalidRefreshToken), "{other:?}");
        }
        for canonical in ["0", "1", "10", "4294967295"] {
            assert!(RefreshToken::decode(&signed(canonical), &key).is_ok(), "{canonical:?}");
        }
    }

    #[test]
    fn forged_truncated_and_garbage_tokens_are_rejected_without_state() {
        let key = key();
        let token = RefreshToken { family: FamilyId::random(), generation: 7 }.encode(&key);
        let truncated = &token[..token.len() - 3];
        let other_key = RefreshToken { family: FamilyId::random(), generation: 7 }.encode(&self::key());
        let (prefix, _) = token.rsplit_once('.').unwrap();
        let bumped = format!("{}.8.{}", &prefix[..FAMILY_ID_LEN], token.rsplit_once('.').unwrap().1);
        let huge = format!("{}.99999999999999999999.{}", &prefix[..FAMILY_ID_LEN], "AAAA");
        for bad in
            [truncated, other_key.as_str(), bumped.as_str(), huge.as_str(), "", "a.b.c", "garbage", "..", "a.1.b.c"]
        {
            assert_eq!(RefreshToken::decode(bad, &key), Err(InvalidRefreshToken), "{bad}");
        }
    }
}
