//! `GET` or `POST /oauth2/revocations`: the revocation feed (docs/ARCHITECTURE.md
//! §3.11), for resource servers that keep their own copy of the denylist. A GET carries
//! `after` in its query and the client's credentials in the `Authorization` header alone;
//! a POST carries both in a form, so that a client may authenticate by any method,
//! a client assertion included.

use super::FromServices;
use crate::feed::{FeedAnswer, FeedReader};
use crate::http::Endpoint;
use crate::http::response::{self, no_store_json};
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use lambda_http::http::Method;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// What client authentication reads from a form; refused in this endpoint's URL.
const CREDENTIAL_PARAMETERS: [&str; 4] = ["client_id", "client_secret", "client_assertion", "client_assertion_type"];

pub struct Revocations {
    reader: FeedReader,
}

impl FromServices for Revocations {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { reader: services.feed_reader() })
    }
}

impl Endpoint for Revocations {
    type Input = OAuthRequest;
    type Output = FeedAnswer;
    type Error = OAuthError;
    const METHODS: &'static [Method] = &[Method::GET, Method::POST];

    /// A GET: the query's parameters (`after`) with the same rules as a form (RFC 6749
    /// §3.1: no repeats, empty means absent), and the client's `Authorization` header: the
    /// only place credentials may come from, since a URL ends up in logs (RFC 6749
    /// §2.3.1). A POST: the form, as at every other OAuth endpoint, and no query at all,
    /// so that there is one place for each parameter.
    fn parse(&self, req: &Request) -> Result<OAuthRequest, OAuthError> {
        let query = req.uri().query().unwrap_or_default();
        if req.method() == Method::POST {
            if !query.is_empty() {
                return Err(OAuthError::invalid_request("a POST carries its parameters in the form, not the URL"));
            }
            return response::oauth_request(req);
        }
        let authorization = req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
        let request = OAuthRequest::parse(Some("application/x-www-form-urlencoded"), authorization, query.as_bytes())?;
        if CREDENTIAL_PARAMETERS.iter().any(|name| request.param(name).is_some()) {
            return Err(OAuthError::invalid_request(
                "client credentials go in the Authorization header, never the URL",
            ));
        }
        Ok(request)
    }

    async fn call(&self, request: OAuthRequest) -> Result<FeedAnswer, OAuthError> {
        self.reader.read(&request).await
    }

    fn respond(&self, answer: FeedAnswer) -> Response<Body> {
        // `more`: this page stopped short of the end; a reader asks again at once, even
        // when the page holds no entries (it passed only expired or delivered records).
        no_store_json(
            200,
            &json!({ "entries": answer.entries, "cursor": answer.cursor.encode(), "more": answer.truncated }),
        )
    }
}
