//! The Content-Security-Policy of each page: nothing but the shared style sheet (by its
//! hash), `data:` images (the tab icon), and form posts to this origin plus the places
//! the post may redirect to.

use std::sync::LazyLock;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::html::STYLE;

/// `'sha256-…'` of the exact text of the `<style>` element, computed once.
static STYLE_SOURCE: LazyLock<String> = LazyLock::new(|| {
    let hash = digest::digest(&digest::SHA256, STYLE.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(hash.as_ref()))
});

/// The policy of a page. `form_targets` is `None` for a page without a form
/// (`form-action 'none'`), else the redirect targets a post may lead to, added after
/// `'self'` once each, those that are not a plain origin or private-use scheme dropped.
pub(super) fn policy(form_targets: Option<&[String]>) -> String {
    let mut policy = format!("default-src 'none'; style-src {}; img-src data:; form-action", *STYLE_SOURCE);
    match form_targets {
        None => policy.push_str(" 'none'"),
        Some(targets) => {
            policy.push_str(" 'self'");
            let mut kept: Vec<&str> = Vec::with_capacity(targets.len());
            for target in targets.iter().map(String::as_str).filter(|t| is_redirect_target(t)) {
                if !kept.iter().any(|k| k.eq_ignore_ascii_case(target)) {
                    kept.push(target);
                    policy.push(' ');
                    policy.push_str(target);
                }
            }
        }
    }
    policy.push_str("; frame-ancestors 'none'; base-uri 'none'");
    policy
}

/// Whether `target` may go into `form-action`: an `http` or `https` origin
/// (`scheme://host[:port]`, no path, no user info, no wildcard host, no IPv6 literal,
/// which a CSP source cannot name; the port may be `*`, for loopback redirects of native
/// apps), or a private-use URI scheme of a native app written `scheme:` (RFC 8252 §7.1:
/// reverse domain name, so it must contain a dot; this keeps out `javascript:`,
/// `data:`, `blob:`, `http:`…). Anything else (a quote, a `;`, a space, a keyword) is
/// refused, so a target can never end the directive or add a keyword.
pub(super) fn is_redirect_target(target: &str) -> bool {
    if let Some((scheme, authority)) = target.split_once("://") {
        return (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
            && is_host_and_port(authority);
    }
    target.strip_suffix(':').is_some_and(is_private_use_scheme)
}

/// `host[:port]`: host-chars (letters, digits, `-`) in non-empty dot-separated labels;
/// port 1–65535 in digits, or `*`.
fn is_host_and_port(authority: &str) -> bool {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|port| {
        port == "*"
            || (port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0))
    });
    port_ok && host.len() <= 253 && labels_ok(host)
}

/// A reverse-domain scheme such as `com.example.app`: starts with a letter, two or more
/// non-empty labels of letters, digits and `-`.
fn is_private_use_scheme(scheme: &str) -> bool {
    scheme.len() <= 253
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.contains('.')
        && labels_ok(scheme)
}

fn labels_ok(name: &str) -> bool {
    name.split('.').all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}
