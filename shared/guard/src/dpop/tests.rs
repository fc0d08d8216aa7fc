use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::EncodingKey;
use serde_json::json;

const HTU: &str = "https://api.example.com/orders";
const NOW: u64 = 1_800_000_000;

/// A client's DPoP key: signs proofs with its public JWK in the header.
struct ClientKey {
    encoding: EncodingKey,
    alg: &'static str,
    jwk: serde_json::Value,
}

impl ClientKey {
    fn es256() -> Self {
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        Self::from(EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256, "ES256")
    }

    fn ed25519(alg: &'static str) -> Self {
        let der = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).unwrap();
        Self::from(EncodingKey::from_ed_der(der.as_ref()), Algorithm::EdDSA, alg)
    }

    fn from(encoding: EncodingKey, algorithm: Algorithm, alg: &'static str) -> Self {
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&encoding, algorithm).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self { encoding, alg, jwk }
    }

    fn jkt(&self) -> String {
        thumbprint(&serde_json::from_value(self.jwk.clone()).unwrap()).unwrap()
    }

    fn sign(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
        let encode = |value: &serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let message = format!("{}.{}", encode(&header), encode(&claims));
        let algorithm = if self.alg == "ES256" { Algorithm::ES256 } else { Algorithm::EdDSA };
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, algorithm).unwrap();
        format!("{message}.{signature}")
    }

    fn header(&self) -> serde_json::Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk})
    }

    fn proof(&self, claims: serde_json::Value) -> String {
        self.sign(self.header(), claims)
    }
}

fn claims(token: Option<&str>) -> serde_json::Value {
    let mut claims = json!({"jti": "j-1", "htm": "GET", "htu": HTU, "iat": NOW});
    if let Some(token) = token {
        claims["ath"] = json!(access_token_hash(token));
    }
    claims
}

fn target(token: Option<&str>) -> ProofTarget<'_> {
    ProofTarget { method: "GET", url: HTU, access_token: token, now: NOW }
}

#[test]
fn a_fresh_proof_by_any_supported_key_gives_its_thumbprint() {
    for key in [ClientKey::es256(), ClientKey::ed25519("EdDSA"), ClientKey::ed25519("Ed25519")] {
        let proof = key.proof(claims(Some("tok")));
        let verified = verify_proof(&proof, &target(Some("tok"))).unwrap();
        assert_eq!((verified.jkt, verified.jti.as_str(), verified.iat), (key.jkt(), "j-1", NOW), "{}", key.alg);
    }
}

#[test]
fn each_check_of_rfc_9449_section_4_3_refuses() {
    let key = ClientKey::es256();
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims(Some("tok"));
        change(&mut c);
        verify_proof(&key.proof(c), &target(Some("tok")))
    };
    assert_eq!(with(&|c| c["htm"] = json!("POST")), Err(ProofError::WrongMethod));
    assert_eq!(with(&|c| c["htu"] = json!("https://api.example.com/other")), Err(ProofError::WrongUri));
    assert_eq!(with(&|c| c["iat"] = json!(NOW - 61)), Err(ProofError::NotFresh));
    assert_eq!(with(&|c| c["iat"] = json!(NOW + 61)), Err(ProofError::NotFresh));
    assert_eq!(with(&|c| c["ath"] = json!(access_token_hash("other"))), Err(ProofError::WrongAth));
    assert_eq!(with(&|c| drop(c.as_object_mut().unwrap().remove("ath"))), Err(ProofError::MissingAth));
    assert_eq!(with(&|c| drop(c.as_object_mut().unwrap().remove("jti"))), Err(ProofError::MissingClaim));
    assert_eq!(with(&|c| c["jti"] = json!("")), Err(ProofError::MissingClaim));
    // Within the window either way, and the query of the URL does not matter.
    assert!(with(&|c| c["iat"] = json!(NOW - 60)).is_ok());
    assert!(with(&|c| c["htu"] = json!("HTTPS://API.example.com:443/orders?page=2")).is_ok());

    let header = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut h = key.header();
        change(&mut h);
        verify_proof(&key.sign(h, claims(None)), &target(None))
    };
    assert_eq!(header(&|h| h["typ"] = json!("JWT")), Err(ProofError::WrongType));
    assert_eq!(header(&|h| h["alg"] = json!("RS256")), Err(ProofError::UnsupportedAlgorithm));
    assert_eq!(header(&|h| h["alg"] = json!("none")), Err(ProofError::UnsupportedAlgorithm));
    assert_eq!(header(&|h| h["alg"] = json!("HS256")), Err(ProofError::UnsupportedAlgorithm));
    assert_eq!(header(&|h| drop(h.as_object_mut().unwrap().remove("jwk"))), Err(ProofError::BadKey));
    assert_eq!(header(&|h| h["jwk"]["d"] = json!("c2VjcmV0")), Err(ProofError::PrivateKey));
    // Another key in the header than the one that signed.
    let other = ClientKey::es256();
    assert_eq!(header(&|h| h["jwk"] = other.jwk.clone()), Err(ProofError::BadSignature));

    for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(9000)] {
        assert_eq!(verify_proof(garbage, &target(None)), Err(ProofError::Malformed), "{garbage:.10}");
    }
}

#[test]
fn a_resource_demands_the_scheme_the_binding_needs_and_the_bound_key() {
    let key = ClientKey::es256();
    let proof = key.proof(claims(Some("tok")));
    let jkt = key.jkt();
    let t = target(Some("tok"));
    assert_eq!(check_binding(Scheme::Bearer, None, &[], &t), Ok(None));
    assert_eq!(check_binding(Scheme::Bearer, Some(&jkt), &[&proof], &t), Err(BindingError::BoundTokenAsBearer));
    assert_eq!(check_binding(Scheme::Dpop, None, &[&proof], &t), Err(BindingError::UnboundTokenAsDpop));
    assert!(check_binding(Scheme::Dpop, Some(&jkt), &[&proof], &t).unwrap().is_some());
    assert_eq!(check_binding(Scheme::Dpop, Some(&jkt), &[], &t), Err(BindingError::Proof(ProofError::Missing)));
    assert_eq!(
        check_binding(Scheme::Dpop, Some(&jkt), &[&proof, &proof], &t),
        Err(BindingError::Proof(ProofError::Multiple))
    );
    let thief = ClientKey::es256().proof(claims(Some("tok")));
    assert_eq!(check_binding(Scheme::Dpop, Some(&jkt), &[&thief], &t), Err(BindingError::Proof(ProofError::WrongKey)));
}

#[test]
fn the_replay_cache_accepts_a_proof_once_per_window_and_fails_closed_when_full() {
    let cache = ReplayCache::new(2);
    let proof = |jti: &str| VerifiedProof { jkt: "k".into(), jti: jti.into(), iat: NOW };
    assert_eq!(cache.use_once(&proof("a"), NOW), Ok(()));
    assert_eq!(cache.use_once(&proof("a"), NOW + 30), Err(ProofError::Replayed));
    assert_eq!(cache.use_once(&proof("b"), NOW), Ok(()));
    assert_eq!(cache.use_once(&proof("c"), NOW), Err(ProofError::ReplayCacheFull));
    // Once the window has passed the entries go (swept at most once a second), and the
    // (now stale) ids may be cached again.
    let later = NOW + PROOF_WINDOW_SECONDS + 1;
    assert_eq!(cache.use_once(&proof("c"), later), Ok(()));
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_full_cache_is_swept_at_most_once_a_second() {
    let cache = ReplayCache::new(1);
    let proof = |jti: &str, iat: u64| VerifiedProof { jkt: "k".into(), jti: jti.into(), iat };
    assert_eq!(cache.use_once(&proof("a", NOW), NOW), Ok(()));
    // Full of a live entry: refused, and the sweep is not repeated within the second.
    assert_eq!(cache.use_once(&proof("b", NOW), NOW + 1), Err(ProofError::ReplayCacheFull));
    let expired = NOW + PROOF_WINDOW_SECONDS + 1;
    assert_eq!(cache.use_once(&proof("c", expired), expired), Ok(()), "a later second sweeps again");
}

#[test]
fn the_challenge_lists_exactly_the_signing_algorithms() {
    assert_eq!(SIGNING_ALGS.join(" "), CHALLENGE_ALGS);
    assert!(INVALID_PROOF_CHALLENGE.ends_with(&format!("algs=\"{CHALLENGE_ALGS}\"")));
}

#[test]
fn a_proof_with_critical_extensions_is_refused() {
    let key = ClientKey::es256();
    let mut header = key.header();
    header["crit"] = json!(["exp"]);
    assert_eq!(verify_proof(&key.sign(header, claims(None)), &target(None)), Err(ProofError::Malformed));
}
