//! API Gateway events made safe for lambda_http's conversion to a request. The
//! conversion builds the request URI from the raw query string and the `Host` and
//! `X-Forwarded-Proto` headers, and panics on what a URI may not hold ("failed to build
//! request"). A client can send some of it through API Gateway (a raw `"`, `<` or `>` in
//! the query), and with `panic = "abort"` one such request would end the instance for
//! everyone it serves. So, before the conversion: the query's other bytes are
//! percent-encoded (which form decoding reads back as the same characters), and a `Host`
//! or `X-Forwarded-Proto` that could not be part of a URL is dropped (the request then
//! takes API Gateway's own domain name, as it does without the header).

use lambda_http::Request;
use lambda_http::http::header::HOST;
use lambda_http::request::LambdaRequest;

/// Decode an event as the runtime does (`lambda_http::run`), made convertible first.
pub fn decode(text: &str) -> Result<Request, serde_json::Error> {
    let mut event: LambdaRequest = serde_json::from_str(text)?;
    make_convertible(&mut event);
    Ok(event.into())
}

pub fn make_convertible(event: &mut LambdaRequest) {
    let LambdaRequest::ApiGatewayV2(request) = event else { return };
    if let Some(query) = &mut request.raw_query_string {
        *query = escape_query(query);
    }
    let headers = &mut request.headers;
    let host_ok = headers.get(HOST).is_none_or(|host| {
        host.to_str().is_ok_and(|h| url::Url::parse(&format!("https://{h}/")).is_ok_and(|u| u.host_str().is_some()))
    });
    if !host_ok {
        headers.remove(HOST);
    }
    let proto_ok = headers.get("x-forwarded-proto").is_none_or(|p| matches!(p.to_str(), Ok("http" | "https")));
    if !proto_ok {
        headers.remove("x-forwarded-proto");
    }
}

/// RFC 3986 `query` characters stay as they are (`%` too, escaped or not); every other
/// byte is percent-encoded.
fn escape_query(query: &str) -> String {
    let mut escaped = String::with_capacity(query.len());
    for byte in query.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(query: &str, host: &str, proto: &str) -> String {
        serde_json::json!({
            "version": "2.0", "routeKey": "GET /userinfo", "rawPath": "/userinfo", "rawQueryString": query,
            "headers": { "host": host, "x-forwarded-proto": proto },
            "requestContext": { "accountId": "1", "apiId": "a", "domainName": "a.example.com", "domainPrefix": "a",
                "http": { "method": "GET", "path": "/userinfo", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1",
                          "userAgent": "t" },
                "requestId": "r", "routeKey": "GET /userinfo", "stage": "$default", "time": "", "timeEpoch": 0 },
            "isBase64Encoded": false
        })
        .to_string()
    }

    /// Each of these made lambda_http panic before any code of ours ran.
    #[test]
    fn what_a_uri_cannot_hold_is_escaped_or_dropped_instead_of_panicking() {
        for (query, host, proto) in [
            ("a=\"x\"", "a.example.com", "https"),
            ("a=<b>&c= d", "a.example.com", "https"),
            ("a=\u{1}\u{7f}é", "a.example.com", "https"),
            ("", "bad host<>", "https"),
            ("", "a.example.com", "not a scheme"),
        ] {
            let request = decode(&event(query, host, proto)).expect("decodes");
            assert_eq!(request.uri().path(), "/userinfo", "{query:?} {host:?} {proto:?}");
        }
        let request = decode(&event("a=%22x%22&b=<y>", "a.example.com", "https")).unwrap();
        assert_eq!(request.uri().query(), Some("a=%22x%22&b=%3Cy%3E"), "escapes stay, new ones read back the same");
    }
}
