//! The token service over HTTP: its JWKS and its revocation feed (feature `remote`).

use crate::feed::{FeedError, FeedPage};
use crate::jwks::{KeySource, KeysError};
use crate::sync::{FeedSource, SourcedPage};
use crate::verify::KeySet;
use base64::Engine;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Per request: a poll that hangs must not outlive its interval by much, and a request
/// waiting for an unknown-kid refetch must not wait long.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

/// A client for the token service, shared by the feed and the JWKS.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(HTTP_TIMEOUT).connect_timeout(HTTP_TIMEOUT).build()
}

/// `{issuer}{path}`, the way the token service's discovery documents build them.
fn endpoint(issuer: &str, path: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!("{}{path}", issuer.trim_end_matches('/')))
}

/// `GET {issuer}/oauth2/revocations?after=<cursor>` with client_secret_basic.
#[derive(Clone)]
pub struct HttpFeed {
    client: reqwest::Client,
    url: Url,
    /// The whole credential lives here, marked sensitive so that reqwest never prints it.
    authorization: HeaderValue,
}

impl std::fmt::Debug for HttpFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFeed").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl HttpFeed {
    pub fn new(
        client: reqwest::Client,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, url::ParseError> {
        // Base64 is always a valid header value; the fallback (refused as 401) is unreachable.
        let mut authorization = HeaderValue::try_from(basic_authorization(client_id, client_secret))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        authorization.set_sensitive(true);
        Ok(Self { client, url: endpoint(issuer, "/oauth2/revocations")?, authorization })
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and
/// encoded, so a `:` or non-ASCII in either survives.
fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

impl FeedSource for HttpFeed {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        let mut url = self.url.clone();
        if let Some(cursor) = after {
            // `query_pairs_mut` percent-encodes the opaque cursor.
            url.query_pairs_mut().append_pair("after", cursor);
        }
        let response = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .send()
            .await
            .map_err(|e| FeedError::Transport(transport_error(&e)))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(FeedError::Unauthorized),
            StatusCode::FORBIDDEN => return Err(FeedError::Forbidden),
            // The only request parameter is the cursor: the issuer no longer reads it
            // (a new cursor format after an upgrade, say).
            StatusCode::BAD_REQUEST if after.is_some() => return Err(FeedError::CursorRefused),
            other => return Err(FeedError::Status(other.as_u16())),
        }
        let body = response.bytes().await.map_err(|e| FeedError::Transport(transport_error(&e)))?;
        Ok(SourcedPage::over_http(FeedPage::from_json(&body)?))
    }
}

/// `GET {issuer}/.well-known/jwks.json` (public, no credentials).
#[derive(Clone, Debug)]
pub struct HttpJwks {
    client: reqwest::Client,
    url: Url,
}

impl HttpJwks {
    pub fn new(client: reqwest::Client, issuer: &str) -> Result<Self, url::ParseError> {
        Ok(Self { client, url: endpoint(issuer, "/.well-known/jwks.json")? })
    }
}

impl KeySource for HttpJwks {
    async fn fetch(&self) -> Result<KeySet, KeysError> {
        let response =
            self.client.get(self.url.clone()).send().await.map_err(|e| KeysError::Transport(transport_error(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(KeysError::Status(response.status().as_u16()));
        }
        let body = response.bytes().await.map_err(|e| KeysError::Transport(transport_error(&e)))?;
        KeySet::from_json(&body).map_err(|e| KeysError::Malformed(e.to_string()))
    }
}

/// reqwest's message names the URL (never the `Authorization` header); the source
/// (refused, timed out, …) is what an operator needs.
fn transport_error(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        let header = basic_authorization("my client", "p:ss/é");
        let encoded = header.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "my+client:p%3Ass%2F%C3%A9");
    }

    #[test]
    fn the_feed_client_never_prints_its_secret() {
        let feed = HttpFeed::new(reqwest::Client::new(), "https://auth.example.com/", "rs", "s3cret").unwrap();
        let debug = format!("{feed:?}");
        assert!(!debug.contains("s3cret") && !debug.contains(&basic_authorization("rs", "s3cret")[6..]));
        assert!(debug.contains("https://auth.example.com/oauth2/revocations"));
    }
}
