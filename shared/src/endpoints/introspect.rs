//! `POST /oauth2/introspect` (RFC 7662; RFC 9701 for a signed answer).

use super::FromServices;
use crate::http::FormEndpoint;
use crate::http::response::{no_store_json, no_store_jwt};
use crate::introspection::{Introspection, Introspector};
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use crate::tokens::introspection::INTROSPECTION_JWT_MEDIA_TYPE;
use lambda_http::{Body, Response};

pub struct Introspect {
    introspector: Introspector,
}

impl FromServices for Introspect {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { introspector: services.introspector() })
    }
}

impl FormEndpoint for Introspect {
    type Output = Introspection;

    async fn call(&self, request: OAuthRequest) -> Result<Introspection, OAuthError> {
        self.introspector.answer(&request).await
    }

    fn respond(&self, answer: Introspection) -> Response<Body> {
        match answer {
            Introspection::Json(answer) => no_store_json(200, &answer),
            Introspection::Jwt(jwt) => no_store_jwt(INTROSPECTION_JWT_MEDIA_TYPE, jwt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::kit;
    use lambda_http::http::Request;

    /// GIVEN the client `svc` and the HTTP request of `svc` asking about `token`.
    async fn served(accept: Option<&str>) -> (Response<Body>, Vec<u8>) {
        let services = kit::services();
        services.store().put_client(&kit::client("svc", &[], "read")).await.unwrap();
        let body = format!("client_id=svc&client_secret={}&token=not-a-token", kit::CLIENT_SECRET);
        let mut request = Request::builder()
            .method("POST")
            .uri("/oauth2/introspect")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let endpoint = Introspect::from_services(&services).unwrap();
        let response = crate::http::serve(&endpoint, request.body(Body::Text(body)).unwrap()).await;
        let bytes = response.body().to_vec();
        (response, bytes)
    }

    #[tokio::test]
    async fn the_accept_header_reaches_the_answer_as_a_no_store_jwt() {
        let (response, body) = served(Some("application/token-introspection+jwt")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/token-introspection+jwt");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(String::from_utf8(body).unwrap().split('.').count(), 3, "a compact JWS");
    }

    #[tokio::test]
    async fn without_it_the_json_answer_is_byte_for_byte_the_rfc_7662_one() {
        for accept in [None, Some("application/json"), Some("*/*")] {
            let (response, body) = served(accept).await;
            assert_eq!(response.headers()["content-type"], "application/json", "{accept:?}");
            assert_eq!(body, br#"{"active":false}"#, "{accept:?}");
        }
    }
}
