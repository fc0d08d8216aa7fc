use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::csp::is_redirect_target;
use super::*;

const TARGETS: [&str; 2] = ["https://app.example.com", "com.example.app:"];

fn targets(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn login<'a>(username: &'a str, error: Option<&'a str>, redirect_targets: &'a [String]) -> LoginForm<'a> {
    LoginForm {
        client_name: "Shop",
        action: "/oauth2/authorize",
        request_id: "req-123",
        csrf: "csrf-456",
        username,
        error,
        redirect_targets,
    }
}

fn logout(redirect_targets: &[String]) -> LogoutConfirm<'_> {
    LogoutConfirm {
        client_name: Some("Shop"),
        action: "/oauth2/end_session",
        csrf: "csrf-456",
        client_id: Some("shop"),
        post_logout_redirect_uri: Some("https://app.example.com/bye"),
        state: Some("st-789"),
        redirect_targets,
    }
}

/// One of each page, and the login form with an error.
fn all_pages() -> Vec<(&'static str, Page)> {
    let t = targets(&TARGETS);
    vec![
        ("login", login("", None, &t).render()),
        ("login-error", login("alice", Some("Incorrect username or password."), &t).render()),
        ("logout", logout(&t).render()),
        ("signed-out", SignedOut.render()),
        (
            "error",
            ErrorPage {
                title: "Unknown application",
                message: "This sign-in link is not valid. Go back to the app and try again.",
            }
            .render(),
        ),
    ]
}

/// The directive `name` of a policy, without its name.
fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy.split(';').map(str::trim).find_map(|d| d.strip_prefix(name)?.strip_prefix(' '))
}

/// The text of the one `<style>` element.
fn style_text(html: &str) -> &str {
    assert_eq!(html.matches("<style").count(), 1, "one style element");
    let start = html.find("<style>").expect("a bare <style> tag") + "<style>".len();
    let end = start + html[start..].find("</style>").expect("closed");
    &html[start..end]
}

/// Every start tag's attributes: names, and values that are always double-quoted.
fn assert_attributes_double_quoted(html: &str) {
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let tag_start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None => panic!("unclosed tag at {tag_start}"),
                    Some(b'>') => break,
                    Some(b'=') => {
                        assert_eq!(bytes.get(i + 1), Some(&b'"'), "unquoted value in {}", &html[tag_start..i + 1]);
                        let close = html[i + 2..].find('"').expect("closing quote");
                        let value = &html[i + 2..i + 2 + close];
                        assert!(!value.contains(['<', '>', '\'']), "unescaped value {value:?}");
                        i += 2 + close;
                    }
                    Some(b'"' | b'\'') => panic!("stray quote in {}", &html[tag_start..=i]),
                    Some(_) => {}
                }
                i += 1;
            }
        }
        i += 1;
    }
}

#[test]
fn escape_replaces_the_five_characters() {
    assert_eq!(
        escape(r#"<a href="x" title='y'>&amp;</a>"#),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
    );
    assert_eq!(escape("Ünïcödé — 漢字 ✓"), "Ünïcödé — 漢字 ✓");
    assert_eq!(escape("tail&"), "tail&amp;");
    assert_eq!(escape(""), "");
    assert!(matches!(escape("plain text"), std::borrow::Cow::Borrowed("plain text")));
}

#[test]
fn every_interpolated_value_is_escaped() {
    let payload = |field: &str| format!("\"'><script>alert('{field}')</script>&");
    let escaped = |field: &str| format!("&quot;&#39;&gt;&lt;script&gt;alert(&#39;{field}&#39;)&lt;/script&gt;&amp;");
    let (client, action, request, csrf, user, error) =
        (payload("client"), payload("action"), payload("request"), payload("csrf"), payload("user"), payload("error"));
    let login = LoginForm {
        client_name: &client,
        action: &action,
        request_id: &request,
        csrf: &csrf,
        username: &user,
        error: Some(&error),
        redirect_targets: &[],
    }
    .render();
    let (client_id, uri, state) = (payload("client_id"), payload("uri"), payload("state"));
    let logout = LogoutConfirm {
        client_name: Some(&client),
        action: &action,
        csrf: &csrf,
        client_id: Some(&client_id),
        post_logout_redirect_uri: Some(&uri),
        state: Some(&state),
        redirect_targets: &[],
    }
    .render();
    let (title, message) = (payload("title"), payload("message"));
    let error_page = ErrorPage { title: &title, message: &message }.render();
    let cases = [
        (&login, &["client", "action", "request", "csrf", "user", "error"][..]),
        (&logout, &["client", "action", "csrf", "client_id", "uri", "state"][..]),
        (&error_page, &["title", "message"][..]),
    ];
    for (page, fields) in cases {
        for field in fields {
            assert!(page.html.contains(&escaped(field)), "{field} not escaped in\n{}", page.html);
            assert!(!page.html.contains(&payload(field)), "{field} raw in\n{}", page.html);
        }
        assert!(!page.html.to_ascii_lowercase().contains("<script"));
        assert_attributes_double_quoted(&page.html);
    }
}

#[test]
fn the_policy_allows_exactly_the_inline_style() {
    let mut sources = Vec::new();
    for (name, page) in all_pages() {
        let text = style_text(&page.html);
        let hash = STANDARD.encode(digest::digest(&digest::SHA256, text.as_bytes()).as_ref());
        let style_src = directive(&page.content_security_policy, "style-src").expect("style-src");
        assert_eq!(style_src, format!("'sha256-{hash}'"), "{name}");
        assert!(!page.html.contains(" style=\""), "{name}: no style attribute (the hash does not allow it)");
        sources.push(style_src.to_owned());
    }
    sources.dedup();
    assert_eq!(sources.len(), 1, "one style sheet, one hash");
}

#[test]
fn no_script_and_no_external_asset() {
    for (name, page) in all_pages() {
        let html = page.html.to_ascii_lowercase();
        for banned in ["<script", "javascript:", "src=", "@import", "url(", "<iframe", "<object", "<embed", "<a "] {
            assert!(!html.contains(banned), "{name} contains {banned:?}");
        }
        // No event handler attribute (`onload="…"`, …).
        assert!(!html.split_ascii_whitespace().any(|w| w.starts_with("on") && w.contains("=\"")), "{name}");
        for link in html.split("<link").skip(1) {
            assert!(link.starts_with(" rel=\"icon\" href=\"data:image/svg+xml;base64,"), "{name}: {link}");
        }
        assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{name}");
        assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>") && html.contains("</title>"));
        assert_attributes_double_quoted(&page.html);
    }
}

#[test]
fn each_policy_is_strict() {
    for (name, page) in all_pages() {
        let policy = &page.content_security_policy;
        let names: Vec<&str> = policy.split("; ").map(|d| d.split(' ').next().unwrap_or_default()).collect();
        assert_eq!(
            names,
            ["default-src", "style-src", "img-src", "form-action", "frame-ancestors", "base-uri"],
            "{name}: {policy}"
        );
        assert_eq!(directive(policy, "default-src"), Some("'none'"));
        assert_eq!(directive(policy, "img-src"), Some("data:"));
        assert_eq!(directive(policy, "frame-ancestors"), Some("'none'"));
        assert_eq!(directive(policy, "base-uri"), Some("'none'"));
        assert!(!policy.contains("unsafe") && !policy.contains('*') && !policy.contains("script"), "{policy}");
        let form_action = directive(policy, "form-action").expect("form-action");
        let has_form = page.html.contains("<form");
        let expected = if has_form { "'self' https://app.example.com com.example.app:" } else { "'none'" };
        assert_eq!(form_action, expected, "{name}");
    }
}

#[test]
fn junk_redirect_targets_are_dropped() {
    let junk = targets(&[
        "https://a.example.com; script-src *",
        "javascript:alert(1)",
        "javascript:",
        "'self'",
        "https://app.example.com",
        "com.example.app:",
        "https://app.example.com",
        "data:",
        "*",
        "https:",
    ]);
    for page in [login("", None, &junk).render(), logout(&junk).render()] {
        let policy = &page.content_security_policy;
        assert_eq!(directive(policy, "form-action"), Some("'self' https://app.example.com com.example.app:"));
        assert_eq!(policy.matches(';').count(), 5, "{policy}");
        assert!(!policy.contains("script") && !policy.contains("javascript"), "{policy}");
    }
    let none = login("", None, &[]).render();
    assert_eq!(directive(&none.content_security_policy, "form-action"), Some("'self'"));
}

#[test]
fn redirect_target_shapes() {
    for kept in [
        "https://app.example.com",
        "http://localhost:8080",
        "http://127.0.0.1:*",
        "https://xn--bcher-kva.example:443",
        "com.example.app:",
        "io.github.some-user.app:",
    ] {
        assert!(is_redirect_target(kept), "{kept}");
    }
    for dropped in [
        "",
        "https://",
        "https://app.example.com/",
        "https://app.example.com/callback",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:80:80",
        "https://user@app.example.com",
        "https://*.example.com",
        "https://app..example.com",
        "https://app.example.com.",
        "https://[::1]:8080",
        "https://app.example.com'",
        "https://app.example.com\"",
        "https://app.example.com 'unsafe-inline'",
        "https://app.example.com,https://b.example.com",
        "ftp://files.example.com",
        "javascript:",
        "javascript:alert(1)",
        "data:",
        "blob:",
        "http:",
        "myapp:",
        "com.example.app",
        "com.example.app:/callback",
        "com..example:",
        ".com.example:",
        "1com.example:",
        "com.example+x:",
        "'self'",
        "'none'",
        "*",
    ] {
        assert!(!is_redirect_target(dropped), "{dropped}");
    }
}

#[test]
fn the_login_form_has_labelled_inputs_and_hidden_fields() {
    let t = targets(&TARGETS);
    let page = login("", None, &t).render();
    let html = &page.html;
    for expected in [
        "<form method=\"post\" action=\"/oauth2/authorize\">",
        "<input type=\"hidden\" name=\"request\" value=\"req-123\">",
        "<input type=\"hidden\" name=\"csrf\" value=\"csrf-456\">",
        "<label for=\"username\">Username</label>",
        "<input id=\"username\" name=\"username\" type=\"text\" value=\"\" autocomplete=\"username\" ",
        "<label for=\"password\">Password</label>",
        "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" ",
        "<button type=\"submit\">Sign in</button>",
        "to continue to <b>Shop</b>",
        "<title>Sign in to Shop</title>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    let input = |id: &str| {
        let start = html.find(&format!("<input id=\"{id}\"")).expect("input");
        &html[start..start + html[start..].find('>').expect("end")]
    };
    assert!(input("username").contains(" required"));
    assert!(input("password").contains(" required"));
    // The first empty field has the focus, and only it.
    assert_eq!(html.matches(" autofocus").count(), 1);
    assert!(input("username").contains(" autofocus"));
    assert!(!html.contains("role=\"alert\"") && !html.contains("aria-describedby"));

    let again = login("alice", Some("Incorrect username or password."), &t).render().html;
    assert!(again.contains("value=\"alice\""));
    assert_eq!(again.matches(" autofocus").count(), 1);
    let password = &again[again.find("<input id=\"password\"").expect("password")..];
    assert!(password[..password.find('>').expect("end")].contains(" autofocus"));
    assert_eq!(again.matches("role=\"alert\"").count(), 1);
    assert!(again.contains("<p class=\"alert\" id=\"error\" role=\"alert\">Incorrect username or password.</p>"));
    assert_eq!(again.matches(" aria-describedby=\"error\"").count(), 2, "both inputs point at the message");
    assert!(again.contains("<title>Error: Sign in to Shop</title>"));
    // The password is never echoed: the only value attributes are the hidden fields and the username.
    assert_eq!(again.matches(" value=\"").count(), 3);
}

#[test]
fn the_logout_confirmation_carries_the_request() {
    let t = targets(&TARGETS);
    let html = logout(&t).render().html;
    for expected in [
        "<h1>Sign out?</h1>",
        "<b>Shop</b>",
        "<form method=\"post\" action=\"/oauth2/end_session\">",
        "<input type=\"hidden\" name=\"csrf\" value=\"csrf-456\">",
        "<input type=\"hidden\" name=\"client_id\" value=\"shop\">",
        "<input type=\"hidden\" name=\"post_logout_redirect_uri\" value=\"https://app.example.com/bye\">",
        "<input type=\"hidden\" name=\"state\" value=\"st-789\">",
        "<button type=\"submit\" name=\"confirm\" value=\"yes\">Sign out</button>",
        "<button type=\"submit\" name=\"confirm\" value=\"no\" class=\"secondary\">Stay signed in</button>",
        "<title>Sign out of Shop?</title>",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
    assert!(html.find("value=\"yes\"") < html.find("value=\"no\""), "the primary button comes first");

    let bare = LogoutConfirm {
        client_name: None,
        action: "/oauth2/end_session",
        csrf: "csrf-456",
        client_id: None,
        post_logout_redirect_uri: None,
        state: None,
        redirect_targets: &[],
    }
    .render();
    assert_eq!(bare.html.matches("type=\"hidden\"").count(), 1, "only the CSRF token");
    assert!(bare.html.contains("<title>Sign out?</title>") && !bare.html.contains("<b>"));
    assert_eq!(directive(&bare.content_security_policy, "form-action"), Some("'self'"));
}

#[test]
fn the_closing_pages_have_nothing_to_follow() {
    for (name, page) in all_pages().into_iter().filter(|(n, _)| ["signed-out", "error"].contains(n)) {
        assert!(
            !page.html.contains("<form") && !page.html.contains("<a ") && !page.html.contains("href=\"http"),
            "{name}"
        );
    }
    let signed_out = SignedOut.render().html;
    assert!(signed_out.contains("<h1>You are signed out</h1>"));
    let error = ErrorPage { title: "Unknown application", message: "Try again." }.render().html;
    assert!(error.contains("<title>Unknown application</title>"));
    assert!(error.contains("<h1>Unknown application</h1>\n<p>Try again.</p>"));
}

/// Writes each page to `<target>/pages/*.html` for screenshots: `cargo test -p shared
/// --lib pages -- --ignored write_pages`. The policy goes in a `<meta http-equiv>` as
/// well (only in these files: a file has no header), so a browser applies it and the
/// screenshot shows that the style's hash is right (`frame-ancestors` is ignored there).
#[test]
#[ignore]
fn write_pages_for_screenshots() {
    use std::path::{Path, PathBuf};
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("pages");
    std::fs::create_dir_all(&dir).expect("create the directory");
    for (name, page) in all_pages() {
        let meta = format!(
            "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            escape(&page.content_security_policy)
        );
        let html = page.html.replacen("<meta charset=\"utf-8\">", &meta, 1);
        let path = dir.join(format!("{name}.html"));
        std::fs::write(&path, html).expect("write the page");
        println!("{}", path.display());
    }
}
