//! Each layer's digests checked against what the documents promise, whenever they arrive.
//!
//! A full scan hands a layer's entries and digests over together; a page that runs the
//! digest pass beside the entries pass ([`crate::engine::scan::DigestScanner`]) gets them
//! apart, in either order, and its tree may be complete before any digest is. A
//! [`LayerVerifier`] holds the expected digests, checks each layer's once they come, and
//! writes the outcome into a report: the layer rows of [`ImageReport::verification`] in
//! layer order whatever the order of arrival, each checked layer's blob digest, and the
//! layers still unchecked in [`ImageReport::unverified_layers`]. A layer counts as checked
//! once its digests are in; a digest that does not match is a row with `ok: false`, not a
//! refusal: the bytes are still readable, so the image is shown and marked unverified (what
//! `docker load` would refuse, a person inspecting a suspect archive still wants to see).

use crate::engine::scan::LayerDigests;
use crate::model::digest::{Digest, DigestRole};
use crate::present::analysis::AnalysisError;
use crate::present::report::{Compared, ImageReport, SizeRole, Verification};

/// The expected digests of an image's layers and the checks made so far (none by default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerVerifier {
    layers: Vec<Expected>,
}

#[derive(Clone, Debug, PartialEq)]
struct Expected {
    /// What the manifest says the blob hashes to, when it says.
    blob: Option<Digest>,
    /// The config's `rootfs.diff_ids` entry.
    diff_id: Digest,
    check: Check,
}

/// Where one layer's verification is.
#[derive(Clone, Debug, PartialEq)]
enum Check {
    /// Its digests have not arrived.
    Pending,
    /// They have: the report's rows (matched or not) and the blob's digest as read.
    Checked {
        rows: Vec<Verification>,
        blob_digest: Digest,
    },
}

impl LayerVerifier {
    /// A verifier for layers whose blobs should hash to `blobs` (where the documents say)
    /// and whose tar streams to `diff_ids`; both bottom layer first, of the same length.
    pub fn new(blobs: Vec<Option<Digest>>, diff_ids: Vec<Digest>) -> LayerVerifier {
        LayerVerifier {
            layers: blobs
                .into_iter()
                .zip(diff_ids)
                .map(|(blob, diff_id)| Expected {
                    blob,
                    diff_id,
                    check: Check::Pending,
                })
                .collect(),
        }
    }

    /// Checks layer `layer`'s digests (`name` is its path, for messages). A digest that
    /// does not match gives a row with `ok: false` naming both; digests given twice for a
    /// layer, or for a layer the image does not have, are refused.
    pub fn check(
        &mut self,
        layer: usize,
        name: &str,
        digests: &LayerDigests,
    ) -> Result<(), AnalysisError> {
        let count = self.layers.len();
        let expected = self
            .layers
            .get_mut(layer)
            .ok_or(AnalysisError::NoSuchLayer {
                index: layer,
                count,
            })?;
        if matches!(expected.check, Check::Checked { .. }) {
            return Err(AnalysisError::DigestsRepeated { index: layer });
        }
        let subject = layer_subject(layer, name);
        let mut rows = Vec::new();
        if let Some(blob) = &expected.blob {
            rows.push(checked(
                DigestRole::Layer,
                &subject,
                blob,
                &digests.blob_digest,
            ));
        }
        rows.push(checked(
            DigestRole::DiffId,
            &subject,
            &expected.diff_id,
            &digests.diff_id,
        ));
        expected.check = Check::Checked {
            rows,
            blob_digest: digests.blob_digest.clone(),
        };
        Ok(())
    }

    /// Whether layer `layer`'s digests are in (matched or not).
    pub fn is_checked(&self, layer: usize) -> bool {
        self.layers
            .get(layer)
            .is_some_and(|l| matches!(l.check, Check::Checked { .. }))
    }

    /// The layers whose digests have not arrived, bottom first.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.layers.len())
            .filter(|&layer| !self.is_checked(layer))
            .collect()
    }

    /// Writes the checks into `report`: the layer rows (after the config's and manifests'
    /// rows, in layer order), each checked layer's blob digest as read, and the layers not
    /// checked yet.
    pub fn update_report(&self, report: &mut ImageReport) {
        report.verification.retain(|row| !is_layer_digest(row));
        for (layer, expected) in self.layers.iter().enumerate() {
            if let Check::Checked { rows, blob_digest } = &expected.check {
                report.verification.extend(rows.iter().cloned());
                if let Some(row) = report.layers.get_mut(layer) {
                    row.digest = Some(blob_digest.clone());
                }
            }
        }
        report.unverified_layers = self.pending();
    }
}

/// The verification row of one digest compared with what the documents promise.
pub(crate) fn checked(
    kind: DigestRole,
    subject: &str,
    expected: &Digest,
    actual: &Digest,
) -> Verification {
    Verification::digest(kind, subject, expected, actual)
}

/// How verification rows name layer `layer` at `path`.
pub fn layer_subject(layer: usize, path: &str) -> String {
    format!("layer {layer} ({path})")
}

/// The row for layer `layer`'s blob (`path`) when its length is not the `declared` size its
/// descriptor gives, `None` when it is. A matching size adds no row: the blob's digest row
/// already vouches for those bytes. A differing one is marked, not refused, as a digest
/// mismatch is: the bytes there are are still read and shown (a short blob usually fails
/// its digest too, and both rows are listed).
pub fn layer_size_check(
    layer: usize,
    path: &str,
    declared: u64,
    actual: u64,
) -> Option<Verification> {
    (declared != actual).then(|| {
        Verification::size(
            SizeRole::Layer,
            layer_subject(layer, path),
            declared,
            actual,
        )
    })
}

/// Puts `rows` (layer size rows found after the report was made) before the layers' digest
/// rows, where [`LayerVerifier::update_report`] keeps every row it does not write itself,
/// so the order stays the same however often the layer rows are rewritten.
pub fn insert_before_layer_digests(report: &mut ImageReport, rows: Vec<Verification>) {
    let at = report
        .verification
        .iter()
        .position(is_layer_digest)
        .unwrap_or(report.verification.len());
    report.verification.splice(at..at, rows);
}

/// A row [`LayerVerifier`] writes: a layer's blob digest or diff_id.
fn is_layer_digest(row: &Verification) -> bool {
    matches!(
        row.compared,
        Compared::Digest {
            kind: DigestRole::Layer | DigestRole::DiffId,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::report::LayerReport;

    fn digests(blob: &[u8], tar: &[u8]) -> LayerDigests {
        LayerDigests {
            blob_digest: Digest::sha256_of(blob),
            diff_id: Digest::sha256_of(tar),
            verifications: Vec::new(),
        }
    }

    fn report(layers: usize) -> ImageReport {
        ImageReport {
            layers: (0..layers)
                .map(|index| LayerReport {
                    index,
                    ..Default::default()
                })
                .collect(),
            verification: vec![Verification::digest(
                DigestRole::Config,
                "config",
                &Digest::sha256_of(b"c"),
                &Digest::sha256_of(b"c"),
            )],
            ..Default::default()
        }
    }

    #[test]
    fn rows_come_in_layer_order_whatever_the_arrival() {
        let mut verifier = LayerVerifier::new(
            vec![Some(Digest::sha256_of(b"b0")), None],
            vec![Digest::sha256_of(b"t0"), Digest::sha256_of(b"t1")],
        );
        let mut report = report(2);
        verifier.update_report(&mut report);
        assert_eq!(report.unverified_layers, vec![0, 1]);
        assert!(!report.verified());
        verifier.check(1, "one", &digests(b"b1", b"t1")).unwrap();
        verifier.check(0, "zero", &digests(b"b0", b"t0")).unwrap();
        verifier.update_report(&mut report);
        let subjects: Vec<(&str, &str)> = report
            .verification
            .iter()
            .map(|v| (v.kind_name(), v.subject.as_str()))
            .collect();
        assert_eq!(
            subjects,
            [
                ("config", "config"),
                ("layer", "layer 0 (zero)"),
                ("diff_id", "layer 0 (zero)"),
                ("diff_id", "layer 1 (one)")
            ]
        );
        assert!(report.unverified_layers.is_empty());
        assert!(report.verified());
        assert_eq!(report.layers[1].digest, Some(Digest::sha256_of(b"b1")));
    }

    #[test]
    fn a_mismatch_is_marked_and_the_layer_counts_as_checked() {
        let mut verifier = LayerVerifier::new(
            vec![Some(Digest::sha256_of(b"b0"))],
            vec![Digest::sha256_of(b"t0")],
        );
        verifier
            .check(0, "zero", &digests(b"b0", b"other"))
            .unwrap();
        assert!(verifier.is_checked(0));
        let mut report = report(1);
        verifier.update_report(&mut report);
        assert!(report.unverified_layers.is_empty());
        assert!(!report.verified());
        let bad: Vec<&Verification> = report.verification.iter().filter(|v| !v.ok).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].subject, "layer 0 (zero)");
        assert_eq!(
            bad[0].compared,
            Compared::Digest {
                kind: DigestRole::DiffId,
                expected: Digest::sha256_of(b"t0"),
                actual: Digest::sha256_of(b"other"),
            }
        );
        // The blob digest matched; its row says so.
        assert!(report
            .verification
            .iter()
            .any(|v| v.digest_role() == Some(DigestRole::Layer) && v.ok));
    }

    #[test]
    fn a_repeat_and_a_missing_layer_are_refused() {
        let mut verifier = LayerVerifier::new(vec![None], vec![Digest::sha256_of(b"t0")]);
        verifier.check(0, "zero", &digests(b"b", b"t0")).unwrap();
        let error = verifier
            .check(0, "zero", &digests(b"b", b"t0"))
            .unwrap_err();
        assert!(matches!(error, AnalysisError::DigestsRepeated { index: 0 }));
        let error = verifier
            .check(3, "three", &digests(b"b", b"t0"))
            .unwrap_err();
        assert!(matches!(
            error,
            AnalysisError::NoSuchLayer { index: 3, count: 1 }
        ));
    }

    #[test]
    fn a_size_row_only_when_the_sizes_differ_and_it_stays_before_the_layer_rows() {
        assert_eq!(layer_size_check(0, "zero", 10, 10), None);
        let larger = layer_size_check(0, "zero", 110, 10).unwrap();
        assert!(!larger.ok);
        assert_eq!(larger.subject, "layer 0 (zero)");
        assert_eq!(
            larger.compared,
            Compared::Size {
                kind: SizeRole::Layer,
                expected: 110,
                actual: 10
            }
        );
        let smaller = layer_size_check(1, "one", 5, 15).unwrap();
        assert_eq!(smaller.expected_text(), "5 bytes");
        assert_eq!(smaller.actual_text(), "15 bytes");

        // A short blob: its digest differs as well as its size, and both rows show.
        let mut verifier = LayerVerifier::new(
            vec![Some(Digest::sha256_of(b"b0")), None],
            vec![Digest::sha256_of(b"t0"), Digest::sha256_of(b"t1")],
        );
        let mut report = report(2);
        verifier.check(0, "zero", &digests(b"b", b"t0")).unwrap();
        verifier.update_report(&mut report);
        insert_before_layer_digests(&mut report, vec![larger.clone()]);
        verifier.check(1, "one", &digests(b"b1", b"t1")).unwrap();
        verifier.update_report(&mut report);
        let kinds: Vec<&str> = report.verification.iter().map(|v| v.kind_name()).collect();
        assert_eq!(
            kinds,
            ["config", "layer_size", "layer", "diff_id", "diff_id"]
        );
        let bad: Vec<&str> = report
            .verification
            .iter()
            .filter(|v| !v.ok)
            .map(|v| v.what())
            .collect();
        assert_eq!(bad, ["blob size", "blob digest"]);
        assert!(!report.verified());
    }
}
