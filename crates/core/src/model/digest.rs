//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and streaming hashers.
//!
//! API summary:
//! - [`Digest`]: a digest with a registered algorithm; [`Digest::parse`],
//!   [`Digest::sha256_of`], `.hex()`, `.short()`, `.algorithm()`,
//!   `.verify(&actual) -> Result<(), Mismatch>`; serde as a string.
//! - [`Hasher`]: `Hasher::new(Algorithm)`, `Hasher::for_digest(&Digest)`,
//!   `.update(&[u8])`, `.finish() -> Digest`.
//! - [`find_digests`]`(text) -> Vec<(Range<usize>, Digest)>`: where digests stand in a
//!   document's text (to link each to what it names).
//! - [`AnyDigest`]: what a descriptor may carry: a registered [`Digest`] or a
//!   well-formed digest of an algorithm layerscope cannot compute
//!   (`sha256+b64u:...`, `multihash+base58:...`), which the image-spec grammar
//!   allows. `.registered()` gives the verifiable [`Digest`] when there is one.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A hash algorithm that OCI content digests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 hex characters.
    Sha256,
    /// SHA-512, 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it stands before the colon in a digest.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest such as `sha256:50cf96...`.
///
/// The hex part is always lower case: the OCI image spec allows only
/// `[a-f0-9]` for the registered algorithms.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Why a string is not a usable digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestError {
    /// No `algorithm:` prefix.
    MissingAlgorithm(String),
    /// An algorithm other than sha256 or sha512.
    UnsupportedAlgorithm(String),
    /// The hex part has the wrong length for its algorithm.
    WrongLength {
        /// The algorithm named before the colon.
        algorithm: Algorithm,
        /// Hex characters that algorithm needs.
        expected: usize,
        /// Hex characters present.
        found: usize,
    },
    /// Not `algorithm:encoded` as the image-spec grammar writes digests
    /// (`[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`).
    Malformed {
        /// The text that is not a digest.
        digest: String,
        /// Which part is wrong.
        reason: &'static str,
    },
    /// The hex part contains something other than `0-9a-f`.
    NotLowerHex(String),
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::MissingAlgorithm(s) => {
                write!(
                    f,
                    "digest {s:?} has no algorithm prefix (expected sha256:<hex>)"
                )
            }
            DigestError::UnsupportedAlgorithm(a) => {
                write!(
                    f,
                    "digest algorithm {a:?} is not supported (only sha256 and sha512)"
                )
            }
            DigestError::WrongLength {
                algorithm,
                expected,
                found,
            } => write!(
                f,
                "{} digest must have {expected} hex characters, found {found}",
                algorithm.name()
            ),
            DigestError::NotLowerHex(s) => {
                write!(f, "digest hex {s:?} may contain only 0-9 and a-f")
            }
            DigestError::Malformed { digest, reason } => {
                write!(f, "digest {digest:?} is malformed: {reason}")
            }
        }
    }
}

impl std::error::Error for DigestError {}

impl Digest {
    /// Parses `algorithm:hex`, checking the algorithm and the hex length.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm(s.to_string()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_string())),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(DigestError::WrongLength {
                algorithm,
                expected: algorithm.hex_len(),
                found: hex.len(),
            });
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::NotLowerHex(hex.to_string()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as `docker image ls` shows an image ID.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Checks `actual` against this (expected) digest.
    pub fn verify(&self, actual: &Digest) -> Result<(), Mismatch> {
        if self == actual {
            Ok(())
        } else {
            Err(Mismatch {
                expected: self.clone(),
                actual: actual.clone(),
            })
        }
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Content that did not hash to what it should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The digest the content should have had.
    pub expected: Digest,
    /// The digest the content has.
    pub actual: Digest,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "digest mismatch: expected {}, actual {}",
            self.expected, self.actual
        )
    }
}

impl std::error::Error for Mismatch {}

/// Which of an image's digests a check is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestRole {
    /// A manifest or index, against the descriptor that lists it.
    Manifest,
    /// The image config, against the manifest (the image ID).
    Config,
    /// A stored (possibly compressed) layer blob, against the manifest.
    Layer,
    /// An uncompressed layer tar, against the config's `rootfs.diff_ids`.
    DiffId,
}

impl DigestRole {
    /// The name used in reports and messages.
    pub fn name(self) -> &'static str {
        match self {
            DigestRole::Manifest => "manifest",
            DigestRole::Config => "config",
            DigestRole::Layer => "layer",
            DigestRole::DiffId => "diff_id",
        }
    }
}

/// A streaming hasher for one [`Algorithm`].
#[derive(Clone)]
pub enum Hasher {
    /// Hashing with SHA-256.
    Sha256(sha2::Sha256),
    /// Hashing with SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// A hasher for the same algorithm as `digest`, to verify content against it.
    pub fn for_digest(digest: &Digest) -> Hasher {
        Hasher::new(digest.algorithm())
    }

    /// Feeds the next chunk of content.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, bytes): (Algorithm, Vec<u8>) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest {
            algorithm,
            hex: to_hex(&bytes),
        }
    }
}

/// A digest as a descriptor may carry it: registered and verifiable, or of
/// an algorithm outside sha256/sha512 that is still well formed.
///
/// The image-spec lets descriptors name unregistered algorithms; a document
/// using one is valid and can be shown and fetched by digest, only not
/// verified, so it is accepted rather than refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnyDigest {
    /// sha256 or sha512, hex length and case checked.
    Registered(Digest),
    /// Any other algorithm matching the grammar.
    Unregistered {
        /// The part before the colon, e.g. `multihash+base58`.
        algorithm: String,
        /// The part after the colon.
        encoded: String,
    },
}

impl AnyDigest {
    /// Parses a digest by the image-spec grammar; registered algorithms are
    /// held to their exact hex form.
    pub fn parse(s: &str) -> Result<AnyDigest, DigestError> {
        let malformed = |reason| DigestError::Malformed {
            digest: s.to_string(),
            reason,
        };
        let (algorithm, encoded) = s.split_once(':').ok_or_else(|| {
            if s.is_empty() {
                malformed("empty")
            } else {
                DigestError::MissingAlgorithm(s.to_string())
            }
        })?;
        if algorithm == "sha256" || algorithm == "sha512" {
            return Digest::parse(s).map(AnyDigest::Registered);
        }
        if algorithm.is_empty() {
            return Err(malformed("empty algorithm before ':'"));
        }
        let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !algorithm_ok {
            return Err(malformed(
                "algorithm must be lower-case letters and digits, joined by single '+', '.', '_' or '-'",
            ));
        }
        if encoded.is_empty() {
            return Err(malformed("empty encoded part after ':'"));
        }
        if !encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(malformed(
                "encoded part may contain only letters, digits, '=', '_' and '-'",
            ));
        }
        Ok(AnyDigest::Unregistered {
            algorithm: algorithm.to_string(),
            encoded: encoded.to_string(),
        })
    }

    /// The verifiable digest, when the algorithm is sha256 or sha512.
    pub fn registered(&self) -> Option<&Digest> {
        match self {
            AnyDigest::Registered(d) => Some(d),
            AnyDigest::Unregistered { .. } => None,
        }
    }

    /// The verifiable digest, or an error naming the algorithm layerscope cannot compute.
    pub fn require_registered(&self) -> Result<&Digest, DigestError> {
        match self {
            AnyDigest::Registered(d) => Ok(d),
            AnyDigest::Unregistered { algorithm, .. } => {
                Err(DigestError::UnsupportedAlgorithm(algorithm.clone()))
            }
        }
    }

    /// The algorithm name, e.g. `sha256`.
    pub fn algorithm_name(&self) -> &str {
        match self {
            AnyDigest::Registered(d) => d.algorithm().name(),
            AnyDigest::Unregistered { algorithm, .. } => algorithm,
        }
    }

    /// The part after the colon (the hex for registered algorithms).
    pub fn encoded(&self) -> &str {
        match self {
            AnyDigest::Registered(d) => d.hex(),
            AnyDigest::Unregistered { encoded, .. } => encoded,
        }
    }
}

impl From<Digest> for AnyDigest {
    fn from(d: Digest) -> AnyDigest {
        AnyDigest::Registered(d)
    }
}

impl PartialEq<Digest> for AnyDigest {
    fn eq(&self, other: &Digest) -> bool {
        self.registered() == Some(other)
    }
}

impl fmt::Display for AnyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyDigest::Registered(d) => write!(f, "{d}"),
            AnyDigest::Unregistered { algorithm, encoded } => write!(f, "{algorithm}:{encoded}"),
        }
    }
}

impl fmt::Debug for AnyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyDigest({self})")
    }
}

impl std::str::FromStr for AnyDigest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AnyDigest::parse(s)
    }
}

impl serde::Serialize for AnyDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AnyDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AnyDigest::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Every digest of a registered algorithm written out in `text` (`sha256:` and 64 lower-case
/// hex digits not followed by another hex digit), with its byte range, in order.
pub fn find_digests(text: &str) -> Vec<(std::ops::Range<usize>, Digest)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find("sha") {
        let start = from + offset;
        from = start + 3;
        // A digest starts a word: `xsha256:...` is not one.
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let prefix_end = start + algorithm.name().len() + 1;
            let end = prefix_end + algorithm.hex_len();
            let named = text[start..].starts_with(algorithm.name())
                && bytes.get(prefix_end - 1) == Some(&b':');
            let hex = bytes
                .get(prefix_end..end)
                .is_some_and(|hex| hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            let ends = !bytes.get(end).is_some_and(u8::is_ascii_hexdigit);
            if named && hex && ends {
                if let Ok(digest) = Digest::parse(&text[start..end]) {
                    found.push((start..end, digest));
                    from = end;
                }
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_found_in_a_document() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        let text = format!(
            r#"{{"config":"{a}", "layers":["{b}", "xsha256:{hex}", "sha256:{hex}f", "sha256:{short}"]}}"#,
            hex = a.hex(),
            short = &a.hex()[..12]
        );
        let found = find_digests(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].1, a);
        assert_eq!(&text[found[0].0.clone()], a.to_string());
        assert_eq!(found[1].1, b);
        assert!(find_digests("sha256:").is_empty());
    }

    #[test]
    fn parses_and_prints() {
        let s = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d = Digest::parse(s).unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(Digest::sha256_of(b""), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            Digest::parse("abc"),
            Err(DigestError::MissingAlgorithm(_))
        ));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Digest::parse("sha256:abc"),
            Err(DigestError::WrongLength { .. })
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(
            Digest::parse(&upper),
            Err(DigestError::NotLowerHex(_))
        ));
    }

    #[test]
    fn sha512_streams_like_one_shot() {
        let mut a = Hasher::new(Algorithm::Sha512);
        a.update(b"hello ");
        a.update(b"world");
        let mut b = Hasher::new(Algorithm::Sha512);
        b.update(b"hello world");
        let (a, b) = (a.finish(), b.finish());
        assert_eq!(a, b);
        assert_eq!(a.hex().len(), 128);
    }

    #[test]
    fn any_digest_follows_the_spec_grammar() {
        let hex = "c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
        for ok in [
            format!("sha256+b64:{hex}"),
            format!("sha256.foo-bar:{hex}"),
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8".to_string(),
            "sha256+b64u.unknownlength:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=".to_string(),
        ] {
            let d = AnyDigest::parse(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(d.registered().is_none());
            assert_eq!(d.to_string(), ok);
            assert!(d
                .require_registered()
                .unwrap_err()
                .to_string()
                .contains(d.algorithm_name()));
        }
        let registered = AnyDigest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(registered.registered().map(|d| d.hex()), Some(hex));
        for bad in [
            format!("sha256+foo+-b:{hex}"),
            format!(":{hex}"),
            "sha256".to_string(),
            format!("SHA256:{hex}"),
            format!("sha256:{}", hex.to_uppercase()),
            "x:a/b".to_string(),
            "x:".to_string(),
            String::new(),
        ] {
            assert!(AnyDigest::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn mismatch_names_both() {
        let e = Digest::sha256_of(b"a");
        let a = Digest::sha256_of(b"b");
        let msg = e.verify(&a).unwrap_err().to_string();
        assert!(msg.contains(&e.to_string()) && msg.contains(&a.to_string()));
    }
}
