use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use shared::discovery::{Discovery, JWKS_PATH};
use shared::http;

/// Clients re-fetch metadata and keys within five minutes; rotation publishes a key a
/// whole rotation period before it signs (ARCHITECTURE.md §6), so this delay is harmless.
const MAX_AGE_SECONDS: u32 = 300;

pub async fn handle(discovery: &Discovery, req: Request) -> Result<Response<Body>, Error> {
    if req.method() != Method::GET {
        return Ok(http::method_not_allowed("GET"));
    }
    let documents = discovery.documents().await?;
    let path = req.uri().path();
    Ok(if path.ends_with(JWKS_PATH) {
        http::cacheable_json_bytes(&documents.jwks, MAX_AGE_SECONDS)
    } else if path.ends_with("/.well-known/openid-configuration")
        || path.ends_with("/.well-known/oauth-authorization-server")
    {
        http::cacheable_json_bytes(&documents.metadata, MAX_AGE_SECONDS)
    } else {
        http::not_found()
    })
}
