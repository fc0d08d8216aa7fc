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
