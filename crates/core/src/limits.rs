//! Bounds on what an image's bytes may make the reader hold or do.
//!
//! Every count and size that input controls is checked against one of these before it is
//! allowed to grow. The defaults are far above what real images need (docker stacks at most
//! 127 layers; Linux paths end at 4096 bytes; zstd's own decoder refuses windows over
//! 128 MiB unless told otherwise) and low enough that a hostile archive is refused in
//! bounded time and memory. A refusal ([`LimitExceeded`]) names the limit, the value met
//! and the limit in force; how to raise it depends on where the image is read, so the
//! front end that prints the refusal says so: the CLI names its option
//! ([`Limit::option`]), the page what it offers instead. [`exceeded_in`] finds the refusal
//! inside any error of the core.

use std::fmt;

/// The bounds an [`crate::archive::ArchiveReader`] and the layer scanner work within.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Most members the outer archive (or files a layout directory) may have.
    pub max_archive_entries: u64,
    /// Largest JSON document (manifest.json, index.json, a manifest, a config).
    pub max_document_bytes: u64,
    /// Most layers one image may have.
    pub max_layers: u64,
    /// Most entries a config's history may have.
    pub max_history: u64,
    /// Longest entry name (or link target) in a tar, in bytes.
    pub max_path_bytes: u64,
    /// Most `/`-separated components of an entry name in a tar.
    pub max_path_depth: u64,
    /// Largest window a zstd frame may declare (the memory its decoder must keep).
    pub max_zstd_window: u64,
}

impl Limits {
    /// The defaults; see the module documentation.
    pub const DEFAULT: Limits = Limits {
        max_archive_entries: 200_000,
        max_document_bytes: 4 * 1024 * 1024,
        max_layers: 1024,
        max_history: 65_536,
        max_path_bytes: 64 * 1024,
        max_path_depth: 4096,
        max_zstd_window: 1 << 27,
    };

    /// The bound `limit` stands for.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::ArchiveEntries => self.max_archive_entries,
            Limit::DocumentBytes => self.max_document_bytes,
            Limit::Layers => self.max_layers,
            Limit::History => self.max_history,
            Limit::PathBytes => self.max_path_bytes,
            Limit::PathDepth => self.max_path_depth,
            Limit::ZstdWindow => self.max_zstd_window,
        }
    }

    /// Sets the bound `limit` stands for.
    pub fn set(&mut self, limit: Limit, value: u64) {
        let field = match limit {
            Limit::ArchiveEntries => &mut self.max_archive_entries,
            Limit::DocumentBytes => &mut self.max_document_bytes,
            Limit::Layers => &mut self.max_layers,
            Limit::History => &mut self.max_history,
            Limit::PathBytes => &mut self.max_path_bytes,
            Limit::PathDepth => &mut self.max_path_depth,
            Limit::ZstdWindow => &mut self.max_zstd_window,
        };
        *field = value;
    }

    /// `Err` naming the limit when `value` of `subject` is over it.
    pub fn check(&self, limit: Limit, subject: &str, value: u64) -> Result<(), LimitExceeded> {
        let max = self.get(limit);
        if value > max {
            return Err(LimitExceeded {
                limit,
                subject: subject.to_string(),
                value,
                max,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// One of the [`Limits`], by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// [`Limits::max_archive_entries`].
    ArchiveEntries,
    /// [`Limits::max_document_bytes`].
    DocumentBytes,
    /// [`Limits::max_layers`].
    Layers,
    /// [`Limits::max_history`].
    History,
    /// [`Limits::max_path_bytes`].
    PathBytes,
    /// [`Limits::max_path_depth`].
    PathDepth,
    /// [`Limits::max_zstd_window`].
    ZstdWindow,
}

impl Limit {
    /// Every limit, in the order `--help` lists them.
    pub const ALL: [Limit; 7] = [
        Limit::ArchiveEntries,
        Limit::DocumentBytes,
        Limit::Layers,
        Limit::History,
        Limit::PathBytes,
        Limit::PathDepth,
        Limit::ZstdWindow,
    ];

    /// The option of `layerscope inspect` that raises it (`--max-layers N`).
    pub fn option(self) -> &'static str {
        match self {
            Limit::ArchiveEntries => "--max-archive-entries",
            Limit::DocumentBytes => "--max-document-size",
            Limit::Layers => "--max-layers",
            Limit::History => "--max-history",
            Limit::PathBytes => "--max-path-length",
            Limit::PathDepth => "--max-path-depth",
            Limit::ZstdWindow => "--max-zstd-window",
        }
    }

    /// What is counted, in words.
    pub fn measure(self) -> &'static str {
        match self {
            Limit::ArchiveEntries => "archive entries",
            Limit::DocumentBytes => "document bytes",
            Limit::Layers => "layers",
            Limit::History => "history entries",
            Limit::PathBytes => "path bytes",
            Limit::PathDepth => "path components",
            Limit::ZstdWindow => "bytes of window",
        }
    }
}

/// Input went past one of the [`Limits`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LimitExceeded {
    /// Which limit.
    pub limit: Limit,
    /// What went past it ("manifest.json", "the entry at byte offset 1536").
    pub subject: String,
    /// The value met.
    pub value: u64,
    /// The limit in force.
    pub max: u64,
}

impl LimitExceeded {
    /// Whether [`LimitExceeded::value`] is only where counting stopped (members counted as
    /// they stream by, a body read up to one byte past the limit), not the whole amount.
    pub fn counted_past(&self) -> bool {
        matches!(self.limit, Limit::ArchiveEntries | Limit::DocumentBytes)
            && self.value == self.max.saturating_add(1)
    }

    /// The least setting of the limit that lets the input through, when it is known.
    pub fn needed(&self) -> Option<u64> {
        (!self.counted_past()).then_some(self.value)
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (subject, measure, max) = (&self.subject, self.limit.measure(), self.max);
        if self.counted_past() {
            return write!(f, "{subject} has more than {max} {measure}, the limit");
        }
        write!(
            f,
            "{subject} has {} {measure}, over the limit of {max}",
            self.value
        )
    }
}

/// The [`LimitExceeded`] an error of the core comes from, when it does: `error` itself or
/// one of its sources.
pub fn exceeded_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a LimitExceeded> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
            return Some(exceeded);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_set_and_read_by_name() {
        let mut limits = Limits::DEFAULT;
        for (i, limit) in Limit::ALL.into_iter().enumerate() {
            limits.set(limit, 1000 + i as u64);
        }
        for (i, limit) in Limit::ALL.into_iter().enumerate() {
            assert_eq!(limits.get(limit), 1000 + i as u64, "{limit:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_value_and_the_limit_but_no_front_ends_option() {
        let limits = Limits::DEFAULT;
        assert!(limits.check(Limit::Layers, "manifest.json", 1024).is_ok());
        let err = limits
            .check(Limit::Layers, "manifest.json", 1025)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest.json has 1025 layers, over the limit of 1024"
        );
        assert_eq!(err.needed(), Some(1025));
        let err = limits
            .check(Limit::ArchiveEntries, "the archive", 200_001)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the archive has more than 200000 archive entries, the limit"
        );
        assert_eq!(err.needed(), None);
        for limit in Limit::ALL {
            let err = LimitExceeded {
                limit,
                subject: "it".into(),
                value: 7,
                max: 5,
            };
            assert!(!err.to_string().contains("--"), "{err}");
        }
    }

    #[test]
    fn the_refusal_is_found_among_an_errors_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading layer 3: {source}")]
        struct Outer {
            source: LimitExceeded,
        }
        let inner = Limits::DEFAULT
            .check(Limit::PathDepth, "the entry", 5000)
            .unwrap_err();
        let outer = Outer {
            source: inner.clone(),
        };
        assert_eq!(exceeded_in(&outer), Some(&inner));
        assert_eq!(exceeded_in(&inner), Some(&inner));
        let unrelated = std::io::Error::other("no");
        assert_eq!(exceeded_in(&unrelated), None);
    }
}
