//! CORS for the endpoints a browser app calls: token, refresh, revocation, userinfo,
//! discovery and the JWKS. Answers are readable by an origin that some client registered
//! (the origins of its redirect URIs, and `--allowed-origin`); the public documents by any
//! origin. Never with credentials: these endpoints read no cookie, so there is nothing
//! ambient for another origin to ride on, and an `Access-Control-Allow-Origin` is never a
//! reflection of whatever a request sends.

use crate::oauth::client_auth::ClientDirectory;
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};
use std::sync::Arc;

/// Who may read an endpoint's answers from browser code.
pub enum Cors {
    /// Public documents: any origin (`*`).
    Anyone,
    /// An origin that some client registered.
    RegisteredOrigins(Arc<ClientDirectory>),
}

/// What a browser may send beyond a simple request: a bearer token, a form, a DPoP proof.
const ALLOWED_HEADERS: &str = "authorization, content-type, dpop";
/// What a browser app may read of an answer beyond the simple headers.
const EXPOSED_HEADERS: &str = "www-authenticate, retry-after";
/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: &str = "600";

impl Cors {
    /// The `Access-Control-Allow-Origin` for `origin`, if it may read.
    async fn allow_origin(&self, origin: &str) -> Option<HeaderValue> {
        match self {
            Cors::Anyone => Some(HeaderValue::from_static("*")),
            Cors::RegisteredOrigins(clients) => match clients.origin_registered(origin).await {
                Ok(true) => HeaderValue::from_str(origin).ok(),
                Ok(false) => None,
                // Fail closed: the browser keeps the answer from the page.
                Err(err) => {
                    err.report();
                    None
                }
            },
        }
    }

    /// Make `response` readable by `origin`, if it may read.
    pub async fn expose(&self, response: &mut Response<Body>, origin: &str) {
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("origin"));
        if let Some(allow) = self.allow_origin(origin).await {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin`): 204, with the permissions
    /// only if the origin may read.
    pub async fn preflight(&self, origin: Option<&str>, methods: &[Method]) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let Some(origin) = origin else { return response };
        let allow = self.allow_origin(origin).await;
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("origin"));
        if let Some(allow) = allow {
            let methods: Vec<&str> = methods.iter().map(Method::as_str).collect();
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
                headers.insert(ACCESS_CONTROL_ALLOW_METHODS, value);
            }
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{ClientAuthentication, GrantType};
    use crate::endpoints::{Discovery, FromServices, Token, UserInfo};
    use crate::testing::kit;
    use lambda_http::Request;

    fn request(method: &str, path: &str, origin: &str, body: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://auth.example.com{path}"))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(lambda_http::Body::from(body.to_string()))
            .unwrap()
    }

    fn allow_origin(response: &lambda_http::Response<lambda_http::Body>) -> Option<&str> {
        response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn a_registered_origin_reads_answers_and_passes_preflight_and_no_other_does() {
        let services = kit::services();
        let mut spa = kit::client("spa", &[GrantType::AuthorizationCode, GrantType::RefreshToken], "openid");
        spa.authentication = ClientAuthentication::None;
        spa.browser.redirect_uris = vec!["https://app.example.com/cb".into()];
        spa.browser.allowed_origins = vec!["https://admin.example.com".into()];
        services.store().put_client(&spa).await.unwrap();
        let token = Token::from_services(&services).unwrap();
        let body = "grant_type=authorization_code&client_id=spa&code=x&redirect_uri=y&code_verifier=z";
        for origin in ["https://app.example.com", "https://admin.example.com"] {
            let answer = crate::http::serve(&token, request("POST", "/oauth2/token", origin, body)).await;
            assert_eq!(answer.status(), 400, "the grant fails, and its error is readable");
            assert_eq!(allow_origin(&answer), Some(origin));
            assert_eq!(answer.headers()["vary"], "origin");
            assert!(answer.headers().get("access-control-allow-credentials").is_none(), "never credentials");
        }
        let evil = crate::http::serve(&token, request("POST", "/oauth2/token", "https://evil.example.com", body)).await;
        assert_eq!(allow_origin(&evil), None, "not reflected");

        let userinfo = UserInfo::from_services(&services).unwrap();
        let preflight =
            crate::http::serve(&userinfo, request("OPTIONS", "/userinfo", "https://app.example.com", "")).await;
        assert_eq!((preflight.status().as_u16(), allow_origin(&preflight)), (204, Some("https://app.example.com")));
        assert_eq!(preflight.headers()["access-control-allow-headers"], "authorization, content-type, dpop");
        assert_eq!(preflight.headers()["access-control-allow-methods"], "GET, POST");
        let refused =
            crate::http::serve(&userinfo, request("OPTIONS", "/userinfo", "https://evil.example.com", "")).await;
        assert_eq!((refused.status().as_u16(), allow_origin(&refused)), (204, None));

        let discovery = Discovery::from_services(&services).unwrap();
        let jwks =
            crate::http::serve(&discovery, request("GET", "/.well-known/jwks.json", "https://any.example", "")).await;
        assert_eq!(allow_origin(&jwks), Some("*"), "public documents");
    }

    #[tokio::test]
    async fn an_origin_no_client_could_register_is_refused_without_a_read() {
        use crate::testing::{counting::Counting, memory::MemoryStore};
        let counting = std::sync::Arc::new(Counting::new(std::sync::Arc::new(MemoryStore::new())));
        let services = kit::services_over(counting.clone());
        let userinfo = UserInfo::from_services(&services).unwrap();
        let long = format!("https://{}.example", "a".repeat(3000));
        for origin in [long.as_str(), "null", "https://app.example.com/path", "ftp://app.example.com"] {
            counting.reset();
            let answer = crate::http::serve(&userinfo, request("OPTIONS", "/userinfo", origin, "")).await;
            assert_eq!(allow_origin(&answer), None);
            assert_eq!(counting.round_trips(), 0, "no read for {:.40}", origin);
        }
    }
}
