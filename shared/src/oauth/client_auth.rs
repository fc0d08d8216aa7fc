//! Client authentication (RFC 6749 §2.3.1): `client_secret_basic` or `client_secret_post`,
//! never both in one request. Client records are cached per warm instance so that the
//! `client_credentials` grant costs no DynamoDB round trip (docs/ARCHITECTURE.md §5).

use super::{OAuthError, OAuthRequest};
use crate::domain::ClientRecord;
use crate::ids::ClientId;
use crate::secrets::SecretString;
use crate::store::{ClientRead, StoreResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

#[derive(Debug)]
pub struct ClientCredentials {
    pub id: ClientId,
    pub secret: SecretString,
    pub method: AuthMethod,
}

/// Read the client's credentials from the request without touching storage.
pub fn extract_credentials(req: &OAuthRequest) -> Result<ClientCredentials, OAuthError> {
    let body_id = req.param("client_id");
    let body_secret = req.secret_param("client_secret");
    match req.authorization.as_deref() {
        Some(header) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request("use only one client authentication method"));
            }
            let (id, secret) = parse_basic(header).ok_or(OAuthError::invalid_client())?;
            // A `client_id` parameter beside Basic is tolerated only if it names the same client.
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
            }
            Ok(ClientCredentials { id: ClientId::new(id), secret, method: AuthMethod::ClientSecretBasic })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => {
                Ok(ClientCredentials { id: ClientId::new(id), secret, method: AuthMethod::ClientSecretPost })
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
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Client records, read through a per-instance cache. Only known clients are cached, so
/// a flood of made-up client ids cannot grow memory; the cache is also capped.
pub struct ClientDirectory {
    store: Arc<dyn ClientRead>,
    ttl: Duration,
    cache: Mutex<HashMap<ClientId, (Instant, ClientRecord)>>,
}

const CACHE_CAPACITY: usize = 1024;

impl ClientDirectory {
    pub fn new(store: Arc<dyn ClientRead>, ttl: Duration) -> Self {
        Self { store, ttl, cache: Mutex::new(HashMap::new()) }
    }

    pub async fn get(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        if let Some(hit) = self.cached(id) {
            return Ok(Some(hit));
        }
        let fetched = self.store.client(id).await?;
        if let (Some(client), false) = (&fetched, self.ttl.is_zero())
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(id.clone(), (Instant::now(), client.clone()));
        }
        Ok(fetched)
    }

    fn cached(&self, id: &ClientId) -> Option<ClientRecord> {
        let cache = self.cache.lock().ok()?;
        let (at, client) = cache.get(id)?;
        (at.elapsed() < self.ttl).then(|| client.clone())
    }

    /// Authenticate the calling client. Unknown client and wrong secret look the same to
    /// the caller (`invalid_client`); an unreachable store is 503, never a guess.
    pub async fn authenticate(&self, req: &OAuthRequest) -> Result<ClientRecord, OAuthError> {
        let credentials = extract_credentials(req)?;
        // An id no client can have is refused before any read (it would not fit a key).
        if !crate::policy::valid_client_id(credentials.id.as_str()) {
            tracing::warn!(event = "client.auth_failed", reason = "malformed_client_id");
            return Err(OAuthError::invalid_client());
        }
        let client = self.get(&credentials.id).await?;
        match client {
            Some(client) if client.secret_hash.verify(&credentials.secret) => Ok(client),
            _ => {
                tracing::warn!(event = "client.auth_failed", client_id = %credentials.id, method = ?credentials.method);
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
        assert_eq!((creds.id.as_str(), creds.secret.expose()), ("my app", "p:s x"));
        assert_eq!(creds.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn post_credentials_are_read_from_the_body() {
        let creds = extract_credentials(&request(None, "client_id=app&client_secret=pw")).unwrap();
        assert_eq!(creds.method, AuthMethod::ClientSecretPost);
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let err = extract_credentials(&request(Some(&basic("app", "pw")), "client_secret=pw")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        let err = extract_credentials(&request(Some(&basic("app", "pw")), "client_id=other")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
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
    fn no_credentials_is_invalid_client() {
        let err = extract_credentials(&request(None, "client_id=app")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidClient);
    }
}
