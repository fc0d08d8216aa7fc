//! `GET|POST /oauth2/end_session` (OpenID Connect RP-Initiated Logout 1.0): end the
//! browser's session at the OP, tell every relying party of it by back-channel, clear
//! the cookie, and send the browser back to a registered `post_logout_redirect_uri`.
//!
//! With a valid `id_token_hint` the session it names ends at once. Without one the user
//! is asked to confirm (a form with a CSRF token bound to this browser), so that a
//! cross-site request cannot sign anyone out.

use super::cookies::Cookies;
use super::{Answer, END_SESSION_PATH, SignIn, redirect};
use crate::domain::{ClientRecord, RevocationCause};
use crate::oauth::OAuthRequest;
use crate::pages::{LogoutConfirm, SignedOut};
use crate::secrets::new_handed_out_secret;
use crate::store::StoreError;
use crate::tokens::id_token;

/// How long the confirmation form may wait.
const CONFIRM_SECONDS: u64 = 10 * 60;

impl SignIn {
    /// `posted`: the request came as a POST (only a POST may carry the confirmation).
    pub async fn end_session(
        &self,
        params: Result<OAuthRequest, crate::oauth::OAuthError>,
        posted: bool,
        cookies: &Cookies,
    ) -> Answer {
        let Ok(params) = params else {
            return Answer::error_page(400, "Invalid request", "The application sent a malformed sign-out request.");
        };
        let keys = self.keys.current().await;
        let hint = params.param("id_token_hint").map(|hint| id_token::verify_hint(&keys, hint, &self.config.issuer));
        if let Some(Err(_)) = &hint {
            tracing::info!(event = "end_session.hint_refused");
        }
        let hint = hint.and_then(Result::ok);
        // The client is the hint's audience, or `client_id`; they must agree.
        let client_id = match (hint.as_ref().map(|h| h.aud.as_str()), params.param("client_id")) {
            (Some(aud), Some(id)) if aud != id => {
                return Answer::error_page(400, "Invalid request", "The sign-out request names two applications.");
            }
            (aud, id) => aud.or(id),
        };
        let client = match client_id {
            Some(id) => match self.known_client(Some(id)).await {
                Ok(client) => Some(client),
                Err(answer) => return answer,
            },
            None => None,
        };
        let back_to = match params.param("post_logout_redirect_uri") {
            None => None,
            Some(uri)
                if client.as_ref().is_some_and(|c| c.browser.post_logout_redirect_uris.iter().any(|r| r == uri)) =>
            {
                Some(uri.to_string())
            }
            Some(_) => {
                return Answer::error_page(
                    400,
                    "Invalid request",
                    "The application asked to return to an address it has not registered.",
                );
            }
        };
        let state = params.param("state");
        match params.param("confirm").filter(|_| posted) {
            // The confirmation form, posted back.
            Some(answer) => self.confirmed(answer == "yes", &params, cookies, back_to.as_deref(), state).await,
            None => {
                // The hint ends this browser's session at once only if it names that very
                // session: a hint is no secret (any holder of an old ID token has one, and
                // it needs no cookie), so for any other session the user is asked
                // (RP-Initiated Logout 1.0 §2), and the confirmation ends the browser's own.
                let Some(hint) = hint else {
                    return self.ask(client.as_ref(), back_to.as_deref(), state);
                };
                match self.browser_session(cookies).await {
                    Ok(Some(session)) if hint.sid == session.sid => {
                        let ended = self.logout.end_read_session(session, RevocationCause::Logout).await;
                        self.signed_out(ended, back_to.as_deref(), state)
                    }
                    Ok(_) => self.ask(client.as_ref(), back_to.as_deref(), state),
                    Err(err) => Answer::unavailable(err),
                }
            }
        }
    }

    async fn confirmed(
        &self,
        yes: bool,
        form: &OAuthRequest,
        cookies: &Cookies,
        back_to: Option<&str>,
        state: Option<&str>,
    ) -> Answer {
        let policy = self.cookie_policy();
        let csrf = form.param("csrf").unwrap_or_default();
        if csrf.is_empty() || cookies.get(&policy.sign_out()) != Some(csrf) {
            tracing::warn!(event = "end_session.refused", reason = "csrf_mismatch");
            return Answer::error_page(
                403,
                "Sign-out could not be verified",
                "Go back to the application and try again.",
            );
        }
        if !yes {
            return self.leave(back_to, state, vec![policy.clear(policy.sign_out())], false);
        }
        let session = match self.browser_session(cookies).await {
            Ok(session) => session,
            Err(err) => return Answer::unavailable(err),
        };
        match session {
            Some(session) => {
                let ended = self.logout.end_read_session(session, RevocationCause::Logout).await;
                self.signed_out(ended, back_to, state)
            }
            // Nothing to end: already signed out here.
            None => {
                self.leave(back_to, state, vec![policy.clear(policy.sign_out()), policy.clear(policy.session())], true)
            }
        }
    }

    /// A session ended with its back-channel fan-out: clear this browser's cookies.
    fn signed_out(
        &self,
        ended: Result<crate::logout::LogoutSummary, StoreError>,
        back_to: Option<&str>,
        state: Option<&str>,
    ) -> Answer {
        if let Err(err) = ended {
            return Answer::unavailable(err);
        }
        let policy = self.cookie_policy();
        self.leave(back_to, state, vec![policy.clear(policy.session()), policy.clear(policy.sign_out())], true)
    }

    /// "Sign out?" with a CSRF token bound to this browser.
    fn ask(&self, client: Option<&ClientRecord>, back_to: Option<&str>, state: Option<&str>) -> Answer {
        let csrf = new_handed_out_secret();
        let policy = self.cookie_policy();
        let action = self.url(END_SESSION_PATH);
        let targets: Vec<String> = back_to.and_then(redirect::target_of).into_iter().collect();
        let page = LogoutConfirm {
            client_name: client.map(ClientRecord::display_name),
            action: &action,
            csrf: csrf.expose(),
            client_id: client.map(|c| c.id.as_str()),
            post_logout_redirect_uri: back_to,
            state,
            redirect_targets: &targets,
        }
        .render();
        Answer::Page { status: 200, page, cookies: vec![policy.set(policy.sign_out(), csrf.expose(), CONFIRM_SECONDS)] }
    }

    /// Back to the client's registered URI (with `state`), or our own page.
    fn leave(
        &self,
        back_to: Option<&str>,
        state: Option<&str>,
        cookies: Vec<super::cookies::SetCookie>,
        signed_out: bool,
    ) -> Answer {
        match back_to {
            Some(uri) => {
                let params: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
                match redirect::with_params(uri, &params) {
                    Some(location) => Answer::Redirect { location, cookies },
                    None => Answer::error_page(500, "Something went wrong", "This application is misconfigured."),
                }
            }
            None if signed_out => Answer::Page { status: 200, page: SignedOut.render(), cookies },
            None => Answer::Page {
                status: 200,
                page: crate::pages::ErrorPage { title: "Still signed in", message: "You have not been signed out." }
                    .render(),
                cookies,
            },
        }
    }
}
