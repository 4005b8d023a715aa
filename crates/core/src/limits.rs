//! Bounds on what an image's bytes may make the reader hold or do.
//!
//! Every count and size that input controls is checked against one of these before it is
//! allowed to grow. The defaults are far above what real images need (docker stacks at most
//! 127 layers; Linux paths end at 4096 bytes; zstd's own decoder refuses windows over
//! 128 MiB unless told otherwise) and low enough that a hostile archive is refused in
//! bounded time and memory. A user who meets a real image past one raises it: the refusal
//! names the limit, the value met and the command-line option to raise it with.

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

    /// The command-line option that raises it (`layerscope inspect --max-layers N`).
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

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.limit == Limit::ArchiveEntries {
            // Counted as the members go by: how many more there are is not known.
            return write!(
                f,
                "{} has more than {} {}; raise the limit with {} N",
                self.subject,
                self.max,
                self.limit.measure(),
                self.limit.option()
            );
        }
        write!(
            f,
            "{} has {} {}, over the limit of {}; raise it with {} {}",
            self.subject,
            self.value,
            self.limit.measure(),
            self.max,
            self.limit.option(),
            self.value
        )
    }
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
    fn a_refusal_names_the_value_the_limit_and_the_option() {
        let limits = Limits::DEFAULT;
        assert!(limits.check(Limit::Layers, "manifest.json", 1024).is_ok());
        let err = limits
            .check(Limit::Layers, "manifest.json", 1025)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest.json has 1025 layers, over the limit of 1024; raise it with --max-layers 1025"
        );
        let err = limits
            .check(Limit::ArchiveEntries, "the archive", 200_001)
            .unwrap_err();
        assert!(
            err.to_string().contains("more than 200000")
                && err.to_string().contains("--max-archive-entries N"),
            "{err}"
        );
    }
}
