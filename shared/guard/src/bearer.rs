//! The `Authorization` header of a protected resource request: `Bearer` (RFC 6750 §2.1)
//! or `DPoP` (RFC 9449 §7.1), parsed as the token service does.

/// What an `Authorization` header presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No header, or another scheme: no credentials at all (RFC 6750 §3.1: the
    /// challenge then carries no error code).
    Nothing,
    Bearer(&'a str),
    /// A DPoP-bound token, to be checked with the request's proof.
    Dpop(&'a str),
    /// The Bearer or DPoP scheme with something that is not one `b64token`.
    Malformed,
}

pub fn bearer_credentials(header: Option<&str>) -> Presented<'_> {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else { return Presented::Nothing };
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Nothing;
    }
    let token = rest.trim();
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    match (b64token, dpop) {
        (false, _) => Presented::Malformed,
        (true, false) => Presented::Bearer(token),
        (true, true) => Presented::Dpop(token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_read_like_the_token_service_reads_them() {
        assert_eq!(bearer_credentials(None), Presented::Nothing);
        assert_eq!(bearer_credentials(Some("  ")), Presented::Nothing);
        assert_eq!(bearer_credentials(Some("Basic abc")), Presented::Nothing);
        assert_eq!(bearer_credentials(Some("Bearer a.b.c")), Presented::Bearer("a.b.c"));
        assert_eq!(bearer_credentials(Some("bearer   a.b-_c=")), Presented::Bearer("a.b-_c="));
        assert_eq!(bearer_credentials(Some("Bearer")), Presented::Malformed);
        assert_eq!(bearer_credentials(Some("Bearer a b")), Presented::Malformed);
        assert_eq!(bearer_credentials(Some("Bearer a\"b")), Presented::Malformed);
        assert_eq!(bearer_credentials(Some("DPoP a.b.c")), Presented::Dpop("a.b.c"));
        assert_eq!(bearer_credentials(Some("dpop  a.b.c")), Presented::Dpop("a.b.c"));
        assert_eq!(bearer_credentials(Some("DPoP a b")), Presented::Malformed);
    }
}
