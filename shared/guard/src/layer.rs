//! The guard as a tower layer (feature `tower`): `Router::layer(GuardLayer::new(guard))`.
//! An accepted request reaches the inner service with its [`AccessClaims`] in the
//! extensions; a refused one is answered here and never reaches it.

use crate::claims::AccessClaims;
use crate::guard::{Guard, Refusal};
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
        let authorization =
            request.headers().get(AUTHORIZATION).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Box::pin(async move {
            match guard.check(authorization.as_deref()).await {
                Ok(claims) => {
                    request.extensions_mut().insert::<AccessClaims>(claims);
                    inner.call(request).await
                }
                Err(refusal) => Ok(refusal_response(&refusal)),
            }
        })
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
