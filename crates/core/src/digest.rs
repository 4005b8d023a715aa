//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and streaming hashers.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A hash algorithm that OCI content digests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
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
    WrongLength { algorithm: Algorithm, expected: usize, found: usize },
    /// The hex part contains something other than `0-9a-f`.
    NotLowerHex(String),
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::MissingAlgorithm(s) => {
                write!(f, "digest {s:?} has no algorithm prefix (expected sha256:<hex>)")
            }
            DigestError::UnsupportedAlgorithm(a) => {
                write!(f, "digest algorithm {a:?} is not supported (only sha256 and sha512)")
            }
            DigestError::WrongLength { algorithm, expected, found } => write!(
                f,
                "{} digest must have {expected} hex characters, found {found}",
                algorithm.name()
            ),
            DigestError::NotLowerHex(s) => {
                write!(f, "digest hex {s:?} may contain only 0-9 and a-f")
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
        Ok(Digest { algorithm, hex: hex.to_string() })
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

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
            Err(Mismatch { expected: self.clone(), actual: actual.clone() })
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
    pub expected: Digest,
    pub actual: Digest,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "digest mismatch: expected {}, actual {}", self.expected, self.actual)
    }
}

impl std::error::Error for Mismatch {}

/// A streaming hasher for one [`Algorithm`].
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
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

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, bytes): (Algorithm, Vec<u8>) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest { algorithm, hex: to_hex(&bytes) }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(Digest::parse("abc"), Err(DigestError::MissingAlgorithm(_))));
        assert!(matches!(Digest::parse("md5:abc"), Err(DigestError::UnsupportedAlgorithm(_))));
        assert!(matches!(Digest::parse("sha256:abc"), Err(DigestError::WrongLength { .. })));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(Digest::parse(&upper), Err(DigestError::NotLowerHex(_))));
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
    fn mismatch_names_both() {
        let e = Digest::sha256_of(b"a");
        let a = Digest::sha256_of(b"b");
        let msg = e.verify(&a).unwrap_err().to_string();
        assert!(msg.contains(&e.to_string()) && msg.contains(&a.to_string()));
    }
}
