//! PKCE (RFC 7636), S256 only (RFC 9700 §2.1.1): the verifier a client keeps, and the
//! challenge it sent with the authorization request.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// `code-verifier = 43*128unreserved` (RFC 7636 §4.1).
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(unreserved)
}

/// An S256 challenge is the base64url of a SHA-256: 43 characters (RFC 7636 §4.2).
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `BASE64URL(SHA256(verifier)) == challenge`, in constant time (RFC 7636 §4.6).
pub fn verifies(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn the_rfc_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(valid_verifier(verifier) && valid_challenge(challenge));
        assert!(verifies(verifier, challenge));
        assert!(!verifies("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", challenge));
    }

    #[test]
    fn malformed_verifiers_and_challenges_are_refused() {
        for bad in ["", "short", &"a".repeat(129), &format!("{}!", "a".repeat(43)), &format!("{} ", "a".repeat(43))] {
            assert!(!valid_verifier(bad), "{bad:?}");
        }
        for bad in ["", &"a".repeat(42), &"a".repeat(44), &format!("{}=", "a".repeat(42)), &"+".repeat(43)] {
            assert!(!valid_challenge(bad), "{bad:?}");
        }
    }
}
