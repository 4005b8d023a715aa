//! The Distribution API's operations as values: request builders and response readers for
//! `/v2/`, manifests, blobs, tag lists and the catalog; the registry error body; `Link`
//! pagination. Rate-limit headers are [`super::rate_limit`]'s.
//!
//! Builders return requests without `Authorization`: [`super::session`] adds the token or
//! credentials. Readers take the response the caller received and check everything the
//! core can check: status, size, digests, JSON shape, and where a `Link` points.

use std::fmt;

use super::error::{sanitize, DigestClaim, RegistryError};
use super::http::{percent_encode, Endpoint, Method, Request, Response, Url};
use super::rate_limit::{LimitReset, RateLimit};
use crate::limits::{Limit, Limits};
use crate::model::digest::{Algorithm, Digest, DigestRole, Hasher};
use crate::model::manifest::{self, Document};
use crate::model::media;
use crate::model::reference::{Reference, ReferenceError};

/// The largest tag-list or catalog page read. Distribution answers pages of at most 1000
/// names when asked with `n`; registries that ignore `n` send everything at once, and 4 MiB
/// holds some 150,000 tags of typical length.
pub const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;

/// The largest body read for a status without content (`/v2/`, `HEAD`, errors). Error
/// bodies longer than this are not parsed; the status alone is reported.
pub const MAX_SMALL_BODY_BYTES: usize = 64 * 1024;

/// The most error entries kept from one error body.
const MAX_ERROR_ENTRIES: usize = 20;

/// The header in which registries name a manifest's or blob's digest.
pub const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// A repository name inside a registry: `library/nginx`, `owner/repo/sub`.
///
/// Validated with the reference grammar ([`Reference::parse`]), so the name can go in a URL
/// path as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repository(String);

impl Repository {
    /// Parses a repository path (no registry host, tag or digest). Docker Hub's official
    /// images need their `library/` prefix here; [`Repository::of`] adds it from a reference.
    pub fn parse(name: &str) -> Result<Repository, ReferenceError> {
        let reference = Reference::parse(&format!("registry.invalid/{name}"))?;
        if reference.path() != name || reference.tag().is_some() || reference.digest().is_some() {
            return Err(ReferenceError::BadPathComponent {
                component: name.to_string(),
                reason: "a repository name has no registry host, tag or digest",
            });
        }
        Ok(Repository(name.to_string()))
    }

    /// The repository a reference names (`nginx` -> `library/nginx`).
    pub fn of(reference: &Reference) -> Repository {
        Repository(reference.path().to_string())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What goes after `/manifests/`: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ManifestRef {
    /// A tag, which the registry may move.
    Tag(String),
    /// A digest, which pins the content and is checked against it.
    Digest(Digest),
}

impl ManifestRef {
    /// The digest when the reference has one (it pins the content), else its tag or
    /// `latest`, as [`Reference::manifest_reference`] chooses.
    pub fn of(reference: &Reference) -> ManifestRef {
        match reference.digest() {
            Some(d) => ManifestRef::Digest(d.clone()),
            None => ManifestRef::Tag(reference.tag_or_default().unwrap_or("latest").to_string()),
        }
    }
}

impl ManifestRef {
    /// The manifest as messages name it, inside its registry: `library/nginx:1.25`, or
    /// `library/nginx@sha256:…` for a digest.
    pub fn in_repository(&self, repository: &str) -> String {
        match self {
            ManifestRef::Tag(tag) => format!("{repository}:{tag}"),
            ManifestRef::Digest(digest) => format!("{repository}@{digest}"),
        }
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(t) => f.write_str(t),
            ManifestRef::Digest(d) => write!(f, "{d}"),
        }
    }
}

/// `GET /v2/`: whether the registry speaks the API and how it authenticates.
pub fn ping(endpoint: &Endpoint) -> Request {
    Request::new(Method::Get, endpoint.url("/v2/"))
}

/// `GET` or `HEAD /v2/NAME/manifests/REF` with `Accept` listing the four manifest types
/// layerscope reads ([`media::MANIFEST_ACCEPT`]). Without `Accept`, registries convert
/// to (or refuse with) Docker schema 1.
pub fn manifest(
    endpoint: &Endpoint,
    repository: &Repository,
    reference: &ManifestRef,
    method: Method,
) -> Request {
    let mut request = Request::new(
        method,
        endpoint.url(&format!("/v2/{repository}/manifests/{reference}")),
    );
    request.set_header("Accept", media::MANIFEST_ACCEPT);
    request
}

/// `GET` or `HEAD /v2/NAME/blobs/DIGEST`. Registries commonly answer `307` to a storage
/// URL; the caller follows it, and must not carry `Authorization` to another host (`fetch`
/// drops it on cross-origin redirects by the Fetch standard; ureq drops it when the host
/// changes).
pub fn blob(
    endpoint: &Endpoint,
    repository: &Repository,
    digest: &Digest,
    method: Method,
) -> Request {
    Request::new(
        method,
        endpoint.url(&format!("/v2/{repository}/blobs/{digest}")),
    )
}

/// `GET /v2/NAME/tags/list`, with `n` (page size) and `last` (the last tag of the previous
/// page) when given.
pub fn tags(
    endpoint: &Endpoint,
    repository: &Repository,
    page_size: Option<u32>,
    last: Option<&str>,
) -> Request {
    Request::new(
        Method::Get,
        endpoint.url(&with_page(
            &format!("/v2/{repository}/tags/list"),
            page_size,
            last,
        )),
    )
}

/// `GET /v2/_catalog`, with `n` and `last` when given.
pub fn catalog(endpoint: &Endpoint, page_size: Option<u32>, last: Option<&str>) -> Request {
    Request::new(
        Method::Get,
        endpoint.url(&with_page("/v2/_catalog", page_size, last)),
    )
}

fn with_page(path: &str, page_size: Option<u32>, last: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(n) = page_size {
        query.push(format!("n={n}"));
    }
    if let Some(last) = last {
        query.push(format!("last={}", percent_encode(last)));
    }
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// The registry error codes of the Distribution spec (and Docker Hub's `TOOMANYREQUESTS`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `BLOB_UNKNOWN`.
    BlobUnknown,
    /// `BLOB_UPLOAD_INVALID`.
    BlobUploadInvalid,
    /// `BLOB_UPLOAD_UNKNOWN`.
    BlobUploadUnknown,
    /// `DIGEST_INVALID`.
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN`.
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID`.
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN`.
    ManifestUnknown,
    /// `MANIFEST_UNVERIFIED`.
    ManifestUnverified,
    /// `NAME_INVALID`.
    NameInvalid,
    /// `NAME_UNKNOWN`.
    NameUnknown,
    /// `SIZE_INVALID`.
    SizeInvalid,
    /// `TAG_INVALID`.
    TagInvalid,
    /// `UNAUTHORIZED`.
    Unauthorized,
    /// `DENIED`.
    Denied,
    /// `UNSUPPORTED`.
    Unsupported,
    /// `TOOMANYREQUESTS`.
    TooManyRequests,
    /// Any other code, sanitized (empty when the body named none).
    Other(String),
}

impl ErrorCode {
    /// Reads a code as the registry wrote it.
    pub fn parse(code: &str) -> ErrorCode {
        use ErrorCode::*;
        match code {
            "BLOB_UNKNOWN" => BlobUnknown,
            "BLOB_UPLOAD_INVALID" => BlobUploadInvalid,
            "BLOB_UPLOAD_UNKNOWN" => BlobUploadUnknown,
            "DIGEST_INVALID" => DigestInvalid,
            "MANIFEST_BLOB_UNKNOWN" => ManifestBlobUnknown,
            "MANIFEST_INVALID" => ManifestInvalid,
            "MANIFEST_UNKNOWN" => ManifestUnknown,
            "MANIFEST_UNVERIFIED" => ManifestUnverified,
            "NAME_INVALID" => NameInvalid,
            "NAME_UNKNOWN" => NameUnknown,
            "SIZE_INVALID" => SizeInvalid,
            "TAG_INVALID" => TagInvalid,
            "UNAUTHORIZED" => Unauthorized,
            "DENIED" => Denied,
            "UNSUPPORTED" => Unsupported,
            "TOOMANYREQUESTS" => TooManyRequests,
            other => Other(sanitize(other)),
        }
    }

    /// The code as the spec spells it.
    pub fn as_str(&self) -> &str {
        use ErrorCode::*;
        match self {
            BlobUnknown => "BLOB_UNKNOWN",
            BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            DigestInvalid => "DIGEST_INVALID",
            ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ManifestInvalid => "MANIFEST_INVALID",
            ManifestUnknown => "MANIFEST_UNKNOWN",
            ManifestUnverified => "MANIFEST_UNVERIFIED",
            NameInvalid => "NAME_INVALID",
            NameUnknown => "NAME_UNKNOWN",
            SizeInvalid => "SIZE_INVALID",
            TagInvalid => "TAG_INVALID",
            Unauthorized => "UNAUTHORIZED",
            Denied => "DENIED",
            Unsupported => "UNSUPPORTED",
            TooManyRequests => "TOOMANYREQUESTS",
            Other(s) => s,
        }
    }
}

/// One entry of a registry error body, sanitized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEntry {
    /// The code.
    pub code: ErrorCode,
    /// The message for people.
    pub message: String,
    /// `detail`, as text (JSON other than a string is kept compact), when not empty.
    pub detail: Option<String>,
}

impl fmt::Display for ErrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.as_str();
        match (code.is_empty(), self.message.is_empty()) {
            (false, false) => write!(f, "{code}: {}", self.message)?,
            (false, true) => f.write_str(code)?,
            (true, _) => f.write_str(&self.message)?,
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Reads `{"errors":[{"code","message","detail"}]}` (the Distribution spec's error body).
/// Token services answer in other shapes (Docker Hub's `{"details":"incorrect username or
/// password"}`, OAuth2's `{"error":..,"error_description":..}`); their text becomes one
/// entry without a code. Anything else, or a body over [`MAX_SMALL_BODY_BYTES`], gives no
/// entries.
pub fn parse_errors(body: &[u8]) -> Vec<ErrorEntry> {
    if body.is_empty() || body.len() > MAX_SMALL_BODY_BYTES {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice(body) else {
        return Vec::new();
    };
    let text = |v: Option<&serde_json::Value>| -> String {
        v.and_then(|v| v.as_str()).map(sanitize).unwrap_or_default()
    };
    if let Some(serde_json::Value::Array(errors)) = root.get("errors") {
        return errors
            .iter()
            .filter_map(|e| e.as_object())
            .take(MAX_ERROR_ENTRIES)
            .map(|e| ErrorEntry {
                code: ErrorCode::parse(&text(e.get("code"))),
                message: text(e.get("message")),
                detail: e.get("detail").and_then(detail_text),
            })
            .collect();
    }
    let message = ["details", "error_description", "message", "error"]
        .iter()
        .map(|k| text(root.get(*k)))
        .find(|m| !m.is_empty());
    message
        .map(|message| {
            vec![ErrorEntry {
                code: ErrorCode::Other(String::new()),
                message,
                detail: None,
            }]
        })
        .unwrap_or_default()
}

fn detail_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) if a.is_empty() => return None,
        serde_json::Value::Object(o) if o.is_empty() => return None,
        other => other.to_string(),
    };
    (!text.is_empty()).then(|| sanitize(&text))
}

/// The next page, from a `Link: <...>; rel="next"` header: a URL on the registry's own
/// origin under `/v2/`. Only [`next_link`] makes one, so holding one means it was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextPage {
    url: Url,
}

impl NextPage {
    /// The URL to request.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `last` parameter of the link, when it has one (Distribution's cursor).
    pub fn last(&self) -> Option<String> {
        self.url.query_param("last")
    }
}

/// Finds `rel="next"` in the response's `Link` headers (RFC 8288) and resolves it against
/// `request_url`.
///
/// Distribution sends a relative link (`</v2/_catalog?last=b&n=2>; rel="next"`), some
/// registries an absolute one. containers/image keeps only the path and query of whatever
/// the link says, so a link to another host silently becomes a request to the registry;
/// here a link to another origin is refused with an error instead, since a registry has no
/// reason to send one and following it would carry the token elsewhere.
pub fn next_link(
    endpoint: &Endpoint,
    response: &Response,
    request_url: &Url,
) -> Result<Option<NextPage>, RegistryError> {
    for value in response.header_values("link") {
        for (target, rel) in parse_link_header(value) {
            let is_next = rel
                .split_whitespace()
                .any(|r| r.eq_ignore_ascii_case("next"));
            if !is_next {
                continue;
            }
            let bad = |reason| RegistryError::BadLink {
                registry: endpoint.host(),
                link: sanitize(target),
                reason,
            };
            let url = request_url.join(target).map_err(bad)?;
            if !endpoint.same_origin(&url) {
                return Err(bad("it points to another origin than the registry"));
            }
            if !url.path().starts_with("/v2/") {
                return Err(bad("it is not a registry API path (/v2/...)"));
            }
            return Ok(Some(NextPage { url }));
        }
    }
    Ok(None)
}

/// `<target>; rel="next", <other>; rel=prev` -> [(target, rel)], rel empty when absent.
fn parse_link_header(value: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(after_open) = rest.strip_prefix('<') else {
            break;
        };
        let Some((target, after)) = after_open.split_once('>') else {
            break;
        };
        rest = after;
        let mut rel = String::new();
        // Parameters up to the next link (a ',' outside quotes).
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            let Some(param) = rest.strip_prefix(';') else {
                break;
            };
            let param = param.trim_start_matches([' ', '\t']);
            let name_end = param.find(['=', ';', ',']).unwrap_or(param.len());
            let name = param[..name_end].trim();
            rest = &param[name_end..];
            let mut value = String::new();
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start_matches([' ', '\t']);
                if let Some(q) = v.strip_prefix('"') {
                    let end = q.find('"').unwrap_or(q.len());
                    value = q[..end].to_string();
                    rest = q.get(end + 1..).unwrap_or("");
                } else {
                    let end = v.find([';', ',']).unwrap_or(v.len());
                    value = v[..end].trim().to_string();
                    rest = &v[end..];
                }
            }
            if name.eq_ignore_ascii_case("rel") && rel.is_empty() {
                rel = value;
            }
        }
        out.push((target.trim(), rel));
    }
    out
}

/// A manifest or index read, its digest computed (and checked against the registry's
/// `Docker-Content-Digest`).
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// The digest of the bytes (in the algorithm asked for, else sha256); when fetched by
    /// digest, the caller compares it with the one asked for.
    pub digest: Digest,
    /// The `Content-Type` the registry declared, without parameters.
    pub content_type: Option<String>,
    /// The parsed document.
    pub document: Document,
    /// The bytes, exactly as received (their digest is the manifest's identity).
    pub bytes: Vec<u8>,
}

/// What a tag points at, from `HEAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedTag {
    /// The manifest's digest.
    pub digest: Digest,
    /// The declared media type, without parameters.
    pub content_type: Option<String>,
    /// `Content-Length`: the manifest's size.
    pub size: Option<u64>,
}

/// A small blob (an image config) as received. Its digest is not checked here: the
/// analysis compares the bytes with [`FetchedBlob::asked`] and marks a mismatch in the
/// report, showing the config still.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBlob {
    /// The digest the blob was fetched by.
    pub asked: Digest,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// One page of a tag list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagPage {
    /// The repository name as the registry wrote it.
    pub name: String,
    /// Tags on this page, as sent (the page escapes them; [`Reference::with_tag`]
    /// validates one).
    pub tags: Vec<String>,
    /// The next page, when the registry sent `Link: <...>; rel="next"`.
    pub next: Option<NextPage>,
}

/// One page of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogPage {
    /// Repository names on this page.
    pub repositories: Vec<String>,
    /// The next page, when the registry sent `Link: <...>; rel="next"`.
    pub next: Option<NextPage>,
}

/// The error for an unsuccessful answer other than `401`/`403` (which the session turns
/// into [`RegistryError::Unauthorized`] and [`RegistryError::Denied`]): `429` becomes
/// [`RegistryError::TooManyRequests`], anything else [`RegistryError::Status`].
pub fn status_error(
    endpoint: &Endpoint,
    response: &Response,
    subject: &str,
    now: i64,
) -> RegistryError {
    let errors = parse_errors(&response.body);
    if response.status == 429 {
        return RegistryError::TooManyRequests {
            registry: endpoint.host(),
            reset: LimitReset::of(response, now),
            rate_limit: RateLimit::from_response(response).map(Box::new),
            errors,
        };
    }
    RegistryError::Status {
        registry: endpoint.host(),
        status: response.status,
        subject: subject.to_string(),
        errors,
    }
}

/// A manifest or config `what` over the document limit: its size from `Content-Length` when
/// the registry sent one that agrees with the bytes read, else the bytes read (one past the
/// limit: the caller stops there).
fn document_too_large(
    endpoint: &Endpoint,
    what: String,
    response: &Response,
    limits: &Limits,
) -> Option<RegistryError> {
    let read = response.body.len() as u64;
    let size = response
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&declared| declared >= read)
        .unwrap_or(read);
    limits
        .check(Limit::DocumentBytes, &what, size)
        .err()
        .map(|source| RegistryError::Limit {
            registry: endpoint.host(),
            source,
        })
}

fn too_large(endpoint: &Endpoint, what: &'static str, size: usize, limit: usize) -> RegistryError {
    RegistryError::TooLarge {
        registry: endpoint.host(),
        what,
        size,
        limit,
    }
}

fn content_digest(
    endpoint: &Endpoint,
    response: &Response,
) -> Result<Option<Digest>, RegistryError> {
    match response.header(DOCKER_CONTENT_DIGEST) {
        None | Some("") => Ok(None),
        Some(value) => {
            Digest::parse(value)
                .map(Some)
                .map_err(|source| RegistryError::BadDigestHeader {
                    registry: endpoint.host(),
                    value: sanitize(value),
                    source,
                })
        }
    }
}

fn digest_with(algorithm: Algorithm, bytes: &[u8]) -> Digest {
    let mut h = Hasher::new(algorithm);
    h.update(bytes);
    h.finish()
}

fn content_type(response: &Response) -> Option<String> {
    response
        .header("content-type")
        .map(media::essence)
        .filter(|t| !t.is_empty())
        .map(sanitize)
}

/// Reads a `200` manifest answer for `reference` of `repository`.
///
/// The body's digest is computed (in the algorithm asked for, when fetching by digest) and
/// compared with `Docker-Content-Digest` when sent, in its own algorithm: a registry that
/// contradicts itself is a [`RegistryError::DigestMismatch`] naming both digests. A body that
/// is not the digest asked for is not refused here: [`FetchedManifest::digest`] is what the
/// bytes hash to, and the caller marks the mismatch in the report while still showing the
/// document. Then the bytes are parsed by [`manifest::parse`], with `Content-Type` as the
/// declared media type. A body over `limits.max_document_bytes` (or whose `Content-Length`
/// says it is) is refused naming the limit.
pub fn read_manifest(
    endpoint: &Endpoint,
    repository: &Repository,
    reference: &ManifestRef,
    response: Response,
    limits: &Limits,
) -> Result<FetchedManifest, RegistryError> {
    let subject = reference.in_repository(repository.as_str());
    if let Some(error) = document_too_large(
        endpoint,
        format!("the manifest {subject}"),
        &response,
        limits,
    ) {
        return Err(error);
    }
    let body = &response.body;
    let header = content_digest(endpoint, &response)?;
    let mismatch = |claim, expected: &Digest, actual: Digest| RegistryError::DigestMismatch {
        registry: endpoint.host(),
        role: DigestRole::Manifest,
        subject: subject.clone(),
        claim,
        expected: expected.clone(),
        actual,
    };
    let digest = match reference {
        ManifestRef::Digest(asked) => digest_with(asked.algorithm(), body),
        ManifestRef::Tag(_) => digest_with(
            header.as_ref().map_or(Algorithm::Sha256, Digest::algorithm),
            body,
        ),
    };
    if let Some(claimed) = &header {
        let actual = if claimed.algorithm() == digest.algorithm() {
            digest.clone()
        } else {
            digest_with(claimed.algorithm(), body)
        };
        if actual != *claimed {
            return Err(mismatch(DigestClaim::Header, claimed, actual));
        }
    }
    let declared = content_type(&response);
    let document = manifest::parse(body, declared.as_deref()).map_err(|source| {
        RegistryError::BadManifest {
            registry: endpoint.host(),
            subject: subject.clone(),
            source,
        }
    })?;
    Ok(FetchedManifest {
        digest,
        content_type: declared,
        document,
        bytes: response.body,
    })
}

/// Reads a `200` answer to `HEAD` on a manifest: the digest from `Docker-Content-Digest`.
/// `None` when the registry did not send it (the session then falls back to `GET`).
pub fn read_resolved(
    endpoint: &Endpoint,
    response: &Response,
) -> Result<Option<ResolvedTag>, RegistryError> {
    Ok(
        content_digest(endpoint, response)?.map(|digest| ResolvedTag {
            digest,
            content_type: content_type(response),
            size: response
                .header("content-length")
                .and_then(|v| v.parse().ok()),
        }),
    )
}

/// Reads a `200` config blob answer of at most `limits.max_document_bytes`, fetched by
/// `digest`.
pub fn read_config_blob(
    endpoint: &Endpoint,
    digest: &Digest,
    response: Response,
    limits: &Limits,
) -> Result<FetchedBlob, RegistryError> {
    if let Some(error) = document_too_large(
        endpoint,
        format!("the image config {digest}"),
        &response,
        limits,
    ) {
        return Err(error);
    }
    Ok(FetchedBlob {
        asked: digest.clone(),
        bytes: response.body,
    })
}

#[derive(serde::Deserialize)]
struct TagsBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct CatalogBody {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// Reads a `200` tag-list page (`{"name": "...", "tags": [...]}`; `tags` may be `null`
/// for a repository without tags) and its `Link`.
pub fn read_tags(
    endpoint: &Endpoint,
    response: &Response,
    request_url: &Url,
) -> Result<TagPage, RegistryError> {
    let body = list_body(endpoint, response, "tag list")?;
    let parsed: TagsBody = serde_json::from_slice(body).map_err(|e| RegistryError::BadBody {
        registry: endpoint.host(),
        what: "tag list",
        detail: e.to_string(),
    })?;
    Ok(TagPage {
        name: parsed.name,
        tags: parsed.tags.unwrap_or_default(),
        next: next_link(endpoint, response, request_url)?,
    })
}

/// Reads a `200` catalog page (`{"repositories": [...]}`) and its `Link`.
pub fn read_catalog(
    endpoint: &Endpoint,
    response: &Response,
    request_url: &Url,
) -> Result<CatalogPage, RegistryError> {
    let body = list_body(endpoint, response, "catalog")?;
    let parsed: CatalogBody = serde_json::from_slice(body).map_err(|e| RegistryError::BadBody {
        registry: endpoint.host(),
        what: "catalog",
        detail: e.to_string(),
    })?;
    Ok(CatalogPage {
        repositories: parsed.repositories.unwrap_or_default(),
        next: next_link(endpoint, response, request_url)?,
    })
}

fn list_body<'r>(
    endpoint: &Endpoint,
    response: &'r Response,
    what: &'static str,
) -> Result<&'r [u8], RegistryError> {
    if response.body.len() > MAX_LIST_BYTES {
        return Err(too_large(
            endpoint,
            what,
            response.body.len(),
            MAX_LIST_BYTES,
        ));
    }
    Ok(&response.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::MAX_MANIFEST_BYTES;
    use crate::model::media::OCI_MANIFEST;
    use crate::registry::http::InsecureRegistries;

    fn hub() -> Endpoint {
        Endpoint::new("registry-1.docker.io", &InsecureRegistries::none()).unwrap()
    }

    fn repo(name: &str) -> Repository {
        Repository::parse(name).unwrap()
    }

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":32}]}"#;

    #[test]
    fn repository_names() {
        assert_eq!(repo("library/nginx").as_str(), "library/nginx");
        assert_eq!(
            Repository::of(&Reference::parse("nginx:1").unwrap()).as_str(),
            "library/nginx"
        );
        for bad in [
            "",
            "Nginx",
            "a//b",
            "a:tag",
            "host.com:5000/a",
            "a@sha256:0",
            "../etc",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_urls() {
        let e = hub();
        let r = repo("library/nginx");
        assert_eq!(ping(&e).url, "https://registry-1.docker.io/v2/");
        let m = manifest(&e, &r, &ManifestRef::Tag("1.25".into()), Method::Head);
        assert_eq!(m.method, Method::Head);
        assert_eq!(
            m.url,
            "https://registry-1.docker.io/v2/library/nginx/manifests/1.25"
        );
        assert_eq!(m.header("accept"), Some(media::MANIFEST_ACCEPT));
        let d = Digest::sha256_of(b"x");
        let b = blob(&e, &r, &d, Method::Get);
        assert_eq!(
            b.url,
            format!("https://registry-1.docker.io/v2/library/nginx/blobs/{d}")
        );
        assert_eq!(
            tags(&e, &r, Some(50), Some("1.2 a")).url,
            "https://registry-1.docker.io/v2/library/nginx/tags/list?n=50&last=1.2%20a"
        );
        assert_eq!(
            tags(&e, &r, None, None).url,
            "https://registry-1.docker.io/v2/library/nginx/tags/list"
        );
        assert_eq!(
            catalog(&e, Some(100), Some("a/b")).url,
            "https://registry-1.docker.io/v2/_catalog?n=100&last=a%2Fb"
        );
        let pinned = Reference::parse(&format!("nginx@{d}")).unwrap();
        assert_eq!(ManifestRef::of(&pinned), ManifestRef::Digest(d));
        assert_eq!(
            ManifestRef::of(&Reference::parse("nginx").unwrap()),
            ManifestRef::Tag("latest".into())
        );
    }

    #[test]
    fn distribution_error_bodies() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#;
        let e = parse_errors(body);
        assert_eq!(e[0].code, ErrorCode::ManifestUnknown);
        assert_eq!(
            e[0].to_string(),
            r#"MANIFEST_UNKNOWN: manifest unknown ({"Tag":"nope"})"#
        );
        // Docker Hub, anonymous pull of a missing or private repository.
        let hub = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"library/nope","Action":"pull"}]}]}"#;
        let e = parse_errors(hub);
        assert_eq!(e[0].code, ErrorCode::Unauthorized);
        assert!(e[0].detail.as_deref().unwrap().contains("library/nope"));
        // ghcr.io
        let e = parse_errors(br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#);
        assert_eq!(
            (e[0].code.clone(), e[0].detail.clone()),
            (ErrorCode::Denied, None)
        );
        let e = parse_errors(br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#);
        assert_eq!(e[0].code, ErrorCode::TooManyRequests);
        let e = parse_errors(br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{}},{"code":"X_\u0007NEW"}]}"#);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].to_string(),
            "NAME_UNKNOWN: repository name not known to registry"
        );
        assert_eq!(e[1].code, ErrorCode::Other("X_ NEW".into()));
        // Docker Hub's token service.
        let e = parse_errors(br#"{"details":"incorrect username or password"}"#);
        assert_eq!(e[0].to_string(), "incorrect username or password");
        assert!(parse_errors(b"<html>404</html>").is_empty());
        assert!(parse_errors(br#"{"errors":"nope"}"#).is_empty());
        assert!(parse_errors(&vec![b' '; MAX_SMALL_BODY_BYTES + 1]).is_empty());
    }

    #[test]
    fn too_many_requests_error_shows_limit_and_reset() {
        let r = Response::new(429)
            .with_header("ratelimit-limit", "100;w=21600")
            .with_header("ratelimit-remaining", "0;w=21600")
            .with_header("retry-after", "3600")
            .with_body(&br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#[..]);
        let e = status_error(&hub(), &r, "manifest library/nginx:latest", 1_800_000_000);
        let m = e.to_string();
        assert!(matches!(
            e,
            RegistryError::TooManyRequests {
                reset: Some(LimitReset::RetryAfter(1_800_003_600)),
                ..
            }
        ));
        for needle in [
            "registry-1.docker.io",
            "0 of 100 pulls left in this 6-hour window",
            "try again after 2027-01-15T09:00:00Z",
            "TOOMANYREQUESTS",
        ] {
            assert!(m.contains(needle), "{needle}: {m}");
        }
        // The page's words: local time (here UTC+1), Docker Hub by name.
        assert_eq!(
            e.limit_message(1_800_000_000, 60).unwrap(),
            "Docker Hub's pull limit is reached (0 of 100 pulls left in this 6-hour window); \
             it resets at 10:00. It says: TOOMANYREQUESTS: You have reached your pull rate limit."
        );
        assert!(status_error(&hub(), &Response::new(500), "x", 0)
            .limit_message(0, 0)
            .is_none());
        // Without a reset header, the window from the answer is the latest reset.
        let window_only = Response::new(429)
            .with_header("ratelimit-limit", "100;w=21600")
            .with_header("ratelimit-remaining", "0;w=21600");
        let e = status_error(
            &hub(),
            &window_only,
            "manifest library/nginx:latest",
            1_800_000_000,
        );
        assert!(
            e.to_string()
                .contains("back by 2027-01-15T14:00:00Z at the latest"),
            "{e}"
        );
    }

    #[test]
    fn not_found_errors() {
        let r = Response::new(404).with_body(
            &br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#[..],
        );
        let e = status_error(&hub(), &r, "manifest library/nginx:nope", 0);
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "registry-1.docker.io answered 404 for manifest library/nginx:nope: MANIFEST_UNKNOWN: manifest unknown"
        );
        let e = status_error(&hub(), &Response::new(500), "x", 0);
        assert!(!e.is_not_found());
    }

    fn link_response(link: &str) -> Response {
        Response::new(200).with_header("Link", link)
    }

    #[test]
    fn link_pagination_relative_and_absolute() {
        let e = Endpoint::new("localhost:5000", &InsecureRegistries::none()).unwrap();
        let asked = Url::parse("http://localhost:5000/v2/_catalog?n=2").unwrap();
        // Distribution's form.
        let next = next_link(
            &e,
            &link_response("</v2/_catalog?last=b&n=2>; rel=\"next\""),
            &asked,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            next.url().to_string(),
            "http://localhost:5000/v2/_catalog?last=b&n=2"
        );
        assert_eq!(next.last().as_deref(), Some("b"));
        // Absolute, on the same origin (default port spelled out), among other relations.
        let next = next_link(
            &e,
            &link_response("<http://LOCALHOST:5000/v2/_catalog?last=c%2Fd&n=2>; title=\"x, y\"; rel=\"prev next\", </v2/x>; rel=last"),
            &asked,
        )
        .unwrap()
        .unwrap();
        assert_eq!(next.last().as_deref(), Some("c/d"));
        // No next relation.
        assert!(
            next_link(&e, &link_response("</v2/_catalog?n=2>; rel=prev"), &asked)
                .unwrap()
                .is_none()
        );
        assert!(next_link(&e, &Response::new(200), &asked)
            .unwrap()
            .is_none());
        // The second Link header line holds the next link.
        let two = Response::new(200)
            .with_header("link", "</v2/a>; rel=\"first\"")
            .with_header("link", "</v2/_catalog?last=z>; rel=next");
        assert_eq!(
            next_link(&e, &two, &asked)
                .unwrap()
                .unwrap()
                .last()
                .as_deref(),
            Some("z")
        );
    }

    #[test]
    fn link_to_another_origin_is_refused() {
        let e = hub();
        let asked = Url::parse("https://registry-1.docker.io/v2/library/nginx/tags/list").unwrap();
        for link in [
            "<https://evil.example/v2/library/nginx/tags/list?last=a>; rel=\"next\"",
            "<//evil.example/v2/x>; rel=next",
            "<http://registry-1.docker.io/v2/x>; rel=next",
            "<https://registry-1.docker.io:8443/v2/x>; rel=next",
            "<https://registry-1.docker.io@evil.example/v2/x>; rel=next",
            "</token?x=1>; rel=next",
        ] {
            let err = next_link(&e, &link_response(link), &asked).unwrap_err();
            assert!(
                matches!(err, RegistryError::BadLink { .. }),
                "{link}: {err}"
            );
        }
    }

    #[test]
    fn manifest_by_tag_checks_the_header_digest() {
        let e = hub();
        let r = repo("library/nginx");
        let d = Digest::sha256_of(MANIFEST.as_bytes());
        let ok = Response::new(200)
            .with_header("Content-Type", OCI_MANIFEST)
            .with_header("Docker-Content-Digest", &d.to_string())
            .with_body(MANIFEST);
        let m = read_manifest(
            &e,
            &r,
            &ManifestRef::Tag("1".into()),
            ok.clone(),
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(m.digest, d);
        assert_eq!(m.content_type.as_deref(), Some(OCI_MANIFEST));
        assert!(matches!(m.document, Document::Manifest(_)));
        // Without the header, the digest is the body's sha256.
        let plain = Response::new(200).with_body(MANIFEST);
        assert_eq!(
            read_manifest(
                &e,
                &r,
                &ManifestRef::Tag("1".into()),
                plain.clone(),
                &Limits::DEFAULT
            )
            .unwrap()
            .digest,
            d
        );
        // A header that disagrees names both digests.
        let other = Digest::sha256_of(b"other");
        let bad = Response::new(200)
            .with_header("docker-content-digest", &other.to_string())
            .with_body(MANIFEST);
        let err = read_manifest(
            &e,
            &r,
            &ManifestRef::Tag("1".into()),
            bad.clone(),
            &Limits::DEFAULT,
        )
        .unwrap_err();
        let m = err.to_string();
        assert!(
            m.contains(&other.to_string())
                && m.contains(&d.to_string())
                && m.contains("Docker-Content-Digest"),
            "{m}"
        );
        let garbage = Response::new(200)
            .with_header("docker-content-digest", "md5:abc")
            .with_body(MANIFEST);
        assert!(matches!(
            read_manifest(
                &e,
                &r,
                &ManifestRef::Tag("1".into()),
                garbage.clone(),
                &Limits::DEFAULT
            ),
            Err(RegistryError::BadDigestHeader { .. })
        ));
    }

    #[test]
    fn manifest_by_digest_checks_the_digest_asked_for() {
        let e = hub();
        let r = repo("library/nginx");
        let d = Digest::sha256_of(MANIFEST.as_bytes());
        let ok = Response::new(200).with_body(MANIFEST);
        assert!(read_manifest(
            &e,
            &r,
            &ManifestRef::Digest(d.clone()),
            ok.clone(),
            &Limits::DEFAULT
        )
        .is_ok());
        // Other bytes than asked for are read, with the digest they have: the pull marks it.
        let asked = Digest::sha256_of(b"something else");
        let other = read_manifest(
            &e,
            &r,
            &ManifestRef::Digest(asked),
            ok.clone(),
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(other.digest, d);
        // sha512 digests are checked in sha512.
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(MANIFEST.as_bytes());
        let d512 = h.finish();
        let ok = Response::new(200)
            .with_header("docker-content-digest", &d.to_string())
            .with_body(MANIFEST);
        assert_eq!(
            read_manifest(
                &e,
                &r,
                &ManifestRef::Digest(d512.clone()),
                ok.clone(),
                &Limits::DEFAULT
            )
            .unwrap()
            .digest,
            d512
        );
    }

    #[test]
    fn manifest_bounds_and_parse_errors() {
        let e = hub();
        let r = repo("a/b");
        // Read up to one byte past the limit, without a Content-Length: "more than".
        let big = Response::new(200).with_body(vec![b' '; MAX_MANIFEST_BYTES + 1]);
        let err = read_manifest(&e, &r, &ManifestRef::Tag("t".into()), big, &Limits::DEFAULT)
            .unwrap_err();
        let exceeded = crate::limits::exceeded_in(&err).expect("the limit is the source");
        assert_eq!(
            (exceeded.limit, exceeded.max, exceeded.needed()),
            (Limit::DocumentBytes, MAX_MANIFEST_BYTES as u64, None)
        );
        // The host is in the error, not in its message: the front end's reference names it.
        assert_eq!(
            err.to_string(),
            "the manifest a/b:t has more than 4194304 document bytes, the limit"
        );
        assert!(
            matches!(&err, RegistryError::Limit { registry, .. } if registry == "registry-1.docker.io"),
            "{err:?}"
        );
        // With one, its size; and the limit is the one given.
        let cut = Response::new(200)
            .with_header("Content-Length", "104857600")
            .with_body(vec![b' '; 1025]);
        let small = Limits {
            max_document_bytes: 1024,
            ..Limits::DEFAULT
        };
        let err = read_manifest(&e, &r, &ManifestRef::Tag("t".into()), cut, &small).unwrap_err();
        assert_eq!(
            crate::limits::exceeded_in(&err).unwrap().needed(),
            Some(104857600)
        );
        assert!(
            err.to_string()
                .contains("104857600 document bytes, over the limit of 1024"),
            "{err}"
        );
        let schema1 = Response::new(200)
            .with_header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
            )
            .with_body(
                &br#"{"schemaVersion":1,"name":"a/b","tag":"t","fsLayers":[],"signatures":[]}"#[..],
            );
        let err = read_manifest(
            &e,
            &r,
            &ManifestRef::Tag("t".into()),
            schema1.clone(),
            &Limits::DEFAULT,
        )
        .unwrap_err();
        assert!(matches!(err, RegistryError::BadManifest { .. }));
        assert!(err.to_string().contains("schema 1"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn resolve_reads_the_digest_header() {
        let e = hub();
        let d = Digest::sha256_of(b"m");
        let r = Response::new(200)
            .with_header("Docker-Content-Digest", &d.to_string())
            .with_header(
                "Content-Type",
                "application/vnd.oci.image.index.v1+json; charset=utf-8",
            )
            .with_header("Content-Length", "9218");
        let got = read_resolved(&e, &r).unwrap().unwrap();
        assert_eq!(got.digest, d);
        assert_eq!(
            got.content_type.as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(got.size, Some(9218));
        assert!(read_resolved(&e, &Response::new(200)).unwrap().is_none());
    }

    #[test]
    fn config_blob_is_bounded() {
        let e = hub();
        let d = Digest::sha256_of(b"{}");
        let ok = Response::new(200).with_body(&b"{}"[..]);
        let blob = read_config_blob(&e, &d, ok.clone(), &Limits::DEFAULT).unwrap();
        assert_eq!((blob.asked, blob.bytes), (d.clone(), b"{}".to_vec()));
        let big = Response::new(200)
            .with_body(vec![0u8; Limits::DEFAULT.max_document_bytes as usize + 1]);
        assert!(matches!(
            read_config_blob(&e, &d, big.clone(), &Limits::DEFAULT),
            Err(RegistryError::Limit { .. })
        ));
    }

    #[test]
    fn tag_and_catalog_pages() {
        let e = hub();
        let asked =
            Url::parse("https://registry-1.docker.io/v2/library/nginx/tags/list?n=2").unwrap();
        let r = Response::new(200)
            .with_header(
                "link",
                "</v2/library/nginx/tags/list?last=1.25&n=2>; rel=\"next\"",
            )
            .with_body(&br#"{"name":"library/nginx","tags":["1.24","1.25"]}"#[..]);
        let page = read_tags(&e, &r, &asked).unwrap();
        assert_eq!(page.tags, ["1.24", "1.25"]);
        assert_eq!(page.next.unwrap().last().as_deref(), Some("1.25"));
        let r = Response::new(200).with_body(&br#"{"name":"a/b","tags":null}"#[..]);
        assert!(read_tags(&e, &r, &asked).unwrap().tags.is_empty());
        let r = Response::new(200).with_body(&br#"{"name":"a/b","tags":[1]}"#[..]);
        assert!(matches!(
            read_tags(&e, &r, &asked),
            Err(RegistryError::BadBody { .. })
        ));
        let r = Response::new(200).with_body(vec![b' '; MAX_LIST_BYTES + 1]);
        assert!(matches!(
            read_tags(&e, &r, &asked),
            Err(RegistryError::TooLarge { .. })
        ));
        let r = Response::new(200).with_body(&br#"{"repositories":["a/b","c"]}"#[..]);
        let page = read_catalog(&e, &r, &asked).unwrap();
        assert_eq!(page.repositories, ["a/b", "c"]);
        assert!(page.next.is_none());
    }
}
