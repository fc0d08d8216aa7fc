//! The one place where protocol results become HTTP responses (STYLE.md habit 3).

use crate::grants::TokenIssuer;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::store::GrantType;
use crate::userinfo::BearerError;
use lambda_http::http::Method;
use lambda_http::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

/// Every form-posting OAuth endpoint (token, refresh, revoke, introspect, logout): POST
/// only, the form parsed, `handle` called, its error mapped per RFC 6749 §5.2, its
/// success rendered by `respond`.
pub async fn form_endpoint<T, Fut>(
    req: &Request,
    handle: impl FnOnce(OAuthRequest) -> Fut,
    respond: impl FnOnce(T) -> Response<Body>,
) -> Response<Body>
where
    Fut: Future<Output = Result<T, OAuthError>>,
{
    if req.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let result = match oauth_request(req) {
        Ok(oauth) => handle(oauth).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(value) => respond(value),
        Err(err) => oauth_error(&err),
    }
}

/// The token and refresh endpoints: RFC 6749 §5.1 or §5.2.
pub async fn token_endpoint(issuer: &TokenIssuer, req: &Request, grants: &[GrantType]) -> Response<Body> {
    form_endpoint(
        req,
        |oauth| async move { issuer.token_for(&oauth, grants).await },
        |tokens| no_store_json(200, &tokens),
    )
    .await
}

/// Read an OAuth endpoint request: POST, form body, optional `Authorization`.
pub fn oauth_request(req: &Request) -> Result<OAuthRequest, OAuthError> {
    let header = |name| req.headers().get(name).map(|v: &HeaderValue| v.to_str().unwrap_or(""));
    OAuthRequest::parse(header(CONTENT_TYPE), header(AUTHORIZATION), req.body().as_ref())
}

/// A JSON response that no cache may keep: every token endpoint answer (RFC 6749 §5.1).
pub fn no_store_json(status: u16, body: &impl Serialize) -> Response<Body> {
    let mut response = json(status, body);
    let headers = response.headers_mut();
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

/// RFC 6749 §5.2: the error JSON, `no-store`, and a `Basic` challenge on every 401.
pub fn oauth_error(err: &OAuthError) -> Response<Body> {
    let mut response = no_store_json(err.status(), &err.body());
    if err.status() == 401 {
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"oauth\""));
    }
    response
}

/// RFC 7009 §2.2: 200 and an empty body, whatever the token was.
pub fn revoked() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// RFC 6750 §3: the Bearer challenge and status for a protected-resource error.
pub fn bearer_error(err: &BearerError) -> Response<Body> {
    let (status, challenge, code) = match err {
        BearerError::Missing => (401, "Bearer realm=\"userinfo\"".to_string(), None),
        BearerError::InvalidToken(description) => (
            401,
            format!("Bearer realm=\"userinfo\", error=\"invalid_token\", error_description=\"{description}\""),
            Some("invalid_token"),
        ),
        BearerError::InsufficientScope => (
            403,
            "Bearer realm=\"userinfo\", error=\"insufficient_scope\", scope=\"openid\"".to_string(),
            Some("insufficient_scope"),
        ),
        BearerError::Unavailable => return oauth_error(&OAuthError::unavailable()),
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

/// 405 for a method a route does not serve; API Gateway routes by method, the local
/// router may not.
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json(405, &serde_json::json!({ "error": "method_not_allowed" }));
    response.headers_mut().insert("allow", HeaderValue::from_static(allow));
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
