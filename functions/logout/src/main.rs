//! `logout`: `POST /oauth2/logout`. Ends a session (or every session of a subject) and
//! notifies every relying party through OIDC Back-Channel Logout.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Logout>().await
}
