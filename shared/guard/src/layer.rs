//! The guard as a tower layer (feature `tower`): `Router::layer(GuardLayer::new(guard))`.
//! An accepted request reaches the inner service with its [`AccessClaims`] in the
//! extensions; a refused one is answered here and never reaches it.

use crate::claims::AccessClaims;
use crate::guard::{Guard, Presentation, Refusal};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService { guard: self.guard.clone(), inner }
    }
}

#[derive(Clone, Debug)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: Send + 'static,
    // Refusals carry a short static body (empty, or the 503's JSON).
    ResBody: From<&'static str> + Send,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service that was polled ready is the one to call (tower's clone-and-swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        // A header that is not visible ASCII cannot be a b64token: it fails as malformed.
        let header = |value: &http::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
        let authorization = request.headers().get(AUTHORIZATION).map(header);
        let dpop: Vec<String> = request.headers().get_all("dpop").iter().map(header).collect();
        let method = request.method().as_str().to_string();
        let url = request_url(&request, guard.public_origin());
        Box::pin(async move {
            let dpop: Vec<&str> = dpop.iter().map(String::as_str).collect();
            let presented =
                Presentation { authorization: authorization.as_deref(), dpop: &dpop, method: &method, url: &url };
            match guard.check_request(&presented).await {
                Ok(claims) => {
                    request.extensions_mut().insert::<AccessClaims>(claims);
                    inner.call(request).await
                }
                Err(refusal) => Ok(refusal_response(&refusal)),
            }
        })
    }
}

/// The URL a DPoP proof's `htu` must name: the configured public origin and the path, or
/// the request's own URI when absolute. Never the `Host` header: the caller chooses it, and
/// a proof made for another API's origin must not pass here. With neither, no proof can
/// match (the empty URL), and DPoP-bound tokens are refused: set `public_origin`.
fn request_url<B>(request: &Request<B>, public_origin: Option<&str>) -> String {
    let uri = request.uri();
    let path = uri.path();
    match (public_origin, uri.scheme_str(), uri.authority()) {
        (Some(origin), _, _) => format!("{}{path}", origin.trim_end_matches('/')),
        (None, Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}"),
        _ => String::new(),
    }
}

/// The one place a refusal becomes HTTP.
pub fn refusal_response<ResBody: From<&'static str>>(refusal: &Refusal) -> Response<ResBody> {
    let mut response = Response::new(ResBody::from(refusal.body().unwrap_or("")));
    *response.status_mut() = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = refusal.www_authenticate() {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if let Some(seconds) = refusal.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if refusal.body().is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}
