//! HTML text: escaping, the document every page shares, and the mark.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The one style sheet of every page, inlined verbatim in a `<style>` element (the CSP
/// allows exactly this text by its hash, so it is never formatted or interpolated).
pub(super) const STYLE: &str = include_str!("style.css");

/// Escapes text for an HTML text node or a double-quoted attribute value: `&`, `<`, `>`,
/// `"` and `'` become character references; anything else is kept. Borrowed when there
/// is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'');
    let Some(first) = text.find(special) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The mark (a rounded square with a keyhole cut out), as one even-odd path in a 32×32
/// box: inline in each card (in the text colour of `.mark`) and as the tab icon.
const MARK_PATH: &str = "M8 0h16a8 8 0 0 1 8 8v16a8 8 0 0 1-8 8H8a8 8 0 0 1-8-8V8a8 8 0 0 1 8-8z\
M16 8.5a4.5 4.5 0 0 0-2 8.53V22a2 2 0 0 0 4 0v-4.97A4.5 4.5 0 0 0 16 8.5z";

/// The tab icon as a `data:` URI (allowed by `img-src data:`): a page that names no icon
/// makes the browser fetch `/favicon.ico` from the API, which the CSP would block anyway.
static FAVICON: LazyLock<String> = LazyLock::new(|| {
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
         <path fill=\"#1f5fd1\" fill-rule=\"evenodd\" d=\"{MARK_PATH}\"/></svg>"
    );
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
});

/// A complete document: `title` is plain text (escaped here), `main` is the HTML of the
/// card (already escaped by its builder).
pub(super) fn document(title: &str, main: &str) -> String {
    let mut html = String::with_capacity(STYLE.len() + main.len() + 1024);
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <title>{title}</title>\n\
         <link rel=\"icon\" href=\"{favicon}\">\n\
         <style>{STYLE}</style>\n\
         </head>\n\
         <body>\n\
         <main>\n\
         <svg class=\"mark\" viewBox=\"0 0 32 32\" width=\"40\" height=\"40\" aria-hidden=\"true\" focusable=\"false\">\
         <path fill=\"currentColor\" fill-rule=\"evenodd\" d=\"{MARK_PATH}\"/></svg>\n\
         {main}\
         </main>\n\
         </body>\n\
         </html>\n",
        title = escape(title),
        favicon = escape(&FAVICON),
    );
    html
}
