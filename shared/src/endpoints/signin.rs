//! The browser-facing endpoints: `GET|POST /oauth2/authorize` (the authorization request,
//! and the login form posted back) and `GET|POST /oauth2/end_session` (RP-initiated
//! logout). Their answers are redirects and pages, never JSON.

use super::FromServices;
use crate::http::{Endpoint, ToResponse};
use crate::oauth::{OAuthError, OAuthRequest};
use crate::services::{InitError, Services};
use crate::signin::cookies::Cookies;
use crate::signin::{Answer, SignIn};
use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};

/// What a browser sent: its parameters (the query of a GET, the form of a POST) and
/// its cookies.
pub struct BrowserRequest {
    pub posted: bool,
    pub params: Result<OAuthRequest, OAuthError>,
    pub cookies: Cookies,
}

fn browser_request(req: &Request) -> BrowserRequest {
    let posted = req.method() == Method::POST;
    let params = if posted {
        crate::http::response::oauth_request(req)
    } else {
        let query = req.uri().query().unwrap_or_default();
        OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, query.as_bytes())
    };
    let cookies = Cookies::parse(req.headers().get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()));
    BrowserRequest { posted, params, cookies }
}

impl ToResponse for Answer {
    fn to_response(&self) -> Response<Body> {
        let (status, body, cookies) = match self {
            Answer::Redirect { cookies, .. } => (303, Body::Empty, cookies),
            Answer::Page { status, page, cookies } => (*status, Body::Text(page.html.clone()), cookies),
        };
        let mut response = Response::new(body);
        *response.status_mut() = lambda_http::http::StatusCode::from_u16(status).unwrap_or_default();
        let headers = response.headers_mut();
        // Codes, CSRF tokens and signed-in state: never cached.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        match self {
            Answer::Redirect { location, .. } => {
                if let Ok(value) = HeaderValue::from_str(location) {
                    headers.insert(LOCATION, value);
                }
            }
            Answer::Page { page, .. } => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
                if let Ok(value) = HeaderValue::from_str(&page.content_security_policy) {
                    headers.insert("content-security-policy", value);
                }
                headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
            }
        }
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie.header) {
                headers.append(SET_COOKIE, value);
            }
        }
        response
    }
}

/// `GET|POST /oauth2/authorize`.
pub struct Authorize {
    sign_in: SignIn,
}

impl FromServices for Authorize {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { sign_in: services.sign_in()? })
    }
}

impl Endpoint for Authorize {
    type Input = BrowserRequest;
    type Output = Answer;
    type Error = Answer;
    const METHODS: &'static [Method] = &[Method::GET, Method::POST];

    fn parse(&self, req: &Request) -> Result<BrowserRequest, Answer> {
        Ok(browser_request(req))
    }

    async fn call(&self, input: BrowserRequest) -> Result<Answer, Answer> {
        // The login form posts back its pending request's id; anything else is an
        // authorization request (OIDC Core §3.1.2.1 allows a POST too).
        let login = input.posted
            && input.params.as_ref().is_ok_and(|p| p.param("request").is_some() && p.param("client_id").is_none());
        Ok(match (login, &input.params) {
            (true, Ok(form)) => self.sign_in.login(form, &input.cookies).await,
            _ => self.sign_in.authorize(input.params, &input.cookies).await,
        })
    }

    fn respond(&self, answer: Answer) -> Response<Body> {
        answer.to_response()
    }
}

/// `GET|POST /oauth2/end_session`.
pub struct EndSession {
    sign_in: SignIn,
}

impl FromServices for EndSession {
    fn from_services(services: &Services) -> Result<Self, InitError> {
        Ok(Self { sign_in: services.sign_in()? })
    }
}

impl Endpoint for EndSession {
    type Input = BrowserRequest;
    type Output = Answer;
    type Error = Answer;
    const METHODS: &'static [Method] = &[Method::GET, Method::POST];

    fn parse(&self, req: &Request) -> Result<BrowserRequest, Answer> {
        Ok(browser_request(req))
    }

    async fn call(&self, input: BrowserRequest) -> Result<Answer, Answer> {
        Ok(self.sign_in.end_session(input.params, input.posted, &input.cookies).await)
    }

    fn respond(&self, answer: Answer) -> Response<Body> {
        answer.to_response()
    }
}
