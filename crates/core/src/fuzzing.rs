//! Fuzz harnesses: one function per fuzz target, taking the fuzzer's bytes.
//!
//! The `cargo fuzz` targets in `fuzz/` call these, and so does the stable test
//! `tests/fuzz_corpus.rs`, which replays every committed corpus file and crash
//! reproducer, so a clean clone checks them without a nightly toolchain.
//!
//! A harness returns normally for any input: refusing the input with an error
//! is a correct outcome. It panics only when the code under test misbehaves
//! (a panic or overflow inside it, a reader that stops asking for bytes, an
//! invariant broken), which is what the fuzzer reports.
//!
//! Several harnesses read a few leading bytes of the input as settings (chunk
//! sizes, modes, declared media types) and the rest as the document or stream,
//! so one corpus file covers a choice of ways to drive the code.

use crate::archive::{ArchiveError, ArchiveReader, ImageSelector, Step};
use crate::engine::scan::{DigestScanner, Hashing, ScanOptions, Scanner};
use crate::engine::tar::{NextRead, TarEvent, TarParser};
use crate::model::config::ImageConfig;
use crate::model::digest::{find_digests, AnyDigest, Digest};
use crate::model::manifest::{self, Document};
use crate::model::media;
use crate::model::platform::Platform;
use crate::model::reference::Reference;
use crate::model::time::Timestamp;
use crate::registry::api::{self, ManifestRef, Repository};
use crate::registry::auth::{self, parse_challenges, token_request};
use crate::registry::http::{Endpoint, InsecureRegistries, Response, Url};
use crate::registry::rate_limit::{self, LimitReset, RateLimit};

/// Every harness by the name of its fuzz target (and corpus directory).
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("tar", tar),
    ("scan", scan),
    ("archive", archive),
    ("documents", documents),
    ("reference", reference),
    ("www_authenticate", www_authenticate),
    ("registry_responses", registry_responses),
];

/// The harness for the target named `name`, `None` for an unknown name.
pub fn harness(name: &str) -> Option<fn(&[u8])> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, harness)| *harness)
}

/// Uncompressed bytes a scan harness lets a stream expand to before it stops
/// feeding it: a few fuzzer bytes can declare gigabytes of zstd output, which
/// the scanner streams correctly but too slowly for a fuzzer's time limit.
const MAX_SCAN_OUTPUT: u64 = 16 * 1024 * 1024;

/// Steps an archive harness allows before calling the reader stalled.
const MAX_ARCHIVE_STEPS: usize = 1_000_000;

/// Chunk sizes drawn from a seed, small ones often, so pushes split headers,
/// records and compressed frames at every place.
struct Chunks {
    state: u32,
}

impl Chunks {
    fn new(seed: u8) -> Chunks {
        Chunks {
            state: 0x9e37_79b9 ^ u32::from(seed).wrapping_mul(0x0101_0101),
        }
    }

    fn next(&mut self) -> usize {
        // xorshift32: cheap, deterministic, good enough to vary sizes.
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        match x % 4 {
            0 => 1 + (x >> 8) as usize % 16,
            1 => 1 + (x >> 8) as usize % 700,
            2 => 512,
            _ => 1 + (x >> 8) as usize % 70_000,
        }
    }
}

/// Splits off `n` settings bytes (zeros when the input is shorter).
fn settings<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut head = [0u8; N];
    let n = N.min(data.len());
    head[..n].copy_from_slice(&data[..n]);
    (head, &data[n..])
}

/// The tar state machine (`engine::tar`).
///
/// Settings: byte 0 bit 0 allows trailing data, bit 1 drives the parser by
/// ranges (`next_read`, `skip_content`) instead of pushing everything; byte 1
/// seeds the chunk sizes. Checks that the parser's offset counts every byte
/// pushed or skipped and that each member's data never exceeds its size.
pub fn tar(data: &[u8]) {
    let ([mode, seed], stream) = settings::<2>(data);
    let mut parser = if mode & 1 == 1 {
        TarParser::allowing_trailing_data()
    } else {
        TarParser::new()
    };
    let by_ranges = mode & 2 == 2;
    let mut chunks = Chunks::new(seed);
    let mut consumed = 0u64;
    let mut at = 0usize;
    let mut member: Option<(u64, u64)> = None;
    let mut check = |event: TarEvent<'_>| match event {
        TarEvent::Entry(entry) => member = Some((entry.size, 0)),
        TarEvent::Data(bytes) => {
            let (size, seen) = member.as_mut().expect("data outside a member");
            *seen += bytes.len() as u64;
            assert!(*seen <= *size, "member data {seen} exceeds its size {size}");
        }
        TarEvent::EntryEnd => member = None,
    };
    while at < stream.len() {
        if by_ranges {
            match parser.next_read() {
                NextRead::Content(len) => {
                    let skipped = parser.skip_content();
                    assert_eq!(skipped, len, "skip_content skipped other than announced");
                    consumed += skipped;
                    at = at.saturating_add(usize::try_from(skipped).unwrap_or(usize::MAX));
                    continue;
                }
                NextRead::End | NextRead::Failed => break,
                NextRead::Bytes(_) => {}
            }
        }
        let end = at.saturating_add(chunks.next()).min(stream.len());
        let chunk = &stream[at..end];
        at = end;
        if parser.push(chunk, &mut check).is_err() {
            return;
        }
        consumed += chunk.len() as u64;
        assert_eq!(parser.offset(), consumed, "parser offset lost count");
    }
    if let Err(error) = parser.finish() {
        let _ = error.to_string();
    }
}

/// The layer scanner (`engine::scan`) over gzip, zstd or plain bytes.
///
/// Settings: byte 0 picks the hashing and the declared media type, byte 1
/// seeds the chunk sizes. With entries only, the digest-only pass runs over
/// the same bytes and must succeed where the scan does.
pub fn scan(data: &[u8]) {
    let ([mode, seed], blob) = settings::<2>(data);
    const DECLARED: [Option<&str>; 6] = [
        None,
        Some(media::OCI_LAYER_GZIP),
        Some(media::OCI_LAYER_ZSTD),
        Some(media::OCI_LAYER_TAR),
        Some(media::DOCKER_LAYER_GZIP),
        Some("application/octet-stream"),
    ];
    let options = ScanOptions {
        declared_media_type: DECLARED[usize::from(mode >> 1) % DECLARED.len()].map(String::from),
        hashing: if mode & 1 == 1 {
            Hashing::EntriesOnly
        } else {
            Hashing::Digests
        },
        ..ScanOptions::default()
    };
    // A page scans entries only and hashes in a digest pass over the same bytes; a full
    // scan does both at once.
    let split = options.hashing == Hashing::EntriesOnly;
    let mut scanner = Scanner::new(options.clone());
    let mut digests = split.then(|| DigestScanner::new(options.clone()));
    let mut chunks = Chunks::new(seed);
    let mut at = 0usize;
    while at < blob.len() {
        let end = at.saturating_add(chunks.next()).min(blob.len());
        let chunk = &blob[at..end];
        at = end;
        if scanner.push(chunk).is_err() {
            return;
        }
        if let Some(pass) = &mut digests {
            pass.push(chunk)
                .expect("the digest pass fails where the scan does not");
        }
        if scanner.bytes_out() > MAX_SCAN_OUTPUT {
            return;
        }
    }
    let summary = match scanner.finish() {
        Ok(summary) => summary,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert_eq!(summary.compressed_size, blob.len() as u64);
    assert!(summary.entries.len() as u64 <= summary.uncompressed_size / 512 + 1);
    if let Some(pass) = digests {
        let digests = pass
            .finish()
            .expect("the digest pass fails where the scan does not");
        assert_eq!(
            digests.blob_digest,
            Digest::sha256_of(blob),
            "the blob digest"
        );
    }
}

/// The archive reader (`archive`): docker-save and OCI archives, plain or
/// compressed, answered in chunk sizes drawn from the input.
///
/// Settings: byte 0 picks random access, streaming, or random access with the
/// layers scanned by the caller (bit 2 also selects the image by index 0);
/// byte 1 seeds the chunk sizes. The reader must end in `Done` or `Failed`
/// within [`MAX_ARCHIVE_STEPS`] steps.
pub fn archive(data: &[u8]) {
    let ([mode, seed], bytes) = settings::<2>(data);
    let len = bytes.len() as u64;
    let external = mode % 3 == 2;
    let mut reader = match mode % 3 {
        1 => ArchiveReader::new_streaming(),
        2 => ArchiveReader::new(len).with_external_scans(),
        _ => ArchiveReader::new(len),
    };
    let select = mode & 4 == 4;
    let mut chunks = Chunks::new(seed);
    for _ in 0..MAX_ARCHIVE_STEPS {
        match reader.next_step() {
            Step::Read { offset, len: want } => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let take = usize::try_from(want)
                    .unwrap_or(usize::MAX)
                    .min(chunks.next());
                let end = start.saturating_add(take).min(bytes.len());
                let _ = reader.supply(offset, &bytes[start..end]);
            }
            Step::ImagesListed(_) => {
                if select {
                    let _ = reader.select_image(&ImageSelector::Index(0));
                }
            }
            Step::ScanLayers(jobs) => {
                assert!(external, "layers handed out to a reader that scans them");
                for job in jobs {
                    let start = usize::try_from(job.offset)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    let end = usize::try_from(job.offset.saturating_add(job.len))
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    let mut scanner = Scanner::new(job.options.clone());
                    let result = scanner
                        .push(&bytes[start..end])
                        .and_then(|()| scanner.finish());
                    if reader.layer_scanned(job.index, result).is_err() {
                        return;
                    }
                }
            }
            Step::AwaitingScans { outstanding } => {
                panic!("the reader awaits {outstanding} scans it never handed out")
            }
            Step::Progress(_) | Step::Overview(_) | Step::LayerScanned(_) => {}
            Step::Done(report) => {
                let _ = report.layers.len();
                let _ = reader.take_file_trees();
                return;
            }
            Step::Failed(error) => {
                // This driver keeps to the reader's protocol, so a protocol error is the
                // reader's own fault, not the input's.
                assert!(
                    !matches!(error, ArchiveError::Protocol { .. }),
                    "the reader blames its caller: {error}"
                );
                return;
            }
        }
    }
    panic!("the archive reader did not finish within {MAX_ARCHIVE_STEPS} steps");
}

/// Manifest, index, descriptor, layout-header and config parsing (`model`).
///
/// Settings: byte 0 picks the declared media type given with the document.
/// A manifest that parses must serialize back to a document that parses.
pub fn documents(data: &[u8]) {
    let ([pick], document) = settings::<1>(data);
    const DECLARED: [Option<&str>; 8] = [
        None,
        Some(media::OCI_MANIFEST),
        Some(media::OCI_INDEX),
        Some(media::DOCKER_MANIFEST),
        Some(media::DOCKER_MANIFEST_LIST),
        Some(media::DOCKER_SCHEMA1_SIGNED),
        Some("application/json"),
        Some("text/plain; charset=utf-8"),
    ];
    let declared = DECLARED[usize::from(pick) % DECLARED.len()];
    match manifest::parse(document, declared) {
        Ok(Document::Manifest(m)) => {
            let _ = (m.is_docker(), m.artifact_kind(), m.layers_size());
        }
        Ok(Document::Index(index)) => {
            let _ = index.manifests.len();
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
    if let Err(error) = manifest::parse_descriptor(document) {
        let _ = error.to_string();
    }
    if let Err(error) = manifest::parse_layout_header(document) {
        let _ = error.to_string();
    }
    match ImageConfig::parse(document) {
        Ok(config) => {
            let _ = (
                config.platform(),
                config.created_at(),
                config.diff_ids().len(),
            );
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

/// Image references, digests, platforms and timestamps (`model`).
///
/// A reference that parses must print as a reference that parses and prints the same.
pub fn reference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Reference::parse(&text) {
        Ok(parsed) => {
            let printed = parsed.to_string();
            let again = Reference::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?}, printed from {text:?}, fails: {e}"));
            // Printing names the default tag; printed once more, nothing changes.
            assert_eq!(
                again.to_string(),
                printed,
                "{printed:?} reparses differently"
            );
            assert_eq!(
                (again.domain(), again.path()),
                (parsed.domain(), parsed.path())
            );
            let _ = (parsed.tag_or_default(), parsed.registry_api_host());
            let _ = parsed.with_tag("latest");
            let _ = Repository::of(&parsed);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
    let _ = Digest::parse(&text).map_err(|e| e.to_string());
    let _ = AnyDigest::parse(&text).map_err(|e| e.to_string());
    let _ = find_digests(&text);
    let _ = Platform::parse(&text).map_err(|e| e.to_string());
    let _ = Timestamp::parse(&text).map_err(|e| e.to_string());
    let _ = Timestamp::parse_http_date(&text);
    let _ = Repository::parse(&text);
    let _ = media::validate(&text);
    let _ = (media::classify(&text), media::layer_compression(&text));
}

/// `WWW-Authenticate` challenges (`registry::auth`), and the token request
/// and token response that follow one.
///
/// The input is the header's value; everything after a first NUL byte is
/// read as a token service's answer.
pub fn www_authenticate(data: &[u8]) {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let header = String::from_utf8_lossy(header);
    match parse_challenges(&header) {
        Ok(challenges) => {
            for challenge in &challenges {
                let _ = (
                    challenge.is_bearer(),
                    challenge.is_basic(),
                    challenge.error(),
                );
                let _ = (challenge.service(), challenge.is_insufficient_scope());
                let scopes = challenge.scopes();
                if let Some(realm) = challenge.realm().and_then(|r| Url::parse(r).ok()) {
                    let _ = token_request(&realm, challenge.service(), &scopes, None);
                }
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
    let response = Response::new(401).with_header("www-authenticate", &header);
    let _ = auth::response_challenges(&response);
    let _ = auth::parse_token_response(body, 1_700_000_000).map_err(|e| e.to_string());
}

/// Registry responses (`registry::api`, `registry::http`, `registry::rate_limit`):
/// tag lists, catalogs, `Link` headers, error bodies, rate-limit headers,
/// manifests.
///
/// The input is a response as text: a status line (`404`), header lines
/// (`link: </v2/_catalog?last=a>; rel="next"`), an empty line, then the body.
pub fn registry_responses(data: &[u8]) {
    let response = read_response(data);
    let endpoint =
        Endpoint::new("registry.example", &InsecureRegistries::default()).expect("a valid host");
    let request_url =
        Url::parse("https://registry.example/v2/library/alpine/tags/list?n=2").expect("a URL");
    let now = 1_700_000_000;
    let _ = api::read_tags(&endpoint, &response, &request_url).map_err(|e| e.to_string());
    let _ = api::read_catalog(&endpoint, &response, &request_url).map_err(|e| e.to_string());
    let _ = api::next_link(&endpoint, &response, &request_url).map_err(|e| e.to_string());
    let _ = api::parse_errors(&response.body);
    let _ = api::status_error(&endpoint, &response, "library/alpine:3", now).to_string();
    let _ = api::read_resolved(&endpoint, &response).map_err(|e| e.to_string());
    if let Some(limit) = RateLimit::from_response(&response) {
        let _ = limit.to_string();
    }
    let _ = rate_limit::retry_after(&response, now);
    if let Some(reset) = LimitReset::of(&response, now) {
        let _ = reset.in_clock(now, 120);
    }
    if let Some(link) = response.header("link") {
        if let Ok(url) = request_url.join(link.trim_matches(['<', '>'])) {
            let _ = (url.path(), url.query(), url.query_param("last"));
        }
        let _ = Url::parse(link).map(|url| url.path_and_query().to_string());
    }
    let repository = Repository::parse("library/alpine").expect("a repository");
    let reference = ManifestRef::Tag("3".into());
    let limits = crate::limits::Limits::DEFAULT;
    let _ = api::read_manifest(&endpoint, &repository, &reference, response, &limits)
        .map_err(|e| e.to_string());
}

/// `status\nname: value\n...\n\nbody` into a response.
fn read_response(data: &[u8]) -> Response {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let status = lines
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(200);
    let mut response = Response::new(status).with_body(body.to_vec());
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            response = response.with_header(name.trim(), value.trim());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_harness_by_name() {
        for (name, _) in TARGETS {
            assert!(harness(name).is_some(), "{name}");
        }
        assert!(harness("no-such-target").is_none());
    }

    #[test]
    fn a_response_is_read_from_its_text_form() {
        let response = read_response(b"429\nRetry-After: 30\nlink: <x>\n\n{\"errors\":[]}");
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some("30"));
        assert_eq!(response.header("link"), Some("<x>"));
        assert_eq!(response.body, b"{\"errors\":[]}");
    }

    #[test]
    fn chunk_sizes_vary_and_stay_positive() {
        let mut chunks = Chunks::new(7);
        let sizes: Vec<usize> = (0..64).map(|_| chunks.next()).collect();
        assert!(sizes.iter().all(|&n| n > 0));
        assert!(sizes.iter().any(|&n| n < 17) && sizes.iter().any(|&n| n > 700));
    }
}
