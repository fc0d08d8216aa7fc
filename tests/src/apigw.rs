//! API Gateway events as API Gateway sends them to a function: HTTP API requests (payload
//! format 2.0), Lambda authorizer requests, and the decoding of a function's HTTP answer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";

/// A payload 2.0 HTTP API request event. `path` may carry a query string.
pub fn http_event(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut header_map = serde_json::Map::new();
    header_map.insert("host".into(), json!(HOST));
    for (name, value) in headers {
        header_map.insert(name.to_ascii_lowercase(), json!(value));
    }
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {raw_path}"),
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": HOST, "domainPrefix": "abc123",
            "http": { "method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                      "userAgent": "contract-test" },
            "requestId": "contract", "routeKey": format!("{method} {raw_path}"), "stage": "$default",
            "time": "29/Nov/2026:03:00:00 +0000", "timeEpoch": 1795921200000u64
        },
        // As API Gateway does for form bodies: base64.
        "body": STANDARD.encode(body),
        "isBase64Encoded": true,
    })
}

/// A Lambda authorizer request (payload 2.0) for `GET /orders` with this Authorization.
pub fn authorizer_event(authorization: Option<&str>) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../shared/fixtures/authorizer-event.json")).expect("fixture");
    match authorization {
        Some(value) => {
            event["identitySource"] = json!([value]);
            event["headers"]["authorization"] = json!(value);
        }
        None => {
            event.as_object_mut().expect("object").remove("identitySource");
            event["headers"].as_object_mut().expect("headers").remove("authorization");
        }
    }
    event
}

/// A function's HTTP answer as API Gateway would forward it.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Value,
    pub body: String,
    /// The `Set-Cookie` values (payload 2.0 answers carry them apart, as `cookies`).
    pub cookies: Vec<String>,
}

impl HttpAnswer {
    pub fn from_lambda(answer: &Value) -> Self {
        let raw = answer["body"].as_str().unwrap_or_default();
        let body = if answer["isBase64Encoded"] == true {
            String::from_utf8(STANDARD.decode(raw).expect("base64 body")).expect("utf-8 body")
        } else {
            raw.to_string()
        };
        Self {
            status: answer["statusCode"].as_u64().expect("statusCode") as u16,
            headers: answer["headers"].clone(),
            body,
            cookies: answer["cookies"]
                .as_array()
                .map(|all| all.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers[name].as_str()
    }
}
