//! Conformance of the image model against documents other projects wrote:
//! the image-spec's schema test cases and spec examples, and the manifests
//! in containers/image's test data. Each goes through the same entry points
//! the app uses (`manifest::parse`, `ImageConfig::parse`, ...).

use layerscope_core::model::config::ImageConfig;
use layerscope_core::model::digest::Digest;
use layerscope_core::model::manifest::{self, Document, MediaTypeSource};
use layerscope_core::model::media;
use serde_json::Value;

use layerscope_test_support::peers;

fn read(rel: &str) -> Vec<u8> {
    let path = peers().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn jsonl(rel: &str) -> Vec<Value> {
    String::from_utf8(read(rel))
        .expect("jsonl is UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{rel} line {}: {e}", i + 1))
        })
        .collect()
}

/// Runs a document of the given image-spec kind through the app's parser;
/// Ok carries a short description of what was recognized.
fn check(kind: &str, doc: &[u8], declared: Option<&str>) -> Result<String, String> {
    match kind {
        "manifest" | "imageIndex" => {
            let parsed = manifest::parse(doc, declared).map_err(|e| e.to_string())?;
            let want_index = kind == "imageIndex";
            let is_index = matches!(parsed, Document::Index(_));
            if want_index != is_index {
                return Err(format!(
                    "recognized as the wrong kind: {}",
                    parsed.media_type()
                ));
            }
            Ok(parsed.media_type().to_string())
        }
        "config" => ImageConfig::parse(doc)
            .map(|c| c.platform().to_string())
            .map_err(|e| e.to_string()),
        "descriptor" => manifest::parse_descriptor(doc)
            .map(|d| d.media_type)
            .map_err(|e| e.to_string()),
        "imageLayout" => manifest::parse_layout_header(doc)
            .map(|()| "layout".into())
            .map_err(|e| e.to_string()),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn image_spec_schema_cases_are_accepted_or_rejected_as_the_spec_says() {
    let cases = jsonl("image-spec/schema-test-cases.jsonl");
    assert!(
        cases.len() >= 71,
        "expected at least 71 cases, found {}",
        cases.len()
    );
    let (mut rejected, mut accepted, mut hashed) = (0, 0, 0);
    for case in &cases {
        let kind = case["kind"].as_str().unwrap();
        let doc = case["document"].as_str().unwrap();
        let must_fail = case["fail"].as_bool().unwrap();
        let label = format!(
            "{} case {} ({kind}): {}",
            case["test"], case["case"], case["comment"]
        );
        match (check(kind, doc.as_bytes(), None), must_fail) {
            (Ok(_), false) => accepted += 1,
            (Err(msg), true) => {
                assert!(msg.len() > 10, "{label}: error message too thin: {msg:?}");
                rejected += 1;
            }
            (Ok(what), true) => panic!("{label}: must be rejected, was accepted as {what}"),
            (Err(msg), false) => panic!("{label}: must be accepted, was rejected: {msg}"),
        }
        if let Some(want) = case["digest_of_doc"].as_str() {
            assert_eq!(
                Digest::sha256_of(doc.as_bytes()).to_string(),
                want,
                "{label}: digest of document"
            );
            hashed += 1;
        }
    }
    assert_eq!(accepted + rejected, cases.len());
    assert!(
        rejected >= 30 && accepted >= 30,
        "accepted {accepted}, rejected {rejected}"
    );
    assert_eq!(
        hashed, 4,
        "backwards-compatibility cases with digest_of_doc"
    );
}

#[test]
fn image_spec_failure_messages_name_the_offending_field() {
    // A sample of the schema cases, with the field each rejection must name.
    let expectations = [
        ("field \"os\" has numeric value", "os"),
        ("field \"variant\" has numeric value", "variant"),
        ("field \"config.User\" has numeric value", "config.User"),
        ("Env is invalid", "config.Env[0]"),
        // "config.size is a string" is upstream-broken JSON (an unclosed object), so it fails earlier.
        ("config.size is a string", "not valid JSON (line 19"),
        ("layers.size is string", "layers[0].size"),
        ("manifest.digest is missing", "manifests[0].digest"),
        (
            "platform.architecture is missing",
            "manifests[0].platform.architecture",
        ),
        (
            "empty referenced manifest media type",
            "manifests[0].mediaType",
        ),
        ("digest missing", "digest"),
        ("negative size", "size"),
        ("invalid data base64, missing padding", "data"),
        ("urls does not match format", "urls[0]"),
    ];
    let cases = jsonl("image-spec/schema-test-cases.jsonl");
    for (comment_part, field) in expectations {
        let case = cases
            .iter()
            .find(|c| c["comment"].as_str().unwrap_or("").contains(comment_part))
            .unwrap_or_else(|| panic!("no schema case mentions {comment_part:?}"));
        let msg = check(
            case["kind"].as_str().unwrap(),
            case["document"].as_str().unwrap().as_bytes(),
            None,
        )
        .expect_err(comment_part);
        assert!(
            msg.contains(field),
            "{comment_part}: {msg:?} does not name {field}"
        );
    }
}

#[test]
fn image_spec_markdown_examples_are_all_accepted() {
    let examples = jsonl("image-spec/spec-markdown-examples.jsonl");
    assert_eq!(examples.len(), 13);
    for ex in &examples {
        let media_type = ex["mediatype"].as_str().unwrap();
        let doc = ex["document"].as_str().unwrap().as_bytes();
        let label = format!("{} / {}", ex["source"], ex["title"]);
        let result = match media_type {
            media::OCI_DESCRIPTOR => manifest::parse_descriptor(doc)
                .map(|d| d.media_type)
                .map_err(|e| e.to_string()),
            media::OCI_LAYOUT_HEADER => check("imageLayout", doc, None),
            media::OCI_CONFIG => check("config", doc, None),
            media::OCI_MANIFEST => check("manifest", doc, Some(media_type)),
            media::OCI_INDEX => check("imageIndex", doc, Some(media_type)),
            other => panic!("{label}: unexpected media type {other}"),
        };
        if let Err(e) = result {
            panic!("{label}: spec example rejected: {e}");
        }
    }
}

/// What each containers/image test manifest must be recognized as.
enum Expect {
    /// Accepted with this media type, recognized from this source.
    Ok(&'static str, MediaTypeSource),
    /// Refused with a message containing this text.
    Refused(&'static str),
}

#[test]
fn containers_image_manifests_are_classified() {
    use Expect::*;
    use MediaTypeSource::*;
    let table: &[(&str, Expect)] = &[
        ("non-json.manifest.json", Refused("not valid JSON")),
        ("oci1.index.everything.json", Ok(media::OCI_INDEX, Document)),
        (
            "oci1.index.zstd-selection.json",
            Ok(media::OCI_INDEX, Document),
        ),
        (
            "oci1.index.zstd-selection2.json",
            Ok(media::OCI_INDEX, Document),
        ),
        ("oci1index.json", Ok(media::OCI_INDEX, Document)),
        ("ocilist-variants.json", Ok(media::OCI_INDEX, Document)),
        // An artifact written with an empty digest and null layers: invalid OCI.
        (
            "ociv1.artifact.json",
            Refused("config.digest: digest \"\" is malformed"),
        ),
        ("ociv1.image.index.json", Ok(media::OCI_INDEX, Document)),
        ("ociv1.manifest.json", Ok(media::OCI_MANIFEST, Document)),
        ("ociv1nomime.artifact.json", Refused("config.digest")),
        ("ociv1nomime.image.index.json", Ok(media::OCI_INDEX, Shape)),
        ("ociv1nomime.manifest.json", Ok(media::OCI_MANIFEST, Shape)),
        // Stored as a git symlink: the file holds a path, not JSON.
        (
            "schema2-to-schema1-by-docker.json",
            Refused("not valid JSON"),
        ),
        (
            "schema2list-variants.json",
            Ok(media::DOCKER_MANIFEST_LIST, Document),
        ),
        (
            "schema2list.json",
            Ok(media::DOCKER_MANIFEST_LIST, Document),
        ),
        (
            "unknown-version.manifest.json",
            Refused("schemaVersion 99999 is not supported"),
        ),
        (
            "v2list.everything.json",
            Ok(media::DOCKER_MANIFEST_LIST, Document),
        ),
        (
            "v2list.manifest.json",
            Ok(media::DOCKER_MANIFEST_LIST, Document),
        ),
        (
            "v2s1-invalid-signatures.manifest.json",
            Refused("Docker schema 1 manifest (signed with JWS)"),
        ),
        (
            "v2s1-unsigned.manifest.json",
            Refused("Docker schema 1 manifest (unsigned)"),
        ),
        (
            "v2s1.manifest.json",
            Refused("Docker schema 1 manifest (signed with JWS)"),
        ),
        ("v2s2.manifest.json", Ok(media::DOCKER_MANIFEST, Document)),
        (
            "v2s2nomime.manifest.json",
            Ok(media::DOCKER_MANIFEST, Shape),
        ),
    ];
    let dir = peers().join("containers-image/internal/manifest/testdata");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let listed: Vec<String> = table.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, listed, "every test manifest must be classified");

    for (file, expect) in table {
        let bytes = read(&format!(
            "containers-image/internal/manifest/testdata/{file}"
        ));
        let result = manifest::parse(&bytes, None);
        match (expect, result) {
            (Ok(media_type, source), Result::Ok(doc)) => {
                assert_eq!(doc.media_type(), *media_type, "{file}");
                assert_eq!(doc.media_type_source(), *source, "{file}");
            }
            (Refused(needle), Err(e)) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{file}: {msg:?} lacks {needle:?}");
            }
            (Ok(..), Err(e)) => panic!("{file}: must be accepted, was refused: {e}"),
            (Refused(needle), Result::Ok(doc)) => {
                panic!(
                    "{file}: must be refused ({needle}), was accepted as {}",
                    doc.media_type()
                )
            }
        }
    }
}

#[test]
fn containers_image_documents_carry_their_details() {
    let bytes = read("containers-image/internal/manifest/testdata/oci1.index.everything.json");
    let Document::Index(index) = manifest::parse(&bytes, None).unwrap() else {
        panic!("not an index")
    };
    assert_eq!(
        index.artifact_type.as_deref(),
        Some("application/our-top-artifact")
    );
    let entry = &index.manifests[0];
    assert_eq!(
        entry.urls,
        vec!["https://some.example/manifest".to_string()]
    );
    assert_eq!(entry.data.as_deref(), Some("YQ=="));
    assert_eq!(
        entry.artifact_type.as_deref(),
        Some("application/our-sub-artifact")
    );
    let platform = entry.platform.as_ref().unwrap();
    assert_eq!(
        (
            platform.os_version.as_deref(),
            platform.os_features.as_slice()
        ),
        (Some("C"), &["D".to_string()][..])
    );
    assert_eq!(index.subject.as_ref().unwrap().size, 2);
    assert_eq!(index.annotations.get("top").map(String::as_str), Some("0"));

    // A Docker list served with its own Content-Type, and with a declared type that disagrees.
    let list = read("containers-image/internal/manifest/testdata/v2list.manifest.json");
    assert!(manifest::parse(&list, Some(media::DOCKER_MANIFEST_LIST)).is_ok());
    let conflict = manifest::parse(&list, Some(media::OCI_MANIFEST)).unwrap();
    assert_eq!(
        conflict.media_type(),
        media::DOCKER_MANIFEST_LIST,
        "the document's own type wins"
    );
    assert_eq!(conflict.declared_mismatch(), Some(media::OCI_MANIFEST));
    // The nomime manifest with a declared type takes the declared one.
    let nomime = read("containers-image/internal/manifest/testdata/ociv1nomime.manifest.json");
    let doc = manifest::parse(&nomime, Some(media::OCI_MANIFEST)).unwrap();
    assert_eq!(doc.media_type_source(), MediaTypeSource::Declared);
}
