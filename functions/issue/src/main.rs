//! `issue`: the OAuth 2.0 token endpoint, `POST /oauth2/token`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Token>().await
}
