//! The stack's endpoints over HTTP, as a client would call them.

use crate::env::required_env;
use crate::seed::TestClient;

/// Where the stack under test lives.
pub struct Stack {
    pub base_url: String,
    pub issuer: String,
    pub http: reqwest::Client,
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            base_url: required_env("E2E_BASE_URL"),
            issuer: required_env("ISSUER"),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POST a raw body to an endpoint; returns status, headers and the JSON body (or Null).
    pub async fn post(&self, path: &str, request: Req<'_>) -> Reply {
        let mut builder = self.http.post(self.url(path));
        if let Some(ct) = request.content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(auth) = request.authorization {
            builder = builder.header("authorization", auth);
        }
        let response = builder.body(request.body.to_vec()).send().await.expect("the stack answers");
        Reply::read(response).await
    }

    /// POST a form with HTTP Basic client authentication.
    pub async fn post_form(&self, path: &str, client: &TestClient, form: &[(&str, &str)]) -> Reply {
        let body = encode_form(form);
        self.post(path, Req::form(&body).basic(&client.basic())).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::read(self.http.get(self.url(path)).send().await.expect("the stack answers")).await
    }

    /// One page of the revocation feed as `caller` reads it, after `cursor` if any.
    pub async fn revocations(&self, caller: &TestClient, cursor: Option<&str>) -> Reply {
        let query = cursor.map(|c| format!("?after={}", form_escape(c))).unwrap_or_default();
        let request =
            self.http.get(self.url(&format!("/oauth2/revocations{query}"))).header("authorization", caller.basic());
        Reply::read(request.send().await.expect("the stack answers")).await
    }

    /// Read the feed from `cursor` until a page holds no entries and says no `more`, as a
    /// reader does: every entry received, and the cursor to go on from.
    pub async fn read_feed(&self, caller: &TestClient, mut cursor: Option<String>) -> (Vec<serde_json::Value>, String) {
        let mut entries = Vec::new();
        for _ in 0..10_000 {
            let page = self.revocations(caller, cursor.as_deref()).await;
            assert_eq!(page.status, 200, "{}", page.json);
            let got = page.json["entries"].as_array().cloned().unwrap_or_default();
            cursor = Some(page.str("cursor").to_string());
            if got.is_empty() && page.json["more"] != true {
                return (entries, cursor.unwrap_or_default());
            }
            entries.extend(got);
        }
        panic!("the feed never ran out of entries");
    }
}

/// The payload of a JWT, unverified (the test knows where the token came from).
pub fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&form_escape(k));
        out.push('=');
        out.push_str(&form_escape(v));
    }
    out
}

pub(crate) fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Req<'a> {
    pub content_type: Option<&'a str>,
    pub authorization: Option<String>,
    pub body: &'a [u8],
}

impl<'a> Req<'a> {
    pub fn form(body: &'a str) -> Self {
        Self { content_type: Some("application/x-www-form-urlencoded"), authorization: None, body: body.as_bytes() }
    }
    pub fn raw(content_type: Option<&'a str>, body: &'a [u8]) -> Self {
        Self { content_type, authorization: None, body }
    }
    pub fn basic(mut self, header: &str) -> Self {
        self.authorization = Some(header.to_string());
        self
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Self { status, headers, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn str(&self, field: &str) -> &str {
        self.json[field].as_str().unwrap_or_else(|| panic!("no string {field} in {}", self.json))
    }
}

impl Stack {
    /// The stack whose DynamoDB the outage tests stop.
    pub fn outage_from_env() -> Self {
        Self {
            base_url: required_env("OUTAGE_BASE_URL"),
            issuer: required_env("OUTAGE_BASE_URL"),
            http: reqwest::Client::new(),
        }
    }

    /// RFC 7662 introspection as `caller`.
    pub async fn introspect(&self, caller: &TestClient, token: &str) -> Reply {
        self.post_form("/oauth2/introspect", caller, &[("token", token)]).await
    }

    /// RFC 7009 revocation as `caller`, with an optional hint.
    pub async fn revoke(&self, caller: &TestClient, token: &str, hint: Option<&str>) -> Reply {
        let mut form = vec![("token", token)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        self.post_form("/oauth2/revoke", caller, &form).await
    }

    pub async fn userinfo(&self, bearer: Option<&str>) -> Reply {
        self.userinfo_with(bearer.map(|token| format!("Bearer {token}")).as_deref()).await
    }

    /// `GET /userinfo` with this `Authorization` header, whatever it holds.
    pub async fn userinfo_with(&self, authorization: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url("/userinfo"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        Reply::read(request.send().await.expect("the stack answers")).await
    }

    /// Invoke the authorizer function with an API Gateway (payload 2.0) authorizer event,
    /// through the Lambda invoke API that `cargo lambda invoke` uses.
    pub async fn authorize(&self, authorization: Option<&str>) -> Reply {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../shared/fixtures/authorizer-event.json")).expect("fixture");
        match authorization {
            Some(value) => {
                event["identitySource"] = serde_json::json!([value]);
                event["headers"]["authorization"] = serde_json::json!(value);
            }
            None => {
                event.as_object_mut().expect("object").remove("identitySource");
                event["headers"].as_object_mut().expect("headers").remove("authorization");
            }
        }
        let url = self.url("/2015-03-31/functions/authorizer/invocations");
        Reply::read(self.http.post(url).json(&event).send().await.expect("the stack answers")).await
    }
}

impl Stack {
    pub async fn logout(&self, caller: &TestClient, form: &[(&str, &str)]) -> Reply {
        self.post_form("/oauth2/logout", caller, form).await
    }

    /// Run `logout-retry` once, as its schedule would, through the Lambda invoke API.
    pub async fn run_logout_retry(&self) -> Reply {
        let url = self.url("/2015-03-31/functions/logout-retry/invocations");
        Reply::read(self.http.post(url).json(&serde_json::json!({})).send().await.expect("the stack answers")).await
    }
}
