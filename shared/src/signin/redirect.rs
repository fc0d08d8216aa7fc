//! Where the browser goes back to the client: the registered redirect URI, with the
//! response in its query (`response_mode=query`), and the issuer's `iss` (RFC 9207).

use url::Url;

/// `uri` with `params` added to its query (the registered URI's own query is kept, RFC
/// 6749 §3.1.2). `None` if `uri` is not a URL, which registration rules out.
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = Url::parse(uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    Some(url.to_string())
}

/// What a page's `form-action` must allow for the browser to be sent on to `uri` after
/// the form is posted: its origin, or its scheme for a native app's private-use URI.
pub fn target_of(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    match url.scheme() {
        "https" | "http" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_added_to_the_registered_query() {
        let uri = with_params("https://app.example.com/cb?tenant=a", &[("code", "c d"), ("state", "s&t")]).unwrap();
        assert_eq!(uri, "https://app.example.com/cb?tenant=a&code=c+d&state=s%26t");
        assert_eq!(with_params("com.example.app:/cb", &[("code", "x")]).unwrap(), "com.example.app:/cb?code=x");
    }

    #[test]
    fn targets_are_origins_or_private_schemes() {
        assert_eq!(target_of("https://app.example.com:8443/cb?x=1").as_deref(), Some("https://app.example.com:8443"));
        assert_eq!(target_of("com.example.app:/cb").as_deref(), Some("com.example.app:"));
    }
}
