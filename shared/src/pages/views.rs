//! `render` of each view model: the card's HTML (every interpolated value escaped, every
//! attribute double-quoted) in the shared document, with the page's policy.

use std::fmt::Write as _;

use super::html::{document, escape};
use super::{ErrorPage, LoginForm, LogoutConfirm, Page, SignedOut, csp};

/// A hidden form field.
fn hidden(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
}

impl LoginForm<'_> {
    /// The sign-in form: username (prefilled) and password, the pending request and the
    /// CSRF token as hidden fields, the error (if any) as an alert both inputs refer to.
    /// The first empty field has the focus.
    pub fn render(&self) -> Page {
        let mut main = String::with_capacity(2048);
        let _ = writeln!(main, "<h1>Sign in</h1>\n<p>to continue to <b>{}</b></p>", escape(self.client_name));
        let described_by = match self.error {
            Some(error) => {
                let _ = writeln!(main, "<p class=\"alert\" id=\"error\" role=\"alert\">{}</p>", escape(error));
                " aria-describedby=\"error\""
            }
            None => "",
        };
        let (username_focus, password_focus) =
            if self.username.is_empty() { (" autofocus", "") } else { ("", " autofocus") };
        let _ = writeln!(main, "<form method=\"post\" action=\"{}\">", escape(self.action));
        hidden(&mut main, "request", self.request_id);
        hidden(&mut main, "csrf", self.csrf);
        let _ = write!(
            main,
            "<label for=\"username\">Username</label>\n\
             <input id=\"username\" name=\"username\" type=\"text\" value=\"{username}\" autocomplete=\"username\" \
             autocapitalize=\"none\" spellcheck=\"false\" required{described_by}{username_focus}>\n\
             <label for=\"password\">Password</label>\n\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
             required{described_by}{password_focus}>\n\
             <button type=\"submit\">Sign in</button>\n\
             </form>\n",
            username = escape(self.username),
        );
        // An error in the title too: a screen reader reads the title when the page loads,
        // where an alert present from the start may not be announced.
        let title = match self.error {
            Some(_) => format!("Error: Sign in to {}", self.client_name),
            None => format!("Sign in to {}", self.client_name),
        };
        Page { html: document(&title, &main), content_security_policy: csp::policy(Some(self.redirect_targets)) }
    }
}

impl LogoutConfirm<'_> {
    /// "Sign out?": the logout request's parameters and the CSRF token as hidden fields,
    /// and two submit buttons, `confirm=yes` (first, the primary) and `confirm=no`.
    pub fn render(&self) -> Page {
        let mut main = String::with_capacity(1024);
        main.push_str("<h1>Sign out?</h1>\n");
        let _ = match self.client_name {
            Some(name) => writeln!(
                main,
                "<p><b>{}</b> asked to sign you out. This ends your session on this device.</p>",
                escape(name)
            ),
            None => writeln!(main, "<p>An app asked to sign you out. This ends your session on this device.</p>"),
        };
        let _ = writeln!(main, "<form method=\"post\" action=\"{}\">", escape(self.action));
        hidden(&mut main, "csrf", self.csrf);
        for (name, value) in [
            ("client_id", self.client_id),
            ("post_logout_redirect_uri", self.post_logout_redirect_uri),
            ("state", self.state),
        ] {
            if let Some(value) = value {
                hidden(&mut main, name, value);
            }
        }
        main.push_str(
            "<button type=\"submit\" name=\"confirm\" value=\"yes\">Sign out</button>\n\
             <button type=\"submit\" name=\"confirm\" value=\"no\" class=\"secondary\">Stay signed in</button>\n\
             </form>\n",
        );
        let title = match self.client_name {
            Some(name) => format!("Sign out of {name}?"),
            None => "Sign out?".to_owned(),
        };
        Page { html: document(&title, &main), content_security_policy: csp::policy(Some(self.redirect_targets)) }
    }
}

impl SignedOut {
    /// "You are signed out", with nothing to click.
    pub fn render(&self) -> Page {
        let main = "<h1>You are signed out</h1>\n<p>You can close this window.</p>\n";
        Page { html: document("Signed out", main), content_security_policy: csp::policy(None) }
    }
}

impl ErrorPage<'_> {
    /// The title as heading and the message, with no link anywhere.
    pub fn render(&self) -> Page {
        let main = format!("<h1>{}</h1>\n<p>{}</p>\n", escape(self.title), escape(self.message));
        Page { html: document(self.title, &main), content_security_policy: csp::policy(None) }
    }
}
