//! `userinfo`: OIDC UserInfo, `GET /userinfo` (and POST, OIDC Core §5.3.1).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::UserInfo>().await
}
