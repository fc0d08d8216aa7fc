//! The browser's cookies: the single sign-on session, and the CSRF token of each pending
//! sign-in or sign-out form. On https every cookie is `Secure` and `__Host-` prefixed
//! (bound to this host, path `/`, never set by a subdomain); all are `HttpOnly` and
//! `SameSite=Lax`, so that a cross-site POST never carries them.

use std::collections::HashMap;

/// The cookies a request carries (the `Cookie` headers; API Gateway passes its
/// `cookies` array as one).
#[derive(Default)]
pub struct Cookies(HashMap<String, String>);

/// Names only: the values are session secrets and CSRF tokens.
impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Cookies {
    pub fn parse<'a>(headers: impl IntoIterator<Item = &'a str>) -> Self {
        let mut cookies = HashMap::new();
        for header in headers {
            for pair in header.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    // The first of a repeated name wins, as browsers send the most specific first.
                    cookies.entry(name.trim().to_string()).or_insert_with(|| value.trim().to_string());
                }
            }
        }
        Self(cookies)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The names of the cookies that start with `prefix`.
    pub fn named_like<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.0.keys().map(String::as_str).filter(move |name| name.starts_with(prefix))
    }
}

/// How this deployment names and flags its cookies: by its issuer's scheme.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    pub fn for_issuer(issuer: &str) -> Self {
        Self { secure: issuer.starts_with("https://") }
    }

    fn name(&self, base: &str) -> String {
        if self.secure { format!("__Host-{base}") } else { base.to_string() }
    }

    /// The single sign-on session: `<sid>.<secret>`.
    pub fn session(&self) -> String {
        self.name("session")
    }

    /// The CSRF token of one pending sign-in (one per request, so tabs do not clash).
    pub fn sign_in(&self, request_id: &str) -> String {
        self.name(&format!("signin-{request_id}"))
    }

    /// The CSRF token of the sign-out confirmation.
    pub fn sign_out(&self) -> String {
        self.name("signout")
    }

    pub fn set(&self, name: String, value: &str, max_age: u64) -> SetCookie {
        SetCookie { header: self.render(&name, value, max_age) }
    }

    pub fn clear(&self, name: String) -> SetCookie {
        SetCookie { header: self.render(&name, "", 0) }
    }

    fn render(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

/// One `Set-Cookie` header value.
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub header: String,
}

/// The cookie's name only: its value may be a session secret or a CSRF token.
impl std::fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.header.split('=').next().unwrap_or_default();
        f.debug_struct("SetCookie").field("name", &name).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_cookies_are_host_bound_secure_http_only_and_lax() {
        let policy = CookiePolicy::for_issuer("https://auth.example.com");
        let cookie = policy.set(policy.session(), "sid.secret", 60);
        assert_eq!(cookie.header, "__Host-session=sid.secret; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        let local = CookiePolicy::for_issuer("http://127.0.0.1:9000");
        assert_eq!(local.clear(local.session()).header, "session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }

    #[test]
    fn cookie_headers_are_read_pair_by_pair() {
        let cookies = Cookies::parse(["a=1; session=s.x", "b = 2", "a=ignored"]);
        assert_eq!((cookies.get("a"), cookies.get("session"), cookies.get("b")), (Some("1"), Some("s.x"), Some("2")));
        assert_eq!(cookies.get("c"), None);
    }
}
