//! `discovery`: RFC 8414 / OIDC Discovery metadata and the JWKS.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Discovery>().await
}
