//! `revocations`: the revocation feed for resource servers, `GET /oauth2/revocations`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Revocations>().await
}
