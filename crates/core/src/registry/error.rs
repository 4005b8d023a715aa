//! Why a registry operation failed.
//!
//! Every message names the registry (its host) and, where one is involved, the scope,
//! digest or URL, except a document over a limit ([`RegistryError::Limit`]): that one names
//! the document, and a front end shows it after the image reference, which names the
//! registry (so the host is said once, not twice). Text that came from the server (error messages, header values) is cut to
//! [`MAX_SERVER_TEXT`] characters and stripped of control characters before it is kept, so
//! a page can show a message after escaping it, and a log line stays one line.

use std::fmt;

use super::api::ErrorEntry;
use super::rate_limit::{limit_message, LimitReset, RateLimit};
use crate::model::digest::{Digest, DigestError, DigestRole};
use crate::model::manifest::ManifestError;
use crate::model::reference::ReferenceError;
use crate::model::time::Timestamp;

/// The most characters of any server-supplied text kept in an error.
pub const MAX_SERVER_TEXT: usize = 300;

/// Server text made safe to keep: control characters become spaces, and the text is cut
/// at [`MAX_SERVER_TEXT`] characters with an ellipsis.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_SERVER_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_SERVER_TEXT).is_some() {
        out.push('…');
    }
    out
}

/// A registry host or an insecure-registries entry that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The host is not `name[:port]` or `[ipv6][:port]`.
    #[error("registry host {host:?} is invalid: {reason}")]
    BadHost {
        /// The host as given.
        host: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An insecure-registries entry is not a host, `host:port` or CIDR.
    #[error("insecure registry entry {entry:?} is invalid: {reason}")]
    BadInsecureEntry {
        /// The entry as given.
        entry: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A `WWW-Authenticate` header that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("WWW-Authenticate header {header:?} is malformed at byte {offset}: {reason}")]
pub struct ChallengeError {
    /// The header, sanitized.
    pub header: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong there.
    pub reason: &'static str,
}

impl ChallengeError {
    pub(crate) fn new(header: &str, offset: usize, reason: &'static str) -> ChallengeError {
        ChallengeError {
            header: sanitize(header),
            offset,
            reason,
        }
    }
}

/// A token service answer that holds no usable token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than [`super::auth::MAX_TOKEN_RESPONSE_BYTES`].
    #[error("the token response is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a JSON object of the token spec's shape.
    #[error("the token response is not JSON of the expected shape: {detail}")]
    NotJson {
        /// The JSON parser's message.
        detail: String,
    },
    /// Neither `token` nor `access_token`.
    #[error("the token response has no token (neither \"token\" nor \"access_token\")")]
    NoToken,
    /// The token has characters that cannot go in a header.
    #[error("the token has characters that cannot be sent in an Authorization header")]
    BadToken,
}

/// Which claim a digest check compared against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestClaim {
    /// The digest the caller asked for (in the URL).
    Requested,
    /// The registry's `Docker-Content-Digest` header.
    Header,
}

impl DigestClaim {
    fn describe(self) -> &'static str {
        match self {
            DigestClaim::Requested => "the digest asked for",
            DigestClaim::Header => "the registry's Docker-Content-Digest",
        }
    }
}

/// Why a registry operation failed. Messages say which registry, and for authorization
/// failures which scope; server text in them is sanitized (see the module docs).
#[derive(Clone, Debug, thiserror::Error)]
pub enum RegistryError {
    /// `401` after the one retry with fresh credentials or a fresh token, or `401` with a
    /// challenge the session cannot answer without credentials.
    #[error("{}", unauthorized_message(registry, scope.as_deref(), *anonymous, *insufficient_scope, errors))]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The scope that was asked for, if any.
        scope: Option<String>,
        /// Whether the session had no credentials.
        anonymous: bool,
        /// Whether the registry said the token lacked the scope (`insufficient_scope`).
        insufficient_scope: bool,
        /// The registry's error entries.
        errors: Vec<ErrorEntry>,
    },
    /// `403`: the registry knows who is asking and says no.
    #[error("{registry} denied access{}{}", scope_suffix(scope.as_deref()), errors_suffix(errors))]
    Denied {
        /// The registry host.
        registry: String,
        /// The scope that was asked for, if any.
        scope: Option<String>,
        /// The registry's error entries.
        errors: Vec<ErrorEntry>,
    },
    /// The registry does not offer its catalog to this client (`401`, `403` or `404` on
    /// `/v2/_catalog`; Docker Hub, ghcr.io and most hosted registries never offer it).
    #[error("{registry} does not list its repositories (the catalog answered {status}); open a repository by name instead")]
    CatalogRefused {
        /// The registry host.
        registry: String,
        /// The status of the last answer.
        status: u16,
    },
    /// `429`: rate limited.
    #[error("{}", too_many_message(registry, reset.as_ref(), rate_limit.as_deref(), errors))]
    TooManyRequests {
        /// The registry host.
        registry: String,
        /// When to try again, if the answer said or its quota window tells
        /// ([`LimitReset::of`]).
        reset: Option<LimitReset>,
        /// The rate-limit headers of the answer, if any (boxed to keep the error small).
        rate_limit: Option<Box<RateLimit>>,
        /// The registry's error entries.
        errors: Vec<ErrorEntry>,
    },
    /// Any other unsuccessful status, with the registry's error entries
    /// (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, ...).
    #[error("{registry} answered {status} for {subject}{}", errors_suffix(errors))]
    Status {
        /// The registry host.
        registry: String,
        /// HTTP status.
        status: u16,
        /// What was asked for (`manifest library/nginx:latest`).
        subject: String,
        /// The registry's error entries.
        errors: Vec<ErrorEntry>,
    },
    /// The token service did not issue a token.
    #[error("the token service at {realm_host} answered {status} for {registry}{}{}{}", scope_suffix(scope.as_deref()), if *with_credentials { " (the credentials may be wrong)" } else { "" }, errors_suffix(errors))]
    TokenRefused {
        /// The registry host.
        registry: String,
        /// The realm's host.
        realm_host: String,
        /// The scope asked for.
        scope: Option<String>,
        /// HTTP status.
        status: u16,
        /// Whether credentials were sent.
        with_credentials: bool,
        /// Error entries, when the service used the registry error format.
        errors: Vec<ErrorEntry>,
    },
    /// The token service answered 200 but with no usable token.
    #[error("the token service at {realm_host} for {registry} sent an unusable answer: {source}")]
    BadToken {
        /// The registry host.
        registry: String,
        /// The realm's host.
        realm_host: String,
        /// Why it is unusable.
        source: TokenError,
    },
    /// The `WWW-Authenticate` header does not parse.
    #[error("{registry} sent an unreadable challenge: {source}")]
    BadChallenge {
        /// The registry host.
        registry: String,
        /// The parser's reason.
        source: ChallengeError,
    },
    /// `401` with no Bearer or Basic challenge.
    #[error("{registry} requires authentication but offers no Bearer or Basic challenge (offered: {offered})")]
    NoUsableChallenge {
        /// The registry host.
        registry: String,
        /// The schemes it offered, or `nothing`.
        offered: String,
    },
    /// A Bearer challenge whose realm cannot be used.
    #[error("{registry} names the token service {realm:?}, which is refused: {reason}")]
    BadRealm {
        /// The registry host.
        registry: String,
        /// The realm as sent, sanitized.
        realm: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Content that does not hash to the digest it should have.
    #[error("the {} {subject} from {registry} does not match {}: expected {expected}, actual {actual}", role.name(), claim.describe())]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// Manifest or config.
        role: DigestRole,
        /// What was fetched (`library/nginx:latest`).
        subject: String,
        /// Which claim was compared.
        claim: DigestClaim,
        /// The digest claimed.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// A `Docker-Content-Digest` header that is not a digest.
    #[error(
        "{registry} sent Docker-Content-Digest {value:?}, which is not a usable digest: {source}"
    )]
    BadDigestHeader {
        /// The registry host.
        registry: String,
        /// The header value, sanitized.
        value: String,
        /// The digest parser's reason.
        source: DigestError,
    },
    /// A tag that the reference grammar refuses, so it cannot go in a URL.
    #[error("{tag:?} is not a valid tag for {registry}: {source}")]
    BadTag {
        /// The registry host.
        registry: String,
        /// The tag, sanitized.
        tag: String,
        /// The grammar's reason.
        source: ReferenceError,
    },
    /// A manifest that the manifest parser refused.
    #[error("the manifest {subject} from {registry} is not valid: {source}")]
    BadManifest {
        /// The registry host.
        registry: String,
        /// What was fetched.
        subject: String,
        /// The parser's reason.
        source: ManifestError,
    },
    /// A manifest or config over [`crate::limits::Limits::max_document_bytes`]; the body
    /// was read no further than one byte past the limit. The message is the limit's alone
    /// (`the manifest a/b:t has more than 4194304 document bytes, the limit`): the front
    /// ends put it after the reference they were asked for, which names the registry.
    #[error("{source}")]
    Limit {
        /// The registry host.
        registry: String,
        /// The document, its size (as far as it was read, or as `Content-Length` says) and
        /// the limit.
        source: crate::limits::LimitExceeded,
    },
    /// A body over its limit.
    #[error("the {what} from {registry} is {size} bytes or more, over the {limit}-byte limit")]
    TooLarge {
        /// The registry host.
        registry: String,
        /// What the body is.
        what: &'static str,
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A JSON body that does not have the expected shape.
    #[error("the {what} from {registry} is not valid: {detail}")]
    BadBody {
        /// The registry host.
        registry: String,
        /// What the body is.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A `Link` to another origin, or one that is not a registry API path.
    #[error("{registry} sent a Link header to {link:?}, which is refused: {reason}")]
    BadLink {
        /// The registry host.
        registry: String,
        /// The link target, sanitized.
        link: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// `receive` was called when no request was outstanding.
    #[error("the exchange with {registry} is finished; start a new one")]
    NotWaiting {
        /// The registry host.
        registry: String,
    },
    /// The caller could not perform a request (connection refused, TLS, timeout, CORS).
    #[error("could not reach {registry}: {detail}")]
    Transport {
        /// The host the request was for.
        registry: String,
        /// The caller's words for what went wrong.
        detail: String,
    },
}

impl RegistryError {
    /// The registry's error entries, when the answer carried them.
    pub fn entries(&self) -> &[ErrorEntry] {
        match self {
            RegistryError::Unauthorized { errors, .. }
            | RegistryError::Denied { errors, .. }
            | RegistryError::TooManyRequests { errors, .. }
            | RegistryError::Status { errors, .. }
            | RegistryError::TokenRefused { errors, .. } => errors,
            _ => &[],
        }
    }

    /// For a `429`, the message a person reads, with the reset in their clock
    /// (`utc_offset_minutes` ahead of UTC at the reset; `now` in Unix seconds); `None` for
    /// any other error. See [`super::rate_limit::limit_message`].
    pub fn limit_message(&self, now: i64, utc_offset_minutes: i32) -> Option<String> {
        match self {
            RegistryError::TooManyRequests {
                registry,
                reset,
                rate_limit,
                errors,
            } => Some(limit_message(
                registry,
                reset.as_ref(),
                rate_limit.as_deref(),
                errors,
                now,
                utc_offset_minutes,
            )),
            _ => None,
        }
    }

    /// When a `429` lets requests through again; `None` for any other error or when unknown.
    pub fn limit_reset(&self) -> Option<LimitReset> {
        match self {
            RegistryError::TooManyRequests { reset, .. } => *reset,
            _ => None,
        }
    }

    /// Whether the registry said the thing asked for does not exist (404, or a
    /// `MANIFEST_UNKNOWN`/`BLOB_UNKNOWN`/`NAME_UNKNOWN` entry).
    pub fn is_not_found(&self) -> bool {
        use super::api::ErrorCode::*;
        matches!(self, RegistryError::Status { status: 404, .. })
            || self
                .entries()
                .iter()
                .any(|e| matches!(e.code, ManifestUnknown | BlobUnknown | NameUnknown))
    }
}

fn scope_suffix(scope: Option<&str>) -> String {
    scope.map(|s| format!(" to {s}")).unwrap_or_default()
}

fn errors_suffix(errors: &[ErrorEntry]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = errors.iter().take(3).map(ToString::to_string).collect();
    let more = errors.len().saturating_sub(3);
    if more > 0 {
        format!(": {} (and {more} more)", shown.join("; "))
    } else {
        format!(": {}", shown.join("; "))
    }
}

fn unauthorized_message(
    registry: &str,
    scope: Option<&str>,
    anonymous: bool,
    insufficient_scope: bool,
    errors: &[ErrorEntry],
) -> String {
    let mut m = format!("{registry} refused access{}", scope_suffix(scope));
    if insufficient_scope {
        m.push_str(" (the token it issued does not grant that scope: insufficient_scope)");
    }
    m.push_str(&errors_suffix(errors));
    m.push_str(if anonymous {
        "; the repository may be private or may not exist: sign in and try again"
    } else {
        "; the credentials may be wrong or lack access to it"
    });
    m
}

/// The `429` message in UTC (a terminal's words; the page uses
/// [`RegistryError::limit_message`] in the viewer's clock).
fn too_many_message(
    registry: &str,
    reset: Option<&LimitReset>,
    rate_limit: Option<&RateLimit>,
    errors: &[ErrorEntry],
) -> String {
    let mut m = format!("{registry} is rate limiting requests (429)");
    if let Some(limit) = rate_limit {
        m.push_str(&format!(": {limit}"));
    }
    if let Some(reset) = reset {
        let at = Timestamp::from_unix(reset.at()).to_rfc3339();
        m.push_str(&match reset {
            LimitReset::WindowEnd(_) => format!("; the allowance is back by {at} at the latest"),
            _ => format!("; try again after {at}"),
        });
    }
    m.push_str(&errors_suffix(errors));
    m
}

impl fmt::Display for DigestClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_cuts() {
        assert_eq!(sanitize("a\r\nb\u{1b}[31m"), "a  b [31m");
        let long = "x".repeat(MAX_SERVER_TEXT + 10);
        let cut = sanitize(&long);
        assert_eq!(cut.chars().count(), MAX_SERVER_TEXT + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            sanitize(&"y".repeat(MAX_SERVER_TEXT)),
            "y".repeat(MAX_SERVER_TEXT)
        );
    }

    #[test]
    fn unauthorized_says_registry_scope_and_why() {
        let e = RegistryError::Unauthorized {
            registry: "registry-1.docker.io".into(),
            scope: Some("repository:library/private:pull".into()),
            anonymous: true,
            insufficient_scope: true,
            errors: vec![],
        };
        let m = e.to_string();
        for needle in [
            "registry-1.docker.io",
            "repository:library/private:pull",
            "insufficient_scope",
            "sign in",
        ] {
            assert!(m.contains(needle), "{m}");
        }
    }
}
