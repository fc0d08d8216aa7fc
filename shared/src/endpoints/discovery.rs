//! `GET /.well-known/openid-configuration`, `/.well-known/oauth-authorization-server`
//! and `/.well-known/jwks.json`.

use super::FromServices;
use crate::discovery::{DiscoveryDocuments, JWKS_PATH};
use crate::http::Endpoint;
use crate::http::cors::Cors;
use crate::http::response::{cacheable_json_bytes, not_found};
use crate::oauth::OAuthError;
use crate::policy::JWKS_MAX_AGE_SECONDS;
use crate::services::{InitError, Services};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Clients re-fetch metadata and keys within this; rotation publishes a key at least
/// this long before it signs (docs/ARCHITECTURE.md §6), so this delay is harmless.
const MAX_AGE_SECONDS: u32 = JWKS_MAX_AGE_SECONDS as u32;

pub struct Discovery {
    discovery: crate::discovery::Discovery,
}

/// Which document a path asks for.
pub enum Document {
    Metadata,
    Jwks,
    Unknown,
}

impl FromServices for Discovery {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { discovery: services.discovery() })
    }
}

impl Endpoint for Discovery {
    type Input = Document;
    type Output = (Document, Arc<DiscoveryDocuments>);
    type Error = OAuthError;
    const METHODS: &'static [Method] = &[Method::GET];

    /// Public documents: any origin may read them.
    fn cors(&self) -> Option<&Cors> {
        Some(&Cors::Anyone)
    }

    fn parse(&self, req: &Request) -> Result<Document, OAuthError> {
        let path = req.uri().path();
        Ok(if path.ends_with(JWKS_PATH) {
            Document::Jwks
        } else if path.ends_with("/.well-known/openid-configuration")
            || path.ends_with("/.well-known/oauth-authorization-server")
        {
            Document::Metadata
        } else {
            Document::Unknown
        })
    }

    async fn call(&self, document: Document) -> Result<(Document, Arc<DiscoveryDocuments>), OAuthError> {
        let documents = self.discovery.documents().await.map_err(|err| {
            tracing::error!(event = "discovery.render_failed", error = %err);
            OAuthError::server_error()
        })?;
        Ok((document, documents))
    }

    fn respond(&self, (document, documents): (Document, Arc<DiscoveryDocuments>)) -> Response<Body> {
        match document {
            Document::Metadata => cacheable_json_bytes(&documents.metadata, MAX_AGE_SECONDS),
            Document::Jwks => cacheable_json_bytes(&documents.jwks, MAX_AGE_SECONDS),
            Document::Unknown => not_found(),
        }
    }
}
