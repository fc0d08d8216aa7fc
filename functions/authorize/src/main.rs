//! `authorize`: browser sign-in, `GET|POST /oauth2/authorize` (OIDC Core §3.1.2): the
//! authorization request, the hosted login page, and single sign-on.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve_http::<shared::endpoints::Authorize>().await
}
