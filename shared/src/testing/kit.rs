//! Fixtures shared by the unit tests, the integration tests and the benchmarks: one
//! configuration, one way to make a client, a session or a token's claims, and a client's
//! own key pair and assertions (`private_key_jwt`). Not for production use (the secrets
//! here are public).

use crate::Services;
use crate::config::Config;
use crate::domain::SigningAlgorithm;
use crate::domain::{
    ClientAuthentication, ClientLifetimes, ClientRecord, FamilyRecord, FamilyStatus, GrantType, Scope, SessionRecord,
};
use crate::ids::{ClientEpoch, ClientId, FamilyId, Jti, Sid, Subject, random_id};
use crate::keys::KeyRing;
use crate::oauth::OAuthRequest;
use crate::secrets::{ClientSecretHash, SecretString};
use crate::store::FullStore;
use crate::testing::memory::MemoryStore;
use crate::time::UnixTime;
use crate::tokens::access::AccessTokenClaims;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

pub const ISSUER: &str = "https://auth.example.com";
/// The secret of every [`client`].
pub const CLIENT_SECRET: &str = "testkit-client-secret-0123456789";

/// A configuration that needs no environment: defaults, issuer [`ISSUER`].
pub fn config() -> Config {
    Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("unused".into()),
        "ISSUER" => Some(ISSUER.into()),
        "KEY_SOURCE" => Some("file:unused".into()),
        _ => None,
    })
    .expect("the test configuration is valid")
}

/// A client with [`CLIENT_SECRET`], the given grants and scope, and nothing else.
pub fn client(id: &str, grants: &[GrantType], scope: &str) -> ClientRecord {
    ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new(id),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new(CLIENT_SECRET)).expect("a long enough secret"),
        ),
        grant_types: grants.iter().copied().collect(),
        scopes: Scope::parse(scope).expect("a valid scope"),
        audience: None,
        may_introspect: false,
        admin: false,
        backchannel_logout_uri: None,
        lifetimes: ClientLifetimes::default(),
        signing: Default::default(),
        browser: Default::default(),
    }
}

/// The claims of a ten-minute client-credentials access token of `client`.
pub fn access_claims(client: &str, now: UnixTime) -> AccessTokenClaims {
    AccessTokenClaims {
        cnf: None,
        iss: ISSUER.into(),
        sub: Subject::new(client),
        aud: "https://api.example.com".into(),
        exp: now.plus(600),
        iat: now,
        jti: Jti::random(),
        client_id: ClientId::new(client),
        scope: Scope::parse("read").expect("scope"),
        sid: None,
        fid: None,
        auth_time: None,
    }
}

/// A session and its first family, of a fresh subject and client, starting at `now`.
pub fn session(now: UnixTime, lifetime: u64) -> (SessionRecord, FamilyRecord) {
    let sid = Sid::random();
    let sub = Subject::random();
    let client = ClientId::new(format!("c-{}", random_id()));
    let session = SessionRecord {
        sid: sid.clone(),
        sub: sub.clone(),
        client_ids: BTreeSet::from([client.clone()]),
        auth_time: now,
        expires_at: now.plus(lifetime),
        browser: None,
    };
    let family = FamilyRecord {
        dpop_jkt: None,
        fid: FamilyId::random(),
        sid,
        sub,
        username: format!("user-{}", random_id()),
        client_id: client,
        client_epoch: ClientEpoch::random(),
        scope: Scope::parse("openid read").expect("scope"),
        generation: 0,
        created_at: now,
        rotated_at: now,
        status: FamilyStatus::Active,
        expires_at: now.plus(lifetime),
    };
    (session, family)
}

/// The one assembly over `store`, with [`config`] and a fresh in-memory ES256 key ring.
pub fn services_over(store: Arc<dyn FullStore>) -> Services {
    services_with(config(), store)
}

/// The one assembly with this configuration over `store`, and a fresh ES256 key ring.
pub fn services_with(config: Config, store: Arc<dyn FullStore>) -> Services {
    let keys = Arc::new(KeyRing::ephemeral(SigningAlgorithm::Es256).expect("a key set"));
    Services::new(config, keys, store)
}

/// [`services_over`] a fresh in-memory store.
pub fn services() -> Services {
    services_over(Arc::new(MemoryStore::new()))
}

/// A form-encoded OAuth request with this body and no `Authorization` header.
pub fn form(body: &str) -> OAuthRequest {
    OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, body.as_bytes()).expect("a valid form")
}

/// A form request authenticated as `client` (with [`CLIENT_SECRET`], `client_secret_post`).
pub fn form_as(client: &str, body: &str) -> OAuthRequest {
    form(&format!("client_id={client}&client_secret={CLIENT_SECRET}&{body}"))
}

/// A client's own key pair for `private_key_jwt`: the private half signs its assertions,
/// the public half is what it registers (`--jwks-file`).
pub struct ClientKey {
    pub kid: String,
    pub alg: SigningAlgorithm,
    /// The private key as PKCS#8 PEM, for a client library to sign with.
    pub private_key_pem: String,
    encoding: EncodingKey,
    public: Jwk,
}

impl ClientKey {
    pub fn generate(alg: SigningAlgorithm) -> Self {
        let stored = crate::keys::generate_key(alg).expect("a key");
        let pem = stored.private_key_pem.as_bytes();
        let encoding = alg.encoding_key(pem).expect("the key just made");
        let mut public = Jwk::from_encoding_key(&encoding, alg.jwt_algorithm()).expect("its public half");
        public.common.key_id = Some(stored.kid.clone());
        Self { kid: stored.kid, alg, private_key_pem: stored.private_key_pem, encoding, public }
    }

    /// Its public key, as a JWK with its `kid` (the RFC 7638 thumbprint).
    pub fn public(&self) -> &Jwk {
        &self.public
    }

    /// What signs with its private key.
    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The JWK set document the client registers: its public key alone.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.public] }).to_string()
    }

    /// The header an assertion has: this key's algorithm and `kid`, `typ` JWT.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.alg.jwt_algorithm());
        header.kid = Some(self.kid.clone());
        header
    }

    /// The claims of a valid assertion by `client_id` for `audience` (RFC 7523 §3), one
    /// minute long from `now`, with a fresh `jti`.
    pub fn claims(client_id: &str, audience: &str, now: UnixTime) -> Value {
        json!({ "iss": client_id, "sub": client_id, "aud": audience, "iat": now.0, "exp": now.plus(60).0,
                "jti": random_id() })
    }

    /// Exactly this header and these claims, signed by this key.
    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).expect("signed")
    }

    /// A valid assertion by `client_id` for `audience`, made now.
    pub fn assertion(&self, client_id: &str, audience: &str) -> String {
        self.sign(&self.header(), &Self::claims(client_id, audience, UnixTime::now()))
    }
}
