//! The HTTP side of every endpoint: one trait, served by one function.
//!
//! An [`Endpoint`] parses the request into what its domain call needs, makes the call,
//! and maps the answer to a response; its error type maps itself ([`ToResponse`]). So
//! each function names its endpoint and nothing else (`lambda::serve_http`), and the
//! method check, the error rendering and the headers live here once.

pub mod cors;
pub mod event;
pub mod response;

use crate::oauth::{OAuthError, OAuthRequest};
use lambda_http::http::Method;
use lambda_http::http::header::ORIGIN;
use lambda_http::{Body, Request, Response};

/// A value that knows its HTTP response: the errors (`OAuthError`, `BearerError`) and
/// whatever an endpoint answers.
pub trait ToResponse {
    fn to_response(&self) -> Response<Body>;
}

pub trait Endpoint: Send + Sync {
    /// What the domain call needs, read from the request.
    type Input: Send;
    /// The domain call's answer.
    type Output: Send;
    /// The error, with its one response mapping.
    type Error: ToResponse + Send;
    /// The methods served; any other is 405 with `Allow`.
    const METHODS: &'static [Method];

    fn parse(&self, req: &Request) -> Result<Self::Input, Self::Error>;
    fn call(&self, input: Self::Input) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
    fn respond(&self, output: Self::Output) -> Response<Body>;

    /// Who may read the answers from browser code; `None`: no CORS at all.
    fn cors(&self) -> Option<&cors::Cors> {
        None
    }
}

/// An OAuth endpoint that takes a form POST (RFC 6749 §3.2): token, refresh, revoke,
/// introspect, logout. The parse, the method and the error mapping are the same for all.
pub trait FormEndpoint: Send + Sync {
    type Output: Send;
    fn call(&self, request: OAuthRequest) -> impl Future<Output = Result<Self::Output, OAuthError>> + Send;
    fn respond(&self, output: Self::Output) -> Response<Body>;

    fn cors(&self) -> Option<&cors::Cors> {
        None
    }
}

impl<T: FormEndpoint> Endpoint for T {
    type Input = OAuthRequest;
    type Output = T::Output;
    type Error = OAuthError;
    const METHODS: &'static [Method] = &[Method::POST];

    fn parse(&self, req: &Request) -> Result<OAuthRequest, OAuthError> {
        response::oauth_request(req)
    }

    fn call(&self, request: OAuthRequest) -> impl Future<Output = Result<T::Output, OAuthError>> + Send {
        FormEndpoint::call(self, request)
    }

    fn respond(&self, output: T::Output) -> Response<Body> {
        FormEndpoint::respond(self, output)
    }

    fn cors(&self) -> Option<&cors::Cors> {
        FormEndpoint::cors(self)
    }
}

/// Serve one request: CORS preflight, method check, parse, call, respond, and the CORS
/// headers of the answer.
pub async fn serve<E: Endpoint>(endpoint: &E, req: Request) -> Response<Body> {
    let origin = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let (true, Some(cors)) = (req.method() == Method::OPTIONS, endpoint.cors()) {
        return cors.preflight(origin.as_deref(), E::METHODS).await;
    }
    let mut response = if !E::METHODS.contains(req.method()) {
        response::method_not_allowed(E::METHODS)
    } else {
        let result = match endpoint.parse(&req) {
            Ok(input) => endpoint.call(input).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(output) => endpoint.respond(output),
            Err(err) => err.to_response(),
        }
    };
    if let (Some(cors), Some(origin)) = (endpoint.cors(), origin.as_deref()) {
        cors.expose(&mut response, origin).await;
    }
    response
}
