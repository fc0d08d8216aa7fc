//! Users (resource owners). The password appears only as an argon2id hash.

use crate::ids::Subject;
use crate::secrets::PasswordHashString;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    pub sub: Subject,
    pub password_hash: PasswordHashString,
    pub disabled: bool,
}

/// What a resource-facing read may learn of a user: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserProfile {
    pub username: String,
    pub sub: Subject,
    pub disabled: bool,
}

impl From<&UserRecord> for UserProfile {
    fn from(user: &UserRecord) -> Self {
        Self { username: user.username.clone(), sub: user.sub.clone(), disabled: user.disabled }
    }
}
