//! The denylist: revocation markers, the query a token check makes, and its answer
//! (docs/ARCHITECTURE.md §3 and §4).

use super::FamilyRecord;
use crate::ids::{ClientId, FamilyId, Jti, Sid, Subject};
use crate::time::UnixTime;

/// Why something was revoked: stored on family and session markers, and logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationCause {
    /// RFC 7009: the client revoked the token.
    RevokedByClient,
    /// A rotated refresh token was presented again (semantics 5).
    RefreshTokenReuse,
    /// The session was logged out.
    Logout,
    /// An admin client ended every session of the subject.
    AdminLogout,
    /// The user's password changed.
    PasswordChange,
    /// `tokenctl user revoke-all`.
    AdminRevokeAll,
    /// `tokenctl user disable`.
    UserDisabled,
    /// An authorization code was presented again: what its first exchange began is
    /// revoked (RFC 6749 §4.1.2).
    CodeReplay,
}

impl RevocationCause {
    const ALL: [Self; 8] = [
        Self::RevokedByClient,
        Self::RefreshTokenReuse,
        Self::Logout,
        Self::AdminLogout,
        Self::PasswordChange,
        Self::AdminRevokeAll,
        Self::UserDisabled,
        Self::CodeReplay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RevokedByClient => "revoked_by_client",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::Logout => "logout",
            Self::AdminLogout => "admin_logout",
            Self::PasswordChange => "password_change",
            Self::AdminRevokeAll => "admin_revoke_all",
            Self::UserDisabled => "user_disabled",
            Self::CodeReplay => "authorization_code_replay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A revocation marker: the denylist entries every token check consults. `expires_at`
/// is when nothing it covers can still be valid (`policy::Lifetimes::marker_expiry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Token {
        jti: Jti,
        expires_at: UnixTime,
    },
    Family {
        fid: FamilyId,
        revoked_at: UnixTime,
        reason: RevocationCause,
        expires_at: UnixTime,
    },
    Session {
        sid: Sid,
        revoked_at: UnixTime,
        reason: RevocationCause,
        expires_at: UnixTime,
    },
    /// Everything of the subject issued before `not_before` is dead.
    Subject {
        sub: Subject,
        not_before: UnixTime,
        expires_at: UnixTime,
    },
    /// The client was removed: everything issued to it before `not_before` is dead.
    Client {
        client_id: ClientId,
        not_before: UnixTime,
        expires_at: UnixTime,
    },
}

/// What a token check asks the denylist: one strongly consistent batch read of at most
/// five markers (token, family, session, subject, client), plus the user for
/// refresh-token introspection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationQuery {
    pub jti: Option<Jti>,
    pub fid: Option<FamilyId>,
    pub sid: Option<Sid>,
    /// The subject and the token's issue time: a revoke-all kills what was issued before it.
    pub subject: Option<(Subject, UnixTime)>,
    /// The client and the token's issue time: a removal kills what was issued before it.
    pub client: Option<(ClientId, UnixTime)>,
    /// Also refuse if this user is disabled or gone.
    pub username: Option<String>,
}

impl RevocationQuery {
    /// Everything that could have killed a refresh family since its login: its own
    /// revocation, its session's logout, a revoke-all (against the login), its client's
    /// removal (against the last rotation), and its user being disabled or gone.
    pub fn of_family(family: &FamilyRecord) -> Self {
        Self {
            fid: Some(family.fid.clone()),
            sid: Some(family.sid.clone()),
            subject: Some((family.sub.clone(), family.created_at)),
            client: Some((family.client_id.clone(), family.rotated_at)),
            username: Some(family.username.clone()),
            ..Default::default()
        }
    }

    /// How many items the check reads.
    pub fn items(&self) -> usize {
        [self.jti.is_some(), self.fid.is_some(), self.sid.is_some(), self.subject.is_some()]
            .into_iter()
            .chain([self.client.is_some(), self.username.is_some()])
            .filter(|present| *present)
            .count()
    }

    /// The issue time that a line marker (revoke-all, client removal) is compared with.
    pub fn issued_at(&self, reason: RevocationReason) -> Option<UnixTime> {
        match reason {
            RevocationReason::SubjectRevoked => self.subject.as_ref().map(|(_, iat)| *iat),
            RevocationReason::ClientRemoved => self.client.as_ref().map(|(_, iat)| *iat),
            _ => None,
        }
    }
}

/// Which entry of the denylist refused a token; when several do, the first in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevocationReason {
    TokenRevoked,
    FamilyRevoked,
    SessionRevoked,
    SubjectRevoked,
    ClientRemoved,
    UserDisabled,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "token_revoked",
            Self::FamilyRevoked => "family_revoked",
            Self::SessionRevoked => "session_revoked",
            Self::SubjectRevoked => "subject_revoked",
            Self::ClientRemoved => "client_removed",
            Self::UserDisabled => "user_disabled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationStatus {
    Clear,
    Revoked(RevocationReason),
}

impl RevocationStatus {
    /// The verdict from every reason found: the first in `RevocationReason`'s order.
    pub fn from_reasons(reasons: impl IntoIterator<Item = RevocationReason>) -> Self {
        reasons.into_iter().min().map_or(Self::Clear, Self::Revoked)
    }
}
