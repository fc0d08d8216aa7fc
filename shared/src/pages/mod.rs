//! The server-rendered pages of browser sign-in: the login form, the logout
//! confirmation, and the pages that end a flow (signed out, an error that must not
//! redirect). Plain HTML that works without JavaScript, with no external asset; each
//! page comes with the Content-Security-Policy it needs and nothing more.
//!
//! The view models below are what the `authorize` and `end_session` endpoints pass;
//! each has a `render(&self) -> Page`. Every page is one document (`html`) with one
//! inline style sheet (`style.css`, shared, so one hash), an inline SVG mark and a
//! `data:` tab icon, and no script. Every interpolated value is escaped ([`escape`]).
//! The policy (`csp`):
//!
//! ```text
//! default-src 'none'; style-src 'sha256-…'; img-src data:; form-action <…>;
//! frame-ancestors 'none'; base-uri 'none'
//! ```
//!
//! where `form-action` is `'self'` and the page's redirect targets on the two pages with
//! a form (a target that is not an `http(s)` origin or a reverse-domain `scheme:` is
//! dropped), and `'none'` on the others.

mod csp;
mod html;
mod views;

#[cfg(test)]
mod tests;

pub use html::escape;

/// A rendered page: the HTML document and the exact CSP header value that allows it.
pub struct Page {
    /// The whole document, UTF-8 (`Content-Type: text/html; charset=utf-8`).
    pub html: String,
    /// The `Content-Security-Policy` header value to send with it.
    pub content_security_policy: String,
}

/// The login form of a pending authorization request.
pub struct LoginForm<'a> {
    /// The client's display name (`tokenctl client add … --name`), else its id.
    pub client_name: &'a str,
    /// Where the form posts (the authorize endpoint's URL path).
    pub action: &'a str,
    /// The pending request's id (a hidden field).
    pub request_id: &'a str,
    /// The CSRF token (a hidden field; the same value is in a cookie).
    pub csrf: &'a str,
    /// Prefilled username (`login_hint`, or what was typed before a failed attempt).
    pub username: &'a str,
    /// One generic message after a failed attempt, or a throttling message.
    pub error: Option<&'a str>,
    /// Origins (or `scheme:` for native apps) the browser may be sent to after the form
    /// is posted: the client's redirect URI. Chrome applies `form-action` to the redirect
    /// that follows a form post, so the CSP must allow it.
    pub redirect_targets: &'a [String],
}

/// "Sign out of <client>?" — asked when a logout request carries no valid
/// `id_token_hint`, so that a cross-site request cannot sign anyone out.
pub struct LogoutConfirm<'a> {
    /// The display name of the client that asked, if it is known.
    pub client_name: Option<&'a str>,
    /// Where the form posts (the end-session endpoint's URL path).
    pub action: &'a str,
    /// The CSRF token (a hidden field; the same value is in a cookie).
    pub csrf: &'a str,
    /// Hidden fields carried to the confirmation POST.
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    /// As in [`LoginForm::redirect_targets`]: where the confirmation POST may redirect
    /// (the `post_logout_redirect_uri`'s origin).
    pub redirect_targets: &'a [String],
}

/// Shown after a logout that has nowhere to redirect.
pub struct SignedOut;

/// An error that must not go back to the client: an unknown client, or a redirect URI
/// that is not registered (redirecting there would make an open redirector).
pub struct ErrorPage<'a> {
    /// The `<title>` and the heading (plain text).
    pub title: &'a str,
    /// One paragraph (plain text).
    pub message: &'a str,
}
