//! Client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2): `client_secret_basic`,
//! `client_secret_post` or `private_key_jwt`, never two in one request, and each client
//! only by the method it registered. Client records are cached per warm instance so that
//! the `client_credentials` grant costs no DynamoDB round trip with a secret, and one (the
//! assertion's single use) with a key (docs/ARCHITECTURE.md §5); failed authentications
//! are counted per client id and throttled (`policy`).

use super::client_assertion::{self, AssertionVerifier, ClientAssertion};
use super::{OAuthError, OAuthRequest};
use crate::domain::{Attempted, ClientAuthentication, ClientRecord, FailureCount};
use crate::ids::ClientId;
use crate::secrets::{ClientSecretHash, SecretString};
use crate::store::{ClientLookup, OneTimeUse, StoreResult};
use crate::time::UnixTime;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

/// What a request presents to prove which client it comes from.
#[derive(Debug)]
pub enum ClientCredentials {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { id: ClientId, secret: SecretString, method: AuthMethod },
    /// `private_key_jwt`, naming its client but not yet verified.
    Assertion(ClientAssertion),
}

impl ClientCredentials {
    /// The client these credentials claim to be.
    pub fn id(&self) -> &ClientId {
        match self {
            Self::Secret { id, .. } => id,
            Self::Assertion(assertion) => assertion.client_id(),
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Secret { method, .. } => *method,
            Self::Assertion(_) => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// A public client naming itself (`token_endpoint_auth_method` none): a `client_id`
/// parameter and no credentials in any form.
pub fn public_client_id(req: &OAuthRequest) -> Option<&str> {
    let no_secret =
        req.authorization.is_none() && req.secret_param("client_secret").is_none() && !client_assertion::presented(req);
    req.param("client_id").filter(|_| no_secret)
}

/// Read the client's credentials from the request without touching storage.
pub fn extract_credentials(req: &OAuthRequest) -> Result<ClientCredentials, OAuthError> {
    let body_id = req.param("client_id");
    let body_secret = req.secret_param("client_secret");
    let methods = [req.authorization.is_some(), body_secret.is_some(), client_assertion::presented(req)];
    if methods.into_iter().filter(|used| *used).count() > 1 {
        return Err(OAuthError::invalid_request("use only one client authentication method"));
    }
    if client_assertion::presented(req) {
        let assertion =
            ClientAssertion::read(req.param("client_assertion_type"), req.param("client_assertion"), body_id)?;
        return Ok(ClientCredentials::Assertion(assertion));
    }
    match req.authorization.as_deref() {
        Some(header) => {
            let (id, secret) = parse_basic(header).ok_or(OAuthError::invalid_client())?;
            // A `client_id` parameter beside Basic is tolerated only if it names the same client.
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
            }
            Ok(ClientCredentials::Secret { id: ClientId::new(id), secret, method: AuthMethod::ClientSecretBasic })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => {
                Ok(ClientCredentials::Secret { id: ClientId::new(id), secret, method: AuthMethod::ClientSecretPost })
            }
            _ => Err(OAuthError::invalid_client()),
        },
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Option<(String, SecretString)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_decode(id)?;
    let secret = form_decode(secret)?;
    if id.is_empty() || secret.is_empty() {
        return None;
    }
    Some((id, SecretString::new(secret)))
}

/// application/x-www-form-urlencoded decoding of one value; `None` on a broken escape.
fn form_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Exactly two hex digits (RFC 3986 §2.1): `from_str_radix` alone also takes
                // a sign, and read `%+0` as a NUL byte (found by `tests/fuzz.rs`).
                let hex = bytes.get(i + 1..i + 3).filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Client records, read through a per-instance cache, each with the failures counted
/// against its id. An id no client holds is cached too (as unknown), so that it reads as
/// fast as a known one and the timing tells nothing of which ids exist. The cache is capped; when full, unknown ids go first, so a flood
/// of made-up ids cannot push the real clients out.
pub struct ClientDirectory {
    store: Arc<dyn ClientLookup>,
    assertions: AssertionVerifier,
    ttl: Duration,
    cache: Mutex<HashMap<ClientId, Cached>>,
    /// Whether an origin is some client's (CORS), for as long as a client record is
    /// trusted; capped like the client cache.
    origins: Mutex<HashMap<String, (Instant, bool)>>,
}

#[derive(Clone)]
struct Cached {
    at: Instant,
    client: Option<ClientRecord>,
    failures: FailureCount,
}

const CACHE_CAPACITY: usize = 1024;

impl ClientDirectory {
    /// `used` records the client assertions' `jti`s; `issuer` is what their `aud` names.
    pub fn new(store: Arc<dyn ClientLookup>, used: Arc<dyn OneTimeUse>, issuer: &str, ttl: Duration) -> Self {
        Self {
            store,
            assertions: AssertionVerifier::new(issuer, used),
            ttl,
            cache: Mutex::new(HashMap::new()),
            origins: Mutex::new(HashMap::new()),
        }
    }

    /// Whether some client registered `origin` (its redirect URIs' origins, or
    /// `--allowed-origin`): whose browser code may read the answers (CORS).
    pub async fn origin_registered(&self, origin: &str) -> StoreResult<bool> {
        // What no client could register is not looked up (nor cached): a header of any
        // length or shape arrives here from anyone, and must not reach a key.
        if crate::policy::origin(origin).is_err() {
            return Ok(false);
        }
        if let Ok(cache) = self.origins.lock()
            && let Some((at, known)) = cache.get(origin)
            && at.elapsed() < self.ttl
        {
            return Ok(*known);
        }
        let known = self.store.origin_registered(origin).await?;
        if !self.ttl.is_zero()
            && let Ok(mut cache) = self.origins.lock()
        {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(origin.to_string(), (Instant::now(), known));
        }
        Ok(known)
    }

    pub async fn get(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        Ok(self.lookup(id).await?.client)
    }

    async fn lookup(&self, id: &ClientId) -> StoreResult<Cached> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        let (client, failures) = self.store.client_for_auth(id).await?;
        let fetched = Cached { at: Instant::now(), client, failures };
        self.remember(id, fetched.clone());
        Ok(fetched)
    }

    fn cached(&self, id: &ClientId) -> Option<Cached> {
        let cache = self.cache.lock().ok()?;
        let hit = cache.get(id)?;
        (hit.at.elapsed() < self.ttl).then(|| hit.clone())
    }

    fn remember(&self, id: &ClientId, entry: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else { return };
        if cache.len() >= CACHE_CAPACITY && !cache.contains_key(id) {
            cache.retain(|_, cached| cached.client.is_some());
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(id.clone(), entry);
    }

    /// The count this instance now knows for `id` (an update's answer): a failure here is
    /// seen by the next attempt here at once, and by other instances at their next read.
    fn remember_failures(&self, id: &ClientId, failures: FailureCount) {
        if let Ok(mut cache) = self.cache.lock()
            && let Some(cached) = cache.get_mut(id)
        {
            cached.failures = failures;
        }
    }

    /// The calling client at the token and revocation endpoints, where a public client
    /// (`token_endpoint_auth_method` none) may name itself with `client_id` alone: its
    /// codes are bound by PKCE and its refresh tokens by rotation.
    pub async fn authenticate_or_identify_public(&self, req: &OAuthRequest) -> Result<ClientRecord, OAuthError> {
        match public_client_id(req) {
            Some(id) => self.identify_public(id).await,
            None => self.authenticate(req).await,
        }
    }

    /// Authenticate the calling client by the method it registered (a secret or an
    /// assertion): every endpoint that acts for the client beyond its own tokens
    /// (introspection, logout, the feed) accepts nothing less, since a public client's id
    /// is no secret. Unknown client and wrong credentials look the same to the caller
    /// (`invalid_client`), and are throttled the same after `policy::FREE_FAILURES` in a
    /// row (429, checked against nothing); an unreachable store is 503, never a guess.
    pub async fn authenticate(&self, req: &OAuthRequest) -> Result<ClientRecord, OAuthError> {
        let credentials = extract_credentials(req)?;
        let id = credentials.id();
        // An id no client can have is refused before any read (it would not fit a key).
        if !crate::policy::valid_client_id(id.as_str()) {
            tracing::warn!(event = "client.auth_failed", reason = "malformed_client_id");
            return Err(OAuthError::invalid_client());
        }
        let found = self.lookup(id).await?;
        let now = UnixTime::now();
        if let Some(retry_after) = found.failures.retry_after(now) {
            tracing::warn!(event = "client.auth_throttled", client_id = %id, retry_after,
                failures = found.failures.failures);
            return Err(OAuthError::throttled(retry_after));
        }
        let Some(client) = found.client else {
            if let ClientCredentials::Secret { secret, .. } = &credentials {
                ClientSecretHash::verify_against_dummy(secret);
            }
            return Err(self.failed(&credentials, "unknown_client", now).await);
        };
        match self.prove(&client, &credentials, now).await? {
            Ok(()) => {
                if found.failures.failures > 0 {
                    // Best effort: a count left behind lapses on its own.
                    match self.store.clear_failures(&Attempted::Client(id.clone())).await {
                        Ok(()) => self.remember_failures(id, FailureCount::default()),
                        Err(err) => err.report(),
                    }
                }
                Ok(client)
            }
            Err(reason) => Err(self.failed(&credentials, reason, now).await),
        }
    }

    /// Whether `credentials` prove `client`, by the one method it registered; if not, why
    /// not (the logged `reason`). The outer error is the store's.
    async fn prove(
        &self,
        client: &ClientRecord,
        credentials: &ClientCredentials,
        now: UnixTime,
    ) -> StoreResult<Result<(), &'static str>> {
        Ok(match (&client.authentication, credentials) {
            (ClientAuthentication::Secret(hash), ClientCredentials::Secret { secret, .. }) => {
                if hash.verify(secret) {
                    Ok(())
                } else {
                    Err("wrong_secret")
                }
            }
            (ClientAuthentication::PrivateKeyJwt(keys), ClientCredentials::Assertion(assertion)) => {
                self.assertions.verify(assertion, keys, now).await?.map_err(|refusal| refusal.reason())
            }
            // A public client has no secret, nor has a `private_key_jwt` client: any secret
            // presented for either is wrong, after the same work as a real check.
            (_, ClientCredentials::Secret { secret, .. }) => {
                ClientSecretHash::verify_against_dummy(secret);
                Err("method_not_registered")
            }
            (_, ClientCredentials::Assertion(_)) => Err("method_not_registered"),
        })
    }

    /// A failed authentication: counted against the id it named (the answer is
    /// `invalid_client`), or the store's error if it cannot be counted.
    async fn failed(&self, credentials: &ClientCredentials, reason: &'static str, now: UnixTime) -> OAuthError {
        let id = credentials.id();
        match self.store.record_failure(&Attempted::Client(id.clone()), now).await {
            Ok(failures) => {
                self.remember_failures(id, failures);
                tracing::warn!(event = "client.auth_failed", client_id = %id, method = ?credentials.method(), reason,
                    failures = failures.failures);
                OAuthError::invalid_client()
            }
            Err(err) => err.into(),
        }
    }

    /// A public client is identified, not authenticated: PKCE binds its codes and
    /// rotation its refresh tokens. A confidential client must authenticate; naming it
    /// is not a failed guess (nothing was guessed), so nothing is counted against it.
    async fn identify_public(&self, id: &str) -> Result<ClientRecord, OAuthError> {
        if !crate::policy::valid_client_id(id) {
            tracing::warn!(event = "client.auth_failed", reason = "malformed_client_id");
            return Err(OAuthError::invalid_client());
        }
        match self.lookup(&ClientId::new(id)).await?.client {
            Some(client) if client.is_public() => Ok(client),
            _ => {
                tracing::warn!(event = "client.auth_failed", client_id = %id, reason = "no_client_secret");
                Err(OAuthError::invalid_client())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    fn request(auth: Option<&str>, body: &str) -> OAuthRequest {
        OAuthRequest::parse(Some("application/x-www-form-urlencoded"), auth, body.as_bytes()).unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let creds = extract_credentials(&request(Some(&basic("my%20app", "p%3As+x")), "")).unwrap();
        let ClientCredentials::Secret { id, secret, method } = creds else { panic!("a secret: {creds:?}") };
        assert_eq!((id.as_str(), secret.expose()), ("my app", "p:s x"));
        assert_eq!(method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn post_credentials_are_read_from_the_body() {
        let creds = extract_credentials(&request(None, "client_id=app&client_secret=pw")).unwrap();
        assert_eq!(creds.method(), AuthMethod::ClientSecretPost);
    }

    /// A form with a client assertion, of this type, beside `extra` parameters.
    fn assertion_form(assertion_type: &str, extra: &str) -> String {
        let key = crate::testing::kit::ClientKey::generate(crate::domain::SigningAlgorithm::Es256);
        let jwt = key.assertion("app", crate::testing::kit::ISSUER);
        format!("client_assertion_type={}&client_assertion={jwt}{extra}", form_escape(assertion_type))
    }

    fn form_escape(value: &str) -> String {
        serde_urlencoded::to_string([("v", value)]).unwrap()[2..].to_string()
    }

    #[test]
    fn a_client_assertion_names_its_client_and_is_the_third_method() {
        let creds = extract_credentials(&request(None, &assertion_form(client_assertion::JWT_BEARER, ""))).unwrap();
        assert_eq!((creds.id().as_str(), creds.method()), ("app", AuthMethod::PrivateKeyJwt));
        let same = assertion_form(client_assertion::JWT_BEARER, "&client_id=app");
        assert_eq!(extract_credentials(&request(None, &same)).unwrap().id().as_str(), "app");
        assert!(!format!("{creds:?}").contains("eyJ"), "Debug shows no part of the assertion: {creds:?}");
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let err = extract_credentials(&request(Some(&basic("app", "pw")), "client_secret=pw")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        let err = extract_credentials(&request(Some(&basic("app", "pw")), "client_id=other")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        let with_assertion = assertion_form(client_assertion::JWT_BEARER, "");
        let err = extract_credentials(&request(Some(&basic("app", "pw")), &with_assertion)).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        let with_secret = assertion_form(client_assertion::JWT_BEARER, "&client_id=app&client_secret=pw");
        assert_eq!(extract_credentials(&request(None, &with_secret)).unwrap_err().code, OAuthErrorCode::InvalidRequest);
    }

    /// RFC 7521 §4.2: both parameters, and a `client_id` of the same client; RFC 6749 §5.2:
    /// an assertion type this server does not offer is a failed authentication.
    #[test]
    fn an_incomplete_or_foreign_assertion_is_refused_with_the_rfcs_code() {
        let cases = [
            (assertion_form(client_assertion::JWT_BEARER, "&client_id=other"), OAuthErrorCode::InvalidRequest),
            ("client_assertion=a.b.c".to_string(), OAuthErrorCode::InvalidRequest),
            (
                format!("client_assertion_type={}", form_escape(client_assertion::JWT_BEARER)),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                assertion_form("urn:ietf:params:oauth:client-assertion-type:saml2-bearer", ""),
                OAuthErrorCode::InvalidClient,
            ),
            (
                format!(
                    "client_assertion_type={}&client_assertion=not-a-jwt",
                    form_escape(client_assertion::JWT_BEARER)
                ),
                OAuthErrorCode::InvalidClient,
            ),
        ];
        for (body, code) in cases {
            let err = extract_credentials(&request(None, &body)).unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
    }

    #[test]
    fn a_client_id_beside_an_assertion_is_no_public_client() {
        let body = assertion_form(client_assertion::JWT_BEARER, "&client_id=app");
        assert_eq!(public_client_id(&request(None, &body)), None);
        assert_eq!(public_client_id(&request(None, "client_id=app")), Some("app"));
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client_401() {
        let no_colon = format!("Basic {}", STANDARD.encode("appsecret"));
        let bad_escape = basic("app%zz", "pw");
        for header in
            ["Basic", "Basic !!!notbase64", no_colon.as_str(), "Bearer abc", bad_escape.as_str(), "Basic Og=="]
        {
            let err = extract_credentials(&request(Some(header), "")).unwrap_err();
            assert_eq!((err.code, err.status()), (OAuthErrorCode::InvalidClient, 401), "{header}");
        }
    }

    #[test]
    fn an_escape_is_two_hex_digits_not_a_signed_number() {
        // `%+0` once decoded to a NUL byte: `u8::from_str_radix("+0", 16)` is `Ok(0)`.
        for raw in ["%+0", "%+41", "a%+Fb", "%-1"] {
            assert_eq!(form_decode(raw), None, "{raw}");
            let err = extract_credentials(&request(Some(&basic("app", raw)), "")).unwrap_err();
            assert_eq!(err.code, OAuthErrorCode::InvalidClient, "{raw}");
        }
        assert_eq!(form_decode("%41%2b+%3A").as_deref(), Some("A+ :"));
    }

    #[test]
    fn no_credentials_is_invalid_client() {
        let err = extract_credentials(&request(None, "client_id=app")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidClient);
    }
}
