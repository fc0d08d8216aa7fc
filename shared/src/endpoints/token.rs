//! `POST /oauth2/token` (every grant) and `POST /oauth2/refresh` (refresh only, so the
//! hot refresh path scales and alarms on its own): one issuer, two grant sets.

use super::FromServices;
use crate::discovery::{REFRESH_PATH, TOKEN_PATH};
use crate::domain::GrantType;
use crate::grants::{REFRESH_ENDPOINT_GRANTS, SUPPORTED_GRANTS, TokenIssuer, TokenResponse};
use crate::http::FormEndpoint;
use crate::http::cors::Cors;
use crate::http::response::no_store_json;
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use lambda_http::{Body, Response};

pub struct TokenEndpoint<const REFRESH_ONLY: bool> {
    issuer: TokenIssuer,
    cors: Cors,
}

pub type Token = TokenEndpoint<false>;
pub type Refresh = TokenEndpoint<true>;

impl<const REFRESH_ONLY: bool> TokenEndpoint<REFRESH_ONLY> {
    const GRANTS: &'static [GrantType] = if REFRESH_ONLY { REFRESH_ENDPOINT_GRANTS } else { SUPPORTED_GRANTS };
    const PATH: &'static str = if REFRESH_ONLY { REFRESH_PATH } else { TOKEN_PATH };
}

impl<const REFRESH_ONLY: bool> FromServices for TokenEndpoint<REFRESH_ONLY> {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { issuer: services.token_issuer(), cors: services.cors() })
    }
}

impl<const REFRESH_ONLY: bool> FormEndpoint for TokenEndpoint<REFRESH_ONLY> {
    type Output = TokenResponse;

    async fn call(&self, request: OAuthRequest) -> Result<TokenResponse, OAuthError> {
        self.issuer.token_for(&request, Self::GRANTS, Self::PATH).await
    }

    /// RFC 6749 §5.1.
    fn respond(&self, tokens: TokenResponse) -> Response<Body> {
        no_store_json(200, &tokens)
    }

    fn cors(&self) -> Option<&Cors> {
        Some(&self.cors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GrantType;
    use crate::testing::kit;

    /// GIVEN a client `app` and the API Gateway (payload 2.0) event of a token request,
    /// base64 body and all, as API Gateway delivers it.
    async fn endpoint() -> Token {
        let services = kit::services();
        let client = kit::client("app", &[GrantType::ClientCredentials], "read write");
        services.store().put_client(&client).await.unwrap();
        Token::from_services(&services).unwrap()
    }

    #[tokio::test]
    async fn api_gateway_event_gets_a_token_response() {
        let endpoint = endpoint().await;
        let request = lambda_http::request::from_str(include_str!("../../fixtures/apigw-token-request.json")).unwrap();
        // WHEN the endpoint serves it
        let response = crate::http::serve(&endpoint, request).await;
        // THEN a no-store token response with the requested scope
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!((body["token_type"].as_str(), body["scope"].as_str()), (Some("Bearer"), Some("read")));
    }

    #[tokio::test]
    async fn a_get_is_405_with_allow() {
        let endpoint = endpoint().await;
        let event = include_str!("../../fixtures/apigw-token-request.json").replace("\"POST\"", "\"GET\"");
        let response = crate::http::serve(&endpoint, lambda_http::request::from_str(&event).unwrap()).await;
        assert_eq!((response.status().as_u16(), response.headers()["allow"].to_str().unwrap()), (405, "POST"));
    }
}
