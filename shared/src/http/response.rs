//! Response builders, and the one rendering of each error type (RFC 6749 §5.2 for the
//! OAuth endpoints, RFC 6750 §3 for protected resources).

use super::ToResponse;
use crate::oauth::{BearerError, OAuthError, OAuthRequest};
use lambda_http::http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

/// Read an OAuth endpoint request: form body, optional `Authorization` and `Accept`.
pub fn oauth_request(req: &Request) -> Result<OAuthRequest, OAuthError> {
    let header = |name| req.headers().get(name).map(|v: &HeaderValue| v.to_str().unwrap_or(""));
    // Several `Accept` lines are one comma-separated list (RFC 9110 §5.3).
    let accept: Vec<&str> = req.headers().get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    let accept = (!accept.is_empty()).then(|| accept.join(", "));
    Ok(OAuthRequest::parse(header(CONTENT_TYPE), header(AUTHORIZATION), req.body().as_ref())?
        .with_accept(accept.as_deref())
        .with_dpop(dpop_headers(req)))
}

/// Every `DPoP` header line, as sent: a request must carry exactly one (RFC 9449 §4.3),
/// which the proof check decides. A line that is not visible ASCII is kept as empty (and
/// fails as malformed).
pub fn dpop_headers(req: &Request) -> Vec<String> {
    req.headers().get_all("dpop").iter().map(|v| v.to_str().unwrap_or("").to_string()).collect()
}

/// A JSON response that no cache may keep: every token endpoint answer (RFC 6749 §5.1).
pub fn no_store_json(status: u16, body: &impl Serialize) -> Response<Body> {
    let mut response = json(status, body);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A signed answer (RFC 9701 §4: a JWT of media type `media_type`), uncached like the
/// JSON ones.
pub fn no_store_jwt(media_type: &'static str, jwt: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(jwt));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON response that clients may cache for `max_age` seconds (discovery, JWKS).
pub fn cacheable_json_bytes(bytes: &[u8], max_age: u32) -> Response<Body> {
    let mut response = Response::new(Body::Binary(bytes.to_vec()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, value);
    }
    response
}

/// RFC 7009 §2.2: 200 and an empty body, whatever the token was.
pub fn empty_no_store() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// RFC 6749 §5.2: the error JSON, `no-store`, a `Basic` challenge on every 401, and
/// `Retry-After` on a throttled attempt.
impl ToResponse for OAuthError {
    fn to_response(&self) -> Response<Body> {
        let mut response = no_store_json(self.status(), &self.body());
        if self.status() == 401 {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"oauth\""));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// RFC 6750 §3: the Bearer challenge and status for a protected-resource error.
impl ToResponse for BearerError {
    fn to_response(&self) -> Response<Body> {
        let (status, challenge, code) = match self {
            // Both schemes are offered (RFC 9449 §7.1).
            BearerError::Missing => {
                (401, format!("Bearer realm=\"userinfo\", DPoP algs=\"{}\"", crate::dpop::CHALLENGE_ALGS), None)
            }
            BearerError::Dpop { error, description } => (
                401,
                format!(
                    "DPoP error=\"{error}\", error_description=\"{description}\", algs=\"{}\"",
                    crate::dpop::CHALLENGE_ALGS
                ),
                Some(*error),
            ),
            BearerError::InvalidToken(description) => (
                401,
                format!("Bearer realm=\"userinfo\", error=\"invalid_token\", error_description=\"{description}\""),
                Some("invalid_token"),
            ),
            BearerError::InvalidRequest(description) => (
                400,
                format!("Bearer realm=\"userinfo\", error=\"invalid_request\", error_description=\"{description}\""),
                Some("invalid_request"),
            ),
            BearerError::InsufficientScope => (
                403,
                "Bearer realm=\"userinfo\", error=\"insufficient_scope\", scope=\"openid\"".to_string(),
                Some("insufficient_scope"),
            ),
            BearerError::Failed(err) => return err.to_response(),
        };
        let body = match code {
            Some(code) => serde_json::json!({ "error": code }),
            None => serde_json::json!({}),
        };
        let mut response = no_store_json(status, &body);
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// 405 for a method a route does not serve; API Gateway routes by method, the local
/// router may not.
pub fn method_not_allowed(allowed: &[Method]) -> Response<Body> {
    let mut response = json(405, &serde_json::json!({ "error": "method_not_allowed" }));
    let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert("allow", value);
    }
    response
}

pub fn not_found() -> Response<Body> {
    json(404, &serde_json::json!({ "error": "not_found" }))
}

fn json(status: u16, body: &impl Serialize) -> Response<Body> {
    // Serialising our own response types cannot fail; an empty object is the safe fallback.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
