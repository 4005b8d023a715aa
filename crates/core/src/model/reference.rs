//! Image references: parsing and normalizing `nginx`, `host:5000/a/b:tag@sha256:...`.
//!
//! API summary:
//! - [`Reference::parse`]`(&str) -> Result<Reference, ReferenceError>`: docker's
//!   normalizing parse (`nginx` -> `docker.io/library/nginx`).
//! - accessors [`Reference::domain`], [`Reference::path`], [`Reference::tag`],
//!   [`Reference::digest`], [`Reference::tag_or_default`];
//! - renderings [`Reference::full`] (`docker.io/library/nginx:latest`),
//!   [`Reference::familiar`] (`nginx:latest`), [`Reference::name`],
//!   [`Reference::familiar_name`] (the REPOSITORY column of `docker image ls`);
//! - registry use: [`Reference::registry_api_host`] (`docker.io` ->
//!   `registry-1.docker.io`), [`Reference::manifest_reference`] (digest, else tag).
//!
//! The grammar is the one of the distribution project's `reference` package:
//! `name[:tag][@digest]`, where a name is an optional `domain/` (a host with an
//! optional `:port`) and `/`-separated lower-case path components joined by
//! `.`, `_`, `__` or runs of `-`; a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
//! the whole name is at most 255 characters. The first component is a domain
//! only when it contains `.` or `:`, is `localhost`, or has upper-case letters
//! (docker's rule); otherwise the image lives on Docker Hub, and a single
//! component there gets the `library/` prefix. Digests here must use a
//! registered algorithm (sha256, sha512), since layerscope fetches and verifies
//! by them.

use std::fmt;

use crate::model::digest::{Digest, DigestError};

/// The registry domain that Docker Hub references normalize to.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The old spelling of Docker Hub's domain, accepted as an alias.
const DOCKER_HUB_LEGACY_DOMAIN: &str = "index.docker.io";
/// The path prefix of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";
/// The longest name (domain and path) the grammar allows.
pub const NAME_MAX_LEN: usize = 255;
const TAG_MAX_LEN: usize = 128;

/// A parsed, normalized image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// What is wrong with a reference string; every variant names the part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceError {
    /// The input is empty.
    Empty,
    /// The input has spaces or control characters.
    Whitespace(String),
    /// Domain plus path exceed 255 characters.
    NameTooLong {
        /// The normalized name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// The repository path has upper-case letters.
    UppercaseRepository(String),
    /// The repository path is empty (`host/`, `:tag`).
    MissingRepository(String),
    /// One `/`-separated component of the repository path is malformed.
    BadPathComponent {
        /// The component.
        component: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The registry host is malformed.
    BadDomain {
        /// The domain as written.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The registry port is not a number in 1..=65535.
    BadPort {
        /// The domain as written.
        domain: String,
        /// The port part.
        port: String,
    },
    /// The tag is malformed or too long.
    BadTag {
        /// The tag as written.
        tag: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The part after `@` is not a usable digest.
    BadDigest {
        /// The digest as written.
        digest: String,
        /// Why it does not parse.
        error: DigestError,
    },
    /// More than one `@`.
    ExtraAt(String),
    /// A bare 64-hex string, which docker reserves for image IDs.
    LooksLikeImageId(String),
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ReferenceError::*;
        match self {
            Empty => write!(f, "image reference is empty"),
            Whitespace(s) => write!(f, "image reference {s:?} contains whitespace or control characters"),
            NameTooLong { name, len } => write!(
                f,
                "repository name {name:?} is {len} characters long, the limit is {NAME_MAX_LEN}"
            ),
            UppercaseRepository(p) => {
                write!(f, "repository name {p:?} must be lower case")
            }
            MissingRepository(s) => write!(f, "image reference {s:?} has no repository name"),
            BadPathComponent { component, reason } => {
                write!(f, "repository path component {component:?} is invalid: {reason}")
            }
            BadDomain { domain, reason } => write!(f, "registry host {domain:?} is invalid: {reason}"),
            BadPort { domain, port } => write!(
                f,
                "registry {domain:?} has an invalid port {port:?} (expected a number from 1 to 65535)"
            ),
            BadTag { tag, reason } => write!(f, "tag {tag:?} is invalid: {reason}"),
            BadDigest { digest, error } => write!(f, "digest {digest:?} is invalid: {error}"),
            ExtraAt(s) => write!(f, "image reference {s:?} has more than one '@'"),
            LooksLikeImageId(s) => write!(
                f,
                "{s:?} is a 64-character hex string, which is an image ID, not a repository name"
            ),
        }
    }
}

impl std::error::Error for ReferenceError {}

impl Reference {
    /// Parses and normalizes a reference as `docker pull` does.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ReferenceError::Whitespace(input.to_string()));
        }
        let (rest, digest) = split_digest(input)?;
        let (name, tag) = split_tag(rest);
        if name.is_empty() {
            return Err(ReferenceError::MissingRepository(input.to_string()));
        }
        if name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::LooksLikeImageId(name.to_string()));
        }
        let (domain, path) = split_domain(name);
        if path.is_empty() {
            return Err(ReferenceError::MissingRepository(input.to_string()));
        }
        if let Some(domain) = &domain {
            validate_domain(domain)?;
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::UppercaseRepository(path.to_string()));
        }
        for component in path.split('/') {
            validate_path_component(component)?;
        }
        if let Some(tag) = tag {
            validate_tag(tag)?;
        }
        let (domain, path) = normalize(domain, path);
        let full_len = domain.len() + 1 + path.len();
        if full_len > NAME_MAX_LEN {
            return Err(ReferenceError::NameTooLong {
                name: format!("{domain}/{path}"),
                len: full_len,
            });
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry domain, e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry, e.g. `library/nginx`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The tag, or `latest` when the reference names neither tag nor digest.
    pub fn tag_or_default(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// `domain/path`, e.g. `docker.io/library/nginx`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name as docker shows it: Docker Hub's domain and `library/` dropped.
    pub fn familiar_name(&self) -> String {
        if self.domain != DOCKER_HUB_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The fully qualified form, default tag applied: `docker.io/library/nginx:latest`.
    pub fn full(&self) -> String {
        self.render(self.name())
    }

    /// The short form, default tag applied: `nginx:latest`, `localhost:5000/a/b:t`.
    pub fn familiar(&self) -> String {
        self.render(self.familiar_name())
    }

    fn render(&self, mut name: String) -> String {
        if let Some(tag) = self.tag_or_default() {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(&d.to_string());
        }
        name
    }

    /// The host (and port) to send registry API requests to.
    pub fn registry_api_host(&self) -> &str {
        if self.domain == DOCKER_HUB_DOMAIN {
            DOCKER_HUB_API_HOST
        } else {
            &self.domain
        }
    }

    /// What goes after `/manifests/` in the registry API: the digest when there
    /// is one (it pins the content), else the tag, else `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// A copy with the tag replaced (digest dropped), e.g. for listing tags.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        validate_tag(tag)?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// A copy pinned to `digest` (tag kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn split_digest(input: &str) -> Result<(&str, Option<Digest>), ReferenceError> {
    let Some((rest, digest)) = input.split_once('@') else {
        return Ok((input, None));
    };
    if digest.contains('@') {
        return Err(ReferenceError::ExtraAt(input.to_string()));
    }
    let parsed = Digest::parse(digest).map_err(|error| ReferenceError::BadDigest {
        digest: digest.to_string(),
        error,
    })?;
    Ok((rest, Some(parsed)))
}

/// A `:` after the last `/` starts the tag; earlier ones belong to a port.
fn split_tag(rest: &str) -> (&str, Option<&str>) {
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    }
}

fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn normalize(domain: Option<&str>, path: &str) -> (String, String) {
    let domain = match domain {
        None | Some(DOCKER_HUB_LEGACY_DOMAIN) => DOCKER_HUB_DOMAIN,
        Some(d) => d,
    };
    let path = if domain == DOCKER_HUB_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_string()
    };
    (domain.to_string(), path)
}

fn validate_domain(domain: &str) -> Result<(), ReferenceError> {
    let bad = |reason| ReferenceError::BadDomain {
        domain: domain.to_string(),
        reason,
    };
    let (host, port) = if let Some(after_bracket) = domain.strip_prefix('[') {
        let (inside, after) = after_bracket
            .split_once(']')
            .ok_or_else(|| bad("unclosed '[' in IPv6 address"))?;
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(bad("not an IPv6 address"));
        }
        match after {
            "" => (None, None),
            p => (
                None,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("expected ':' after ']'"))?,
                ),
            ),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(bad("empty host name"));
        }
        for label in host.split('.') {
            validate_domain_label(label).map_err(bad)?;
        }
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && (1..=65535).contains(&port.parse::<u32>().unwrap_or(0));
        if !ok {
            return Err(ReferenceError::BadPort {
                domain: domain.to_string(),
                port: port.to_string(),
            });
        }
    }
    Ok(())
}

fn validate_domain_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty label between dots");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("only letters, digits, '-' and '.' are allowed");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label may not start or end with '-'");
    }
    Ok(())
}

fn validate_path_component(component: &str) -> Result<(), ReferenceError> {
    let bad = |reason| ReferenceError::BadPathComponent {
        component: component.to_string(),
        reason,
    };
    if component.is_empty() {
        return Err(bad("empty (double or trailing '/')"));
    }
    let bytes = component.as_bytes();
    if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(bad("must start and end with a lower-case letter or digit"));
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let run_end = bytes[i..]
            .iter()
            .position(|c| c.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| i + p);
        let separator = &component[i..run_end];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|c| c == b'-');
        if !allowed {
            return Err(bad(
                "separators must be '.', '_', '__' or dashes, between letters or digits",
            ));
        }
        i = run_end;
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let bad = |reason| ReferenceError::BadTag {
        tag: tag.to_string(),
        reason,
    };
    if tag.is_empty() {
        return Err(bad("empty (nothing after ':')"));
    }
    if tag.len() > TAG_MAX_LEN {
        return Err(bad("longer than 128 characters"));
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if !word(tag.as_bytes()[0]) {
        return Err(bad("must start with a letter, digit or '_'"));
    }
    if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        return Err(bad("only letters, digits, '_', '.' and '-' are allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// (input, full form, familiar form)
    fn valid_cases() -> Vec<(String, String, String)> {
        let d = format!("sha256:{HEX}");
        let rows: Vec<(String, String, String)> = vec![
            (
                "nginx".into(),
                "docker.io/library/nginx:latest".into(),
                "nginx:latest".into(),
            ),
            (
                "nginx:1.17.6".into(),
                "docker.io/library/nginx:1.17.6".into(),
                "nginx:1.17.6".into(),
            ),
            (
                "tim23656/nginx".into(),
                "docker.io/tim23656/nginx:latest".into(),
                "tim23656/nginx:latest".into(),
            ),
            (
                "library/nginx".into(),
                "docker.io/library/nginx:latest".into(),
                "nginx:latest".into(),
            ),
            (
                "docker.io/nginx".into(),
                "docker.io/library/nginx:latest".into(),
                "nginx:latest".into(),
            ),
            (
                "docker.io/library/nginx:1".into(),
                "docker.io/library/nginx:1".into(),
                "nginx:1".into(),
            ),
            (
                "index.docker.io/nginx".into(),
                "docker.io/library/nginx:latest".into(),
                "nginx:latest".into(),
            ),
            (
                "index.docker.io/a/b:t".into(),
                "docker.io/a/b:t".into(),
                "a/b:t".into(),
            ),
            (
                "localhost:5000/a/b:t".into(),
                "localhost:5000/a/b:t".into(),
                "localhost:5000/a/b:t".into(),
            ),
            (
                "localhost/a".into(),
                "localhost/a:latest".into(),
                "localhost/a:latest".into(),
            ),
            (
                "localhost:5000/a".into(),
                "localhost:5000/a:latest".into(),
                "localhost:5000/a:latest".into(),
            ),
            (
                format!("host.test/a/b@{d}"),
                format!("host.test/a/b@{d}"),
                format!("host.test/a/b@{d}"),
            ),
            // Without '.', ':' or upper case, docker reads the first component as a Hub user.
            (
                format!("host/a/b@{d}"),
                format!("docker.io/host/a/b@{d}"),
                format!("host/a/b@{d}"),
            ),
            (
                format!("nginx:1.25@{d}"),
                format!("docker.io/library/nginx:1.25@{d}"),
                format!("nginx:1.25@{d}"),
            ),
            (
                format!("nginx@{d}"),
                format!("docker.io/library/nginx@{d}"),
                format!("nginx@{d}"),
            ),
            (
                "ghcr.io/owner/repo/sub:v1.2.3".into(),
                "ghcr.io/owner/repo/sub:v1.2.3".into(),
                "ghcr.io/owner/repo/sub:v1.2.3".into(),
            ),
            (
                "Example.COM/a".into(),
                "Example.COM/a:latest".into(),
                "Example.COM/a:latest".into(),
            ),
            (
                "UPPER/a".into(),
                "UPPER/a:latest".into(),
                "UPPER/a:latest".into(),
            ),
            (
                "127.0.0.1:5000/x".into(),
                "127.0.0.1:5000/x:latest".into(),
                "127.0.0.1:5000/x:latest".into(),
            ),
            (
                "[::1]:5000/x:y".into(),
                "[::1]:5000/x:y".into(),
                "[::1]:5000/x:y".into(),
            ),
            (
                "[fe80::1]/x".into(),
                "[fe80::1]/x:latest".into(),
                "[fe80::1]/x:latest".into(),
            ),
            (
                "a.b-c/d__e/f--g.h_i".into(),
                "a.b-c/d__e/f--g.h_i:latest".into(),
                "a.b-c/d__e/f--g.h_i:latest".into(),
            ),
            (
                "a:_tag".into(),
                "docker.io/library/a:_tag".into(),
                "a:_tag".into(),
            ),
            (
                "a:T.a-g_9".into(),
                "docker.io/library/a:T.a-g_9".into(),
                "a:T.a-g_9".into(),
            ),
            (
                format!("a:{}", "t".repeat(128)),
                format!("docker.io/library/a:{}", "t".repeat(128)),
                format!("a:{}", "t".repeat(128)),
            ),
            (
                "registry:5000/library/nginx".into(),
                "registry:5000/library/nginx:latest".into(),
                "registry:5000/library/nginx:latest".into(),
            ),
        ];
        rows
    }

    #[test]
    fn valid_references_normalize() {
        for (input, full, familiar) in valid_cases() {
            let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.full(), full, "full form of {input}");
            assert_eq!(r.familiar(), familiar, "familiar form of {input}");
            // The full form is itself a valid reference that names the same image.
            // (A reference without a tag gains the default tag in its full form.)
            let again = Reference::parse(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
            assert_eq!(
                (
                    again.domain(),
                    again.path(),
                    again.tag_or_default(),
                    again.digest()
                ),
                (r.domain(), r.path(), r.tag_or_default(), r.digest()),
                "{full} parsed again"
            );
        }
    }

    /// (input, substring the error message must contain)
    fn invalid_cases() -> Vec<(String, &'static str)> {
        vec![
            ("".into(), "empty"),
            ("Nginx".into(), "lower case"),
            ("tim/Nginx".into(), "lower case"),
            ("nginx:".into(), "tag \"\""),
            (":tag".into(), "no repository"),
            ("host:5000/".into(), "no repository"),
            ("nginx:bad tag".into(), "whitespace"),
            ("nginx:-x".into(), "must start with"),
            ("nginx:a+b".into(), "tag \"a+b\""),
            (format!("a:{}", "t".repeat(129)), "longer than 128"),
            ("nginx@sha256:abc".into(), "must have 64 hex"),
            ("nginx@md5:abc".into(), "not supported"),
            (format!("nginx@sha256:{}", "A".repeat(64)), "0-9 and a-f"),
            ("nginx@".into(), "digest \"\""),
            (format!("a@sha256:{HEX}@x"), "more than one '@'"),
            ("localhost:abc/a".into(), "invalid port \"abc\""),
            ("localhost:99999/a".into(), "invalid port \"99999\""),
            ("localhost:0/a".into(), "invalid port \"0\""),
            ("host:/a".into(), "invalid port \"\""),
            ("-host.com/a".into(), "registry host"),
            ("host..com/a".into(), "empty label"),
            ("[zz::1]/a".into(), "IPv6"),
            ("[::1/a".into(), "unclosed"),
            ("a//b".into(), "empty (double"),
            ("a/b/".into(), "empty (double"),
            ("_a".into(), "must start and end"),
            ("a-".into(), "must start and end"),
            ("a...b".into(), "separators"),
            ("a___b".into(), "separators"),
            ("a/b$c".into(), "separators"),
            (
                "foo_bar.com:8080/x".into(),
                "registry host \"foo_bar.com:8080\"",
            ),
            (HEX.into(), "image ID"),
            (format!("host.com/{}", "a".repeat(250)), "limit is 255"),
        ]
    }

    #[test]
    fn invalid_references_name_the_part() {
        for (input, needle) in invalid_cases() {
            let err = Reference::parse(&input).expect_err(&input).to_string();
            assert!(
                err.contains(needle),
                "{input:?}: error {err:?} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn table_has_at_least_forty_cases() {
        assert!(valid_cases().len() + invalid_cases().len() >= 40);
    }

    #[test]
    fn parts_and_registry_helpers() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/nginx");
        assert_eq!(r.tag(), None);
        assert_eq!(r.tag_or_default(), Some("latest"));
        assert_eq!(r.registry_api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.familiar_name(), "nginx");

        let r = Reference::parse(&format!("localhost:5000/a/b:t@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry_api_host(), "localhost:5000");
        assert_eq!(r.tag(), Some("t"));
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(r.familiar_name(), "localhost:5000/a/b");

        let r = Reference::parse("docker.io/library/a/b").unwrap();
        assert_eq!(r.familiar_name(), "library/a/b");
        let t = r.with_tag("v2").unwrap();
        assert_eq!(t.full(), "docker.io/library/a/b:v2");
        assert!(r.with_tag("bad tag").is_err());
    }
}
