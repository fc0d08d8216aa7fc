//! A parsed OAuth endpoint request: form parameters (RFC 6749 §3.2) and the
//! `Authorization` header, checked before any grant logic or storage is touched.

use super::{OAuthError, OAuthErrorCode};
use crate::secrets::SecretString;
use std::collections::HashMap;

/// Larger bodies are refused before parsing; no OAuth request comes close.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct OAuthRequest {
    params: HashMap<String, String>,
    /// The raw `Authorization` header, if any; parsed by client authentication.
    pub authorization: Option<String>,
    /// The raw `Accept` header, if any: introspection answers a signed JWT when it asks
    /// for one (RFC 9701 §4).
    pub accept: Option<String>,
    /// Every `DPoP` header line (RFC 9449 §4): a proof of possession of the key the
    /// tokens are to be bound to.
    dpop: Vec<String>,
}

/// Shows parameter names only: values include passwords, secrets and tokens.
impl std::fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.params.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("OAuthRequest")
            .field("params", &names)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            // Not a secret: a media type list, worth seeing when a representation surprises.
            .field("accept", &self.accept)
            .field("dpop_proofs", &self.dpop.len())
            .finish()
    }
}

impl OAuthRequest {
    /// Parse a form-encoded POST body. `content_type` is the request's header value.
    pub fn parse(content_type: Option<&str>, authorization: Option<&str>, body: &[u8]) -> Result<Self, OAuthError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(OAuthError::new(OAuthErrorCode::RequestTooLarge, "request body exceeds 65536 bytes"));
        }
        let is_form = content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))?;
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
            if value.is_empty() {
                continue;
            }
            // RFC 6749 §3.1 and §3.2: request parameters MUST NOT be included more than once.
            if params.insert(name, value).is_some() {
                return Err(OAuthError::invalid_request("a parameter is repeated"));
            }
        }
        Ok(Self { params, authorization: authorization.map(str::to_string), accept: None, dpop: Vec::new() })
    }

    /// The same request with the `Accept` header the client sent.
    pub fn with_accept(mut self, accept: Option<&str>) -> Self {
        self.accept = accept.map(str::to_string);
        self
    }

    /// The same request with the `DPoP` header lines it came with.
    pub fn with_dpop(mut self, proofs: Vec<String>) -> Self {
        self.dpop = proofs;
        self
    }

    pub fn dpop_proofs(&self) -> Vec<&str> {
        self.dpop.iter().map(String::as_str).collect()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &'static str, description: &'static str) -> Result<&str, OAuthError> {
        self.param(name).ok_or(OAuthError::invalid_request(description))
    }

    pub fn secret_param(&self, name: &str) -> Option<SecretString> {
        self.param(name).map(SecretString::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=UTF-8");

    #[test]
    fn parses_form_and_drops_empty_values() {
        let req = OAuthRequest::parse(FORM, None, b"grant_type=client_credentials&scope=&x=a%20b").unwrap();
        assert_eq!(req.param("grant_type"), Some("client_credentials"));
        assert_eq!(req.param("scope"), None);
        assert_eq!(req.param("x"), Some("a b"));
    }

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let err = OAuthRequest::parse(FORM, None, b"scope=a&scope=b").unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn json_or_missing_content_type_is_invalid_request() {
        for ct in [Some("application/json"), None, Some("text/plain")] {
            let err = OAuthRequest::parse(ct, None, br#"{"grant_type":"client_credentials"}"#).unwrap_err();
            assert_eq!(err.code, OAuthErrorCode::InvalidRequest, "{ct:?}");
        }
    }

    #[test]
    fn oversized_body_is_413_invalid_request() {
        let body = vec![b'a'; MAX_BODY_BYTES + 1];
        let err = OAuthRequest::parse(FORM, None, &body).unwrap_err();
        assert_eq!((err.code.as_str(), err.status()), ("invalid_request", 413));
    }

    #[test]
    fn debug_hides_secret_values() {
        let req = OAuthRequest::parse(FORM, Some("Basic c2VjcmV0"), b"password=hunter2&client_secret=s3cret").unwrap();
        let shown = format!("{req:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret") && !shown.contains("c2VjcmV0"), "{shown}");
    }
}
