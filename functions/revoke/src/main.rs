//! `revoke`: RFC 7009 token revocation, `POST /oauth2/revoke`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Revoke>().await
}
