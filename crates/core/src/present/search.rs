//! Path search across every layer of an image, for the Files tab's search box.
//!
//! API summary:
//! - [`PathPattern::parse`]`(text) -> Result<PathPattern, PatternError>`: `/re/` is a
//!   regular expression, anything else a substring.
//! - [`search`]`(&FileTrees, &PathPattern, limit) -> SearchResults`: the paths each layer
//!   wrote, created or removed that match, layer by layer, with `truncated` when the
//!   limit cut the list.
//!
//! What is matched is the full path with a leading slash (`/etc/ssl/certs`), so `/etc`
//! and `etc/` both find `/etc/...`. Case: a substring is **smart-case**, as in ripgrep and
//! vim: without an uppercase letter it ignores ASCII case (`ssl` finds `SSL`), with one it
//! is exact (`SSL` finds only `SSL`); non-ASCII letters always match exactly. A regular
//! expression is exact as written; `(?i)` makes it ignore case. Spaces around the text
//! are ignored. Regular expressions are `regex-lite`'s syntax (no look-around, linear
//! time), bounded in length and compiled size so no pattern can stall the worker; they
//! are tried on paths of up to [`MAX_REGEX_PATH_BYTES`] (Linux's `PATH_MAX`), while a
//! substring is found in a path of any length (its matcher resumes where the previous
//! path's left off, so a search stays linear in a tree nested a hundred thousand deep).

use std::ops::ControlFlow;

use crate::engine::tar::EntryKind;
use crate::engine::tree::{FileTrees, Mark};

/// The longest pattern text accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// The most hits one search returns.
pub const MAX_SEARCH_HITS: usize = 1000;

/// The most path bytes one search returns: hits with very long paths cut the list sooner.
pub const MAX_SEARCH_PATH_BYTES: usize = 1 << 20;

/// The longest path a regular expression is tried on: Linux's `PATH_MAX`.
pub const MAX_REGEX_PATH_BYTES: usize = 4096;

/// The compiled size a regular expression may reach.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// How deeply groups and repetitions may nest.
const REGEX_NEST_LIMIT: u32 = 64;

/// Why a search text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing to search for.
    #[error("the search is empty: type part of a path, or /regex/")]
    Empty,
    /// The text is longer than [`MAX_PATTERN_BYTES`].
    #[error("the search is {len} bytes long; at most {limit} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// [`MAX_PATTERN_BYTES`].
        limit: usize,
    },
    /// `/.../` holds no valid regular expression.
    #[error("/{pattern}/ is not a valid regular expression: {reason}")]
    BadRegex {
        /// The expression between the slashes.
        pattern: String,
        /// The parser's reason.
        reason: String,
    },
}

/// A parsed search text; see the module documentation.
#[derive(Clone, Debug)]
pub enum PathPattern {
    /// A plain part of a path.
    Substring {
        /// The text as given, for display.
        text: String,
        /// What is looked for: the text, ASCII-lowercased when the case is ignored.
        needle: Vec<u8>,
        /// Whether ASCII case is ignored (the text has no uppercase letter).
        ignore_case: bool,
    },
    /// `/re/`.
    Regex {
        /// The expression between the slashes.
        source: String,
        /// The compiled expression.
        regex: regex_lite::Regex,
    },
}

impl PathPattern {
    /// Parses the search box's text.
    pub fn parse(text: &str) -> Result<PathPattern, PatternError> {
        let text = text.trim();
        if text.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLong {
                len: text.len(),
                limit: MAX_PATTERN_BYTES,
            });
        }
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if let Some(inner) = text
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix('/'))
        {
            if inner.is_empty() {
                return Err(PatternError::Empty);
            }
            let regex = regex_lite::RegexBuilder::new(inner)
                .size_limit(REGEX_SIZE_LIMIT)
                .nest_limit(REGEX_NEST_LIMIT)
                .build()
                .map_err(|e| PatternError::BadRegex {
                    pattern: inner.to_string(),
                    reason: e.to_string(),
                })?;
            return Ok(PathPattern::Regex {
                source: inner.to_string(),
                regex,
            });
        }
        let ignore_case = !text.chars().any(char::is_uppercase);
        let needle = if ignore_case {
            text.as_bytes().to_ascii_lowercase()
        } else {
            text.as_bytes().to_vec()
        };
        Ok(PathPattern::Substring {
            text: text.to_string(),
            needle,
            ignore_case,
        })
    }

    /// Whether `path` (with its leading slash) matches. `scratch` is reused between calls.
    /// (Regular expressions are tried on paths of any length here.)
    pub fn matches(&self, path: &[u8], scratch: &mut Vec<u8>) -> bool {
        match self {
            PathPattern::Substring {
                needle,
                ignore_case,
                ..
            } => {
                let haystack = if *ignore_case {
                    scratch.clear();
                    scratch.extend(path.iter().map(u8::to_ascii_lowercase));
                    &scratch[..]
                } else {
                    path
                };
                contains(haystack, needle)
            }
            PathPattern::Regex { regex, .. } => match std::str::from_utf8(path) {
                Ok(text) => regex.is_match(text),
                Err(_) => regex.is_match(&String::from_utf8_lossy(path)),
            },
        }
    }
}

/// Matches a stream of paths that share prefixes (see
/// [`crate::engine::tree::ChangedPath::shared`]).
enum Matcher<'p> {
    /// Knuth-Morris-Pratt over the needle, with the state saved at every `/`.
    Substring {
        needle: &'p [u8],
        ignore_case: bool,
        /// `failure[i]`: the longest proper border of `needle[..=i]`.
        failure: Vec<usize>,
        /// (bytes read, needle bytes matched, found), root first.
        checkpoints: Vec<(usize, usize, bool)>,
    },
    Regex(&'p regex_lite::Regex),
}

impl<'p> Matcher<'p> {
    fn new(pattern: &'p PathPattern) -> Matcher<'p> {
        match pattern {
            PathPattern::Substring {
                needle,
                ignore_case,
                ..
            } => {
                let mut failure = vec![0; needle.len()];
                let mut k = 0;
                for i in 1..needle.len() {
                    while k > 0 && needle[i] != needle[k] {
                        k = failure[k - 1];
                    }
                    if needle[i] == needle[k] {
                        k += 1;
                    }
                    failure[i] = k;
                }
                Matcher::Substring {
                    needle,
                    ignore_case: *ignore_case,
                    failure,
                    checkpoints: Vec::new(),
                }
            }
            PathPattern::Regex { regex, .. } => Matcher::Regex(regex),
        }
    }

    /// Whether `path` matches; its first `shared` bytes are the previous path's.
    fn matches(&mut self, path: &[u8], shared: usize) -> bool {
        match self {
            Matcher::Regex(regex) => {
                path.len() <= MAX_REGEX_PATH_BYTES
                    && match std::str::from_utf8(path) {
                        Ok(text) => regex.is_match(text),
                        Err(_) => regex.is_match(&String::from_utf8_lossy(path)),
                    }
            }
            Matcher::Substring {
                needle,
                ignore_case,
                failure,
                checkpoints,
            } => {
                while checkpoints.last().is_some_and(|c| c.0 > shared) {
                    checkpoints.pop();
                }
                let (start, mut state, mut found) = checkpoints.last().copied().unwrap_or_default();
                for (i, &raw) in path.iter().enumerate().skip(start) {
                    // The resumed-from checkpoint is already there.
                    if raw == b'/' && checkpoints.last().is_none_or(|c| c.0 < i) {
                        checkpoints.push((i, state, found));
                    }
                    if found {
                        continue;
                    }
                    let b = if *ignore_case {
                        raw.to_ascii_lowercase()
                    } else {
                        raw
                    };
                    while state > 0 && b != needle[state] {
                        state = failure[state - 1];
                    }
                    if b == needle[state] {
                        state += 1;
                    }
                    if state == needle.len() {
                        found = true;
                    }
                }
                if checkpoints.last().is_none_or(|c| c.0 < path.len()) {
                    checkpoints.push((path.len(), state, found));
                }
                found
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .any(|(i, _)| haystack[i + 1..].starts_with(rest))
}

/// One path a layer changed that matches the search.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// The layer, 0 for the bottom one.
    pub layer: usize,
    /// The path, `/etc/ssl/certs` (invalid UTF-8 shown as U+FFFD).
    pub path: String,
    /// How the layer changed it: added, modified, removed, or unchanged (written again
    /// with the same content and metadata).
    pub mark: Mark,
    /// What the entry is (for a removed entry, what it was).
    pub kind: EntryKind,
}

/// What a search found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// The hits in layer order, by path within a layer.
    pub hits: Vec<SearchHit>,
    /// True when more paths matched than the limit let through.
    pub truncated: bool,
}

/// Finds the paths every layer wrote, created or removed that match `pattern`, at most
/// `limit` of them (and never more than [`MAX_SEARCH_HITS`], or than
/// [`MAX_SEARCH_PATH_BYTES`] of paths). Each layer's changed paths
/// are searched, so a path shows once for each layer that added, modified or removed it.
pub fn search(trees: &FileTrees, pattern: &PathPattern, limit: usize) -> SearchResults {
    let limit = limit.min(MAX_SEARCH_HITS);
    let mut results = SearchResults::default();
    let mut layer_start = 0;
    let mut current_layer = 0;
    let mut matcher = Matcher::new(pattern);
    let mut path_bytes = 0;
    trees.visit_changed_paths(|change| {
        if change.layer != current_layer {
            results.hits[layer_start..].sort_by(|a, b| a.path.cmp(&b.path));
            layer_start = results.hits.len();
            current_layer = change.layer;
        }
        if !matcher.matches(change.path, change.shared) {
            return ControlFlow::Continue(());
        }
        if results.hits.len() == limit || path_bytes >= MAX_SEARCH_PATH_BYTES {
            results.truncated = true;
            return ControlFlow::Break(());
        }
        path_bytes += change.path.len();
        results.hits.push(SearchHit {
            layer: change.layer,
            path: String::from_utf8_lossy(change.path).into_owned(),
            mark: change.mark,
            kind: change.kind,
        });
        ControlFlow::Continue(())
    });
    results.hits[layer_start..].sort_by(|a, b| a.path.cmp(&b.path));
    results
}
