//! Fixtures shared by the unit tests, the integration tests and the benchmarks: one
//! configuration, one way to make a client, a session or a token's claims. Not for
//! production use (the secrets here are public).

use crate::config::Config;
use crate::ids::{ClientId, FamilyId, Jti, Sid, Subject, random_id};
use crate::oauth::scope::Scope;
use crate::secrets::{ClientSecretHash, SecretString};
use crate::store::{ClientLifetimes, ClientRecord, FamilyRecord, FamilyStatus, GrantType, SessionRecord};
use crate::time::UnixTime;
use crate::tokens::access::AccessTokenClaims;
use std::collections::BTreeSet;

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
        id: ClientId::new(id),
        secret_hash: ClientSecretHash::create(&SecretString::new(CLIENT_SECRET)).expect("a long enough secret"),
        grant_types: grants.iter().copied().collect(),
        scopes: Scope::parse(scope).expect("a valid scope"),
        audience: None,
        may_introspect: false,
        admin: false,
        backchannel_logout_uri: None,
        lifetimes: ClientLifetimes::default(),
    }
}

/// The claims of a ten-minute client-credentials access token of `client`.
pub fn access_claims(client: &str, now: UnixTime) -> AccessTokenClaims {
    AccessTokenClaims {
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
    };
    let family = FamilyRecord {
        fid: FamilyId::random(),
        sid,
        sub,
        username: format!("user-{}", random_id()),
        client_id: client,
        scope: Scope::parse("openid read").expect("scope"),
        generation: 0,
        created_at: now,
        rotated_at: now,
        status: FamilyStatus::Active,
        expires_at: now.plus(lifetime),
    };
    (session, family)
}
