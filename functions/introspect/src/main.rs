//! `introspect`: RFC 7662 token introspection, `POST /oauth2/introspect`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Introspect>().await
}
