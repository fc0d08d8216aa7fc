//! `GET|POST /oauth2/authorize`: the authorization request, and the login form it may
//! show. An unknown client or an unregistered redirect URI gets a page and never a
//! redirect (no open redirector); every other error goes back to the client.

use super::cookies::Cookies;
use super::request::{self, BackToClient, Requested};
use super::{AUTHORIZE_PATH, Answer, SignIn, redirect};
use crate::domain::{AuthorizationRequest, BrowserLogin, ClientRecord, Prompt, SessionRecord};
use crate::ids::{ClientId, Sid, random_id};
use crate::oauth::OAuthRequest;
use crate::pages::LoginForm;
use crate::passwords::PasswordRefusal;
use crate::policy::AUTHORIZATION_REQUEST_SECONDS;
use crate::secrets::{digest_of, matches_digest, new_handed_out_secret};
use crate::time::UnixTime;
use std::collections::BTreeSet;

const EXPIRED: &str = "This sign-in has expired. Go back to the application and start again.";
const WRONG: &str = "Incorrect username or password.";

impl SignIn {
    /// The authorization request (query of a GET, or form of a POST).
    pub async fn authorize(&self, params: Result<OAuthRequest, crate::oauth::OAuthError>, cookies: &Cookies) -> Answer {
        let Ok(params) = params else {
            return Answer::error_page(400, "Invalid request", "The application sent a malformed sign-in request.");
        };
        let client = match self.known_client(params.param("client_id")).await {
            Ok(client) => client,
            Err(answer) => {
                tracing::warn!(event = "authorize.refused", reason = "unknown_client");
                return answer;
            }
        };
        let Some(redirect_uri) = params.param("redirect_uri").filter(|uri| client.redirects_to(uri)) else {
            tracing::warn!(event = "authorize.refused", client_id = %client.id, reason = "unregistered_redirect_uri");
            return Answer::error_page(
                400,
                "Invalid request",
                "The application asked to return to an address it has not registered.",
            );
        };
        let state = params.param("state");
        let requested = match request::validate(&params, &client) {
            Ok(requested) => requested,
            Err(err) => return self.refuse(&client, redirect_uri, state, err),
        };
        let session = match self.browser_session(cookies).await {
            Ok(session) => session,
            Err(err) => {
                err.report();
                let unavailable = BackToClient {
                    error: "temporarily_unavailable",
                    description: "the sign-in service is briefly unavailable",
                };
                return self.refuse(&client, redirect_uri, state, unavailable);
            }
        };
        let now = UnixTime::now();
        // `max_age=0` asks for a sign-in now, as `prompt=login` does (OIDC Core §3.1.2.1).
        let fresh = |s: &SessionRecord| {
            requested.max_age.is_none_or(|max| max > 0 && now.0.saturating_sub(s.auth_time.0) <= max)
        };
        if let Some(session) = session.filter(|s| requested.prompt != Prompt::Login && fresh(s)) {
            // Single sign-on: the browser's session, and a code at once, unless the user's
            // tokens were revoked since the login.
            if let Some(answer) = self.issue_for_session(&client, redirect_uri, &requested, &session).await {
                return answer;
            }
        }
        match requested.prompt {
            Prompt::None => {
                let login = BackToClient { error: "login_required", description: "the user must sign in" };
                self.refuse(&client, redirect_uri, state, login)
            }
            _ => self.show_login(&client, redirect_uri, requested).await,
        }
    }

    /// The login form posted back (`request`, `csrf`, `username`, `password`).
    pub async fn login(&self, form: &OAuthRequest, cookies: &Cookies) -> Answer {
        let Some(id) = form.param("request").filter(|id| crate::policy::valid_random_id(id)) else {
            return Answer::error_page(400, "Sign-in expired", EXPIRED);
        };
        let pending = match self.store.authorization(id).await {
            Ok(Some(pending)) => pending,
            Ok(None) => return Answer::error_page(400, "Sign-in expired", EXPIRED),
            Err(err) => return Answer::unavailable(err),
        };
        // The form's token must be the one this browser was given with the form
        // (double submit): a cross-site POST carries no SameSite=Lax cookie.
        let policy = self.cookie_policy();
        let csrf = form.param("csrf").unwrap_or_default();
        if cookies.get(&policy.sign_in(id)) != Some(csrf) || !matches_digest(csrf, &pending.csrf_digest) {
            tracing::warn!(event = "authorize.refused", client_id = %pending.client_id, reason = "csrf_mismatch");
            return Answer::error_page(403, "Sign-in could not be verified", EXPIRED);
        }
        let client = match self.known_client(Some(pending.client_id.as_str())).await {
            Ok(client) => client,
            Err(answer) => return answer,
        };
        let username = form.param("username").unwrap_or_default();
        let password = form.secret_param("password").unwrap_or_else(|| crate::secrets::SecretString::new(""));
        let retry = |status, message: &str| Answer::Page {
            status,
            page: self.login_form(&client, &pending, csrf, username, Some(message)),
            cookies: Vec::new(),
        };
        let user = match self.passwords.check(username, &password).await {
            Ok(user) => user,
            Err(PasswordRefusal::BadCredentials | PasswordRefusal::Disabled) => return retry(401, WRONG),
            Err(PasswordRefusal::Throttled(seconds)) => {
                let message = format!("Too many attempts. Try again in {seconds} seconds.");
                return retry(429, &message);
            }
            Err(PasswordRefusal::Store(err)) => return Answer::unavailable(err),
        };
        let now = UnixTime::now();
        let secret = new_handed_out_secret();
        let session = SessionRecord {
            sid: Sid::random(),
            sub: user.sub.clone(),
            client_ids: BTreeSet::new(),
            auth_time: now,
            expires_at: now.plus(self.config.lifetimes.refresh_absolute),
            browser: Some(BrowserLogin { username: user.username.clone(), secret_digest: digest_of(secret.expose()) }),
        };
        let requested = Requested {
            scope: pending.scope.clone(),
            state: pending.state.clone(),
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            prompt: Prompt::Default,
            max_age: None,
            login_hint: None,
        };
        let (code, record) = self.new_code(&client.id, &pending.redirect_uri, &requested, &session, &user.username);
        match self.store.complete_login(&session, &record, id).await {
            Ok(true) => {}
            // The form was posted twice: the first post signed in.
            Ok(false) => return Answer::error_page(400, "Already signed in", EXPIRED),
            Err(err) => return Answer::unavailable(err),
        }
        tracing::info!(event = "session.started", client_id = %client.id, sub = %user.sub, sid = %session.sid);
        self.end_another_users_session(cookies, &user.sub).await;
        // Signed in: this form's CSRF cookie goes, and so do those of forms left open in
        // other tabs or reloaded (they would otherwise pile up until they expire).
        let prefix = policy.sign_in("");
        let mut set_cookies: Vec<_> = cookies.named_like(&prefix).map(|name| policy.clear(name.to_string())).collect();
        if !set_cookies.iter().any(|c| c.header.starts_with(&format!("{}=", policy.sign_in(id)))) {
            set_cookies.push(policy.clear(policy.sign_in(id)));
        }
        set_cookies.push(policy.set(
            policy.session(),
            &format!("{}.{}", session.sid, secret.expose()),
            self.config.lifetimes.refresh_absolute,
        ));
        let mut params = vec![("code", code.expose())];
        if let Some(state) = &pending.state {
            params.push(("state", state));
        }
        self.back_to(&pending.redirect_uri, &params, set_cookies)
    }

    /// Another user signed in on this browser (a shared computer): the session the
    /// browser held until now ends, with its back-channel logout, rather than live on
    /// out of anyone's reach (its cookie is replaced). The same user signing in again
    /// (`prompt=login`, `max_age`) keeps theirs: it is theirs to end. Best effort: the
    /// new sign-in stands whatever happens here.
    async fn end_another_users_session(&self, cookies: &Cookies, signed_in: &crate::ids::Subject) {
        let previous = match self.browser_session(cookies).await {
            Ok(Some(previous)) if previous.sub != *signed_in => previous,
            Ok(_) => return,
            Err(err) => return err.report(),
        };
        let sid = previous.sid.clone();
        match self.logout.end_read_session(previous, crate::domain::RevocationCause::Logout).await {
            Ok(_) => tracing::info!(event = "session.replaced", sid = %sid),
            Err(err) => err.report(),
        }
    }

    /// The client a request names, or the page that says it cannot be signed in to.
    pub(super) async fn known_client(&self, id: Option<&str>) -> Result<ClientRecord, Answer> {
        let unknown =
            || Answer::error_page(400, "Unknown application", "The application that sent you here is not known.");
        let Some(id) = id.filter(|id| crate::policy::valid_client_id(id)) else { return Err(unknown()) };
        match self.clients.get(&ClientId::new(id)).await {
            Ok(Some(client)) => Ok(client),
            Ok(None) => Err(unknown()),
            Err(err) => Err(Answer::unavailable(err)),
        }
    }

    fn refuse(&self, client: &ClientRecord, redirect_uri: &str, state: Option<&str>, err: BackToClient) -> Answer {
        tracing::info!(event = "authorize.refused", client_id = %client.id, reason = err.error);
        let mut params = vec![("error", err.error), ("error_description", err.description)];
        if let Some(state) = state {
            params.push(("state", state));
        }
        self.back_to(redirect_uri, &params, Vec::new())
    }

    /// A code for the browser's `session`, or `None` when a revoke-all or disable of
    /// the user came since the login (even one that missed the session: it finds a user's
    /// sessions through an eventually consistent index): the user signs in again.
    async fn issue_for_session(
        &self,
        client: &ClientRecord,
        redirect_uri: &str,
        requested: &Requested,
        session: &SessionRecord,
    ) -> Option<Answer> {
        let username = session.browser.as_ref().map(|b| b.username.as_str()).unwrap_or_default();
        let (code, record) = self.new_code(&client.id, redirect_uri, requested, session, username);
        match self.store.save_code(&record).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(event = "session.refused", sid = %session.sid, reason = "subject_revoked");
                return None;
            }
            Err(err) => return Some(Answer::unavailable(err)),
        }
        tracing::info!(event = "session.reused", client_id = %client.id, sub = %session.sub, sid = %session.sid);
        let mut params = vec![("code", code.expose())];
        if let Some(state) = &requested.state {
            params.push(("state", state));
        }
        Some(self.back_to(redirect_uri, &params, Vec::new()))
    }

    async fn show_login(&self, client: &ClientRecord, redirect_uri: &str, requested: Requested) -> Answer {
        let csrf = new_handed_out_secret();
        let now = UnixTime::now();
        let pending = AuthorizationRequest {
            id: random_id(),
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_string(),
            scope: requested.scope,
            state: requested.state,
            nonce: requested.nonce,
            code_challenge: requested.code_challenge,
            login_hint: requested.login_hint,
            csrf_digest: digest_of(csrf.expose()),
            expires_at: now.plus(AUTHORIZATION_REQUEST_SECONDS),
        };
        if let Err(err) = self.store.save_authorization(&pending).await {
            return Answer::unavailable(err);
        }
        let policy = self.cookie_policy();
        let hint = pending.login_hint.as_deref().unwrap_or_default();
        Answer::Page {
            status: 200,
            page: self.login_form(client, &pending, csrf.expose(), hint, None),
            cookies: vec![policy.set(policy.sign_in(&pending.id), csrf.expose(), AUTHORIZATION_REQUEST_SECONDS)],
        }
    }

    fn login_form(
        &self,
        client: &ClientRecord,
        pending: &AuthorizationRequest,
        csrf: &str,
        username: &str,
        error: Option<&str>,
    ) -> crate::pages::Page {
        let targets: Vec<String> = redirect::target_of(&pending.redirect_uri).into_iter().collect();
        let action = self.url(AUTHORIZE_PATH);
        LoginForm {
            client_name: client.display_name(),
            action: &action,
            request_id: &pending.id,
            csrf,
            username,
            error,
            redirect_targets: &targets,
        }
        .render()
    }
}
