//! `docker history` rows and the history as a Dockerfile.
//!
//! API summary:
//! - [`rows`]`(config: &ImageConfig, layer_sizes: &[u64], image_id: &Digest, now_unix: i64) -> HistoryTable`:
//!   `docker history` for a pulled image, newest first; `layer_sizes` are the
//!   uncompressed sizes in layer order (base first), as many as are known;
//! - [`HistoryTable`] `{ rows: Vec<TableRow>, warnings: Vec<String> }`;
//! - [`TableRow`] (see its fields: image, created, created by in docker's,
//!   truncated, raw and Dockerfile forms, size, comment, empty_layer, layer index);
//! - [`dockerfile`]`(config: &ImageConfig) -> String`: the history as Dockerfile text;
//! - [`instruction`]`(created_by: &str) -> String`: one entry as a Dockerfile line.
//!
//! Facts from docker's CLI (`cli/command/image/formatter_history.go`): the
//! IMAGE column is the image ID on the top row and `<missing>` on rows that
//! have no local image (every row but the top for a pulled image); CREATED is
//! go-units' human duration plus " ago", blank for times not after
//! 2000-01-01; CREATED BY has tabs turned into spaces and, unless
//! `--no-trunc`, is cut to 45 display columns with a trailing `…`; SIZE uses
//! three significant digits. The daemon pairs history entries with
//! `rootfs.diff_ids` in order, skipping `empty_layer` entries, and sizes each
//! row by its layer.

use serde::Serialize;

use crate::model::config::{HistoryEntry, ImageConfig};
use crate::model::digest::Digest;
use crate::model::time::Timestamp;
use crate::present::humanize;

/// What docker prints in the IMAGE column for steps with no local image.
pub const MISSING: &str = "<missing>";
/// docker's truncation width for CREATED BY.
pub const CREATED_BY_WIDTH: usize = 45;
/// docker shows no relative time for creation dates at or before this (2000-01-01).
const EPOCH_2000: i64 = 946_684_800;

/// One row of `docker history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableRow {
    /// IMAGE: the full image ID (`sha256:...`) on the top row, else `<missing>`.
    pub image: String,
    /// IMAGE as the table shows it: 12 hex characters, or `<missing>`.
    pub image_short: String,
    /// CREATED: `4 weeks ago`, or empty when the time is absent or before 2000.
    pub created_since: String,
    /// The creation time in RFC 3339 (UTC, whole seconds), when known.
    pub created_at: Option<String>,
    /// The creation time in Unix seconds, when known.
    pub created_unix: Option<i64>,
    /// CREATED BY as `docker history --no-trunc` prints it (tabs as spaces).
    pub created_by: String,
    /// CREATED BY as the default table prints it (45 columns, `…`).
    pub created_by_short: String,
    /// The `created_by` text exactly as recorded.
    pub created_by_raw: String,
    /// The step as a Dockerfile instruction (see [`instruction`]).
    pub instruction: String,
    /// SIZE in bytes: the paired layer's uncompressed size, 0 for empty layers,
    /// `None` when the layer's size is not known.
    pub size: Option<u64>,
    /// SIZE as docker prints it, empty when unknown.
    pub size_text: String,
    /// COMMENT.
    pub comment: String,
    /// True when the step made no layer.
    pub empty_layer: bool,
    /// Index (base first) of the layer this step made, if paired.
    pub layer_index: Option<usize>,
}

/// The whole `docker history` table plus any pairing problems.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HistoryTable {
    /// Rows, newest first.
    pub rows: Vec<TableRow>,
    /// Why some rows could not be paired with layers or sizes.
    pub warnings: Vec<String>,
}

/// Builds `docker history` rows for a pulled image.
///
/// History entries and `rootfs.diff_ids` are paired in order, skipping
/// `empty_layer` entries. When the counts disagree, the first entries and
/// layers are paired, a warning says so, and layers left without an entry
/// still get a row (with nothing in CREATED BY) so no layer goes unseen.
pub fn rows(
    config: &ImageConfig,
    layer_sizes: &[u64],
    image_id: &Digest,
    now_unix: i64,
) -> HistoryTable {
    let layer_count = config.rootfs.diff_ids.len();
    let mut warnings = Vec::new();
    let non_empty = config.history.iter().filter(|h| !h.empty_layer).count();
    if non_empty != layer_count {
        warnings.push(format!(
            "history has {non_empty} entries that made layers but rootfs.diff_ids lists {layer_count} layers; \
             paired the first {} in order",
            non_empty.min(layer_count)
        ));
    }
    if layer_sizes.len() != layer_count {
        warnings.push(format!(
            "sizes are known for {} of {layer_count} layers; rows without a known size show none",
            layer_sizes.len().min(layer_count)
        ));
    }
    let mut oldest_first = Vec::with_capacity(config.history.len() + layer_count);
    let mut next_layer = 0usize;
    for entry in &config.history {
        let layer_index = if entry.empty_layer || next_layer >= layer_count {
            None
        } else {
            next_layer += 1;
            Some(next_layer - 1)
        };
        oldest_first.push(row(entry, layer_index, layer_sizes, now_unix));
    }
    for index in next_layer..layer_count {
        oldest_first.push(row(
            &HistoryEntry::default(),
            Some(index),
            layer_sizes,
            now_unix,
        ));
    }
    let mut rows: Vec<TableRow> = oldest_first.into_iter().rev().collect();
    if let Some(top) = rows.first_mut() {
        top.image = image_id.to_string();
        top.image_short = image_id.short().to_string();
    }
    HistoryTable { rows, warnings }
}

fn row(
    entry: &HistoryEntry,
    layer_index: Option<usize>,
    layer_sizes: &[u64],
    now_unix: i64,
) -> TableRow {
    let created = entry
        .created
        .as_deref()
        .and_then(|c| Timestamp::parse(c).ok());
    let created_since = match created {
        Some(t) if t.unix > EPOCH_2000 => humanize::ago(t.unix, now_unix),
        _ => String::new(),
    };
    let raw = entry.created_by.clone().unwrap_or_default();
    let display = raw.replace('\t', " ");
    let size = match layer_index {
        Some(i) => layer_sizes.get(i).copied(),
        None if entry.empty_layer => Some(0),
        // A non-empty entry beyond the last layer: its layer is missing.
        None => None,
    };
    TableRow {
        image: MISSING.to_string(),
        image_short: MISSING.to_string(),
        created_since,
        created_at: created.map(|t| t.to_rfc3339()),
        created_unix: created.map(|t| t.unix),
        created_by_short: ellipsis(&display, CREATED_BY_WIDTH),
        created_by: display,
        instruction: instruction(&raw),
        created_by_raw: raw,
        size,
        size_text: size.map(humanize::size).unwrap_or_default(),
        comment: entry.comment.clone().unwrap_or_default(),
        empty_layer: entry.empty_layer,
        layer_index,
    }
}

/// Cuts `text` to `width` display columns with a trailing `…`, as docker's
/// table formatter does (East Asian wide characters count two columns).
pub fn ellipsis(text: &str, width: usize) -> String {
    let widths: Vec<usize> = text.chars().map(char_width).collect();
    if widths.iter().sum::<usize>() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for (c, w) in text.chars().zip(widths) {
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Two columns for East Asian wide and fullwidth characters, one otherwise.
fn char_width(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
    if wide {
        2
    } else {
        1
    }
}

/// Dockerfile keywords a cleaned-up `created_by` may start with.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// One history entry as a Dockerfile instruction.
///
/// The legacy builder records metadata steps as `/bin/sh -c #(nop)  CMD [...]`
/// and RUN steps as `/bin/sh -c <command>` (with `|N NAME=value ...` first when
/// build args were set); BuildKit records `RUN /bin/sh -c <command> # buildkit`
/// and bare keywords. This turns all of them into `KEYWORD arguments`; text
/// from other tools that is not an instruction becomes a `#` comment.
pub fn instruction(created_by: &str) -> String {
    let text = created_by.trim();
    if text.is_empty() {
        return "# (no instruction recorded)".to_string();
    }
    let text = text
        .strip_suffix("# buildkit")
        .map(str::trim_end)
        .unwrap_or(text);
    for shell in ["/bin/sh -c ", "cmd /S /C "] {
        if let Some(rest) = text.strip_prefix(shell) {
            return match rest.trim_start().strip_prefix("#(nop)") {
                Some(meta) => tidy_keyword_line(meta.trim(), true),
                None => format!("RUN {}", rest.trim()),
            };
        }
    }
    if let Some(rest) = text.strip_prefix("RUN ") {
        return format!("RUN {}", strip_run_wrapping(rest.trim()));
    }
    if let Some(rest) = strip_build_args(text) {
        return format!("RUN {}", strip_run_wrapping(rest));
    }
    let keyword = text.split_whitespace().next().unwrap_or("");
    if KEYWORDS.contains(&keyword) {
        return tidy_keyword_line(text, false);
    }
    format!("# {}", text.replace('\n', "\n# "))
}

/// `|2 A=1 B=2 /bin/sh -c cmd` -> `cmd`; `/bin/sh -c cmd` -> `cmd`.
fn strip_run_wrapping(run: &str) -> &str {
    let run = strip_build_args(run).unwrap_or(run);
    run.strip_prefix("/bin/sh -c ")
        .or_else(|| run.strip_prefix("cmd /S /C "))
        .unwrap_or(run)
        .trim()
}

/// Removes the legacy `|N NAME=value ...` build-arg prefix, if present.
fn strip_build_args(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('|')?;
    let (count, mut rest) = rest.split_once(' ')?;
    let count: usize = count.parse().ok()?;
    for _ in 0..count {
        let (_, after) = rest.split_once(' ')?;
        rest = after;
    }
    Some(rest.trim())
}

/// Rewrites the few metadata forms builders record in Go syntax; `legacy`
/// marks the classic builder's `#(nop)` lines.
fn tidy_keyword_line(line: &str, legacy: bool) -> String {
    let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let args = args.trim();
    match keyword {
        // `EXPOSE map[80/tcp:{} 443/tcp:{}]` -> `EXPOSE 80/tcp 443/tcp`
        "EXPOSE" => match args.strip_prefix("map[").and_then(|a| a.strip_suffix(']')) {
            Some(map) => {
                let ports: Vec<&str> = map
                    .split_whitespace()
                    .map(|p| p.trim_end_matches(":{}"))
                    .collect();
                format!("EXPOSE {}", ports.join(" "))
            }
            None => format!("EXPOSE {args}"),
        },
        // The legacy builder writes `ADD file:abc in /dst`.
        "ADD" | "COPY" if legacy => match args.rsplit_once(" in ") {
            Some((src, dst)) => format!("{keyword} {} {}", src.trim(), dst.trim()),
            None => format!("{keyword} {args}"),
        },
        _ if args.is_empty() => keyword.to_string(),
        _ => format!("{keyword} {args}"),
    }
}

/// The history as a Dockerfile, oldest step first.
///
/// Steps that left no instruction (imported base layers) and text from
/// non-Dockerfile builders are kept as comments, so the line count matches
/// the history.
pub fn dockerfile(config: &ImageConfig) -> String {
    let mut out = String::new();
    for entry in &config.history {
        let line = instruction(entry.created_by.as_deref().unwrap_or(""));
        // Multi-line RUN commands keep their lines, joined as continuations.
        let line = if line.starts_with('#') {
            line
        } else {
            line.replace('\n', " \\\n    ")
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The history command of each non-empty history step, one per layer.
pub fn layer_commands(config: &ImageConfig, layers: usize) -> Vec<String> {
    let steps: Vec<String> = config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect();
    (0..layers)
        .map(|i| steps.get(i).cloned().unwrap_or_default())
        .collect()
}

/// The report's `docker history` rows (newest first) and pairing warnings; `layer_sizes`
/// are known only after the scan. Relative times are left to the display, which has a clock.
pub fn report_rows(
    config: &ImageConfig,
    image_id: &Digest,
    layer_sizes: &[u64],
) -> (Vec<crate::present::report::HistoryRow>, Vec<String>) {
    let table = rows(config, layer_sizes, image_id, 0);
    let rows = table
        .rows
        .into_iter()
        .map(|row| crate::present::report::HistoryRow {
            image: row.image_short,
            created: row.created_at,
            created_by: row.created_by,
            size: row.size.unwrap_or(0),
            comment: row.comment,
            empty_layer: row.empty_layer,
        })
        .collect();
    (rows, table.warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn config(history: &[(&str, bool, i64)], layers: usize) -> ImageConfig {
        let history: Vec<String> = history
            .iter()
            .map(|(by, empty, ago)| {
                let created = Timestamp::from_unix(NOW - ago).to_rfc3339();
                format!(
                    r#"{{"created":"{created}","created_by":{},"empty_layer":{empty},"comment":"c"}}"#,
                    serde_json::to_string(by).unwrap()
                )
            })
            .collect();
        let ids: Vec<String> = (0..layers)
            .map(|i| format!("\"sha256:{:064x}\"", i + 1))
            .collect();
        let doc = format!(
            r#"{{"architecture":"amd64","os":"linux","history":[{}],"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
            history.join(","),
            ids.join(",")
        );
        ImageConfig::parse(doc.as_bytes()).unwrap()
    }

    fn id() -> Digest {
        Digest::sha256_of(b"config")
    }

    #[test]
    fn rows_are_newest_first_and_paired_with_layers() {
        let c = config(
            &[
                ("/bin/sh -c #(nop) ADD file:a3bc in / ", false, 40 * 86400),
                ("/bin/sh -c #(nop)  CMD [\"sh\"]", true, 40 * 86400),
                ("RUN /bin/sh -c apk add\tcurl # buildkit", false, 28 * 86400),
                ("ENV A=b", true, 90),
            ],
            2,
        );
        let t = rows(&c, &[5_590_000, 126_000_000], &id(), NOW);
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let r = &t.rows;
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].image, id().to_string());
        assert_eq!(r[0].image_short, &id().hex()[..12]);
        assert!(r[1..].iter().all(|row| row.image == MISSING));
        assert_eq!(r[0].created_since, "About a minute ago");
        assert_eq!(r[1].created_since, "4 weeks ago");
        assert_eq!(r[3].created_since, "5 weeks ago");
        assert_eq!((r[0].size, r[0].size_text.as_str()), (Some(0), "0B"));
        assert_eq!(
            (r[1].size, r[1].size_text.as_str()),
            (Some(126_000_000), "126MB")
        );
        assert_eq!(r[3].size_text, "5.59MB");
        assert_eq!(r[1].layer_index, Some(1));
        assert_eq!(r[3].layer_index, Some(0));
        assert_eq!(r[1].created_by, "RUN /bin/sh -c apk add curl # buildkit");
        assert_eq!(
            r[1].created_by_raw,
            "RUN /bin/sh -c apk add\tcurl # buildkit"
        );
        assert_eq!(r[1].instruction, "RUN apk add\tcurl");
        assert_eq!(r[2].instruction, "CMD [\"sh\"]");
        assert_eq!(r[3].instruction, "ADD file:a3bc /");
        assert_eq!(r[0].comment, "c");
        assert_eq!(r[0].created_at.as_deref(), Some("2023-11-14T22:11:50Z"));
    }

    #[test]
    fn count_mismatches_are_reported_and_every_layer_shown() {
        let more_layers = config(&[("RUN a", false, 10)], 3);
        let t = rows(&more_layers, &[1, 2, 3], &id(), NOW);
        assert_eq!(t.warnings.len(), 1);
        assert!(
            t.warnings[0].contains("1 entries") && t.warnings[0].contains("3 layers"),
            "{:?}",
            t.warnings
        );
        assert_eq!(t.rows.len(), 3);
        assert_eq!(
            t.rows.iter().map(|r| r.layer_index).collect::<Vec<_>>(),
            vec![Some(2), Some(1), Some(0)]
        );
        assert_eq!(t.rows[0].created_by, "");

        let more_history = config(&[("RUN a", false, 10), ("RUN b", false, 5)], 1);
        let t = rows(&more_history, &[7], &id(), NOW);
        assert_eq!(
            t.rows[0].size, None,
            "entry beyond the last layer has no size"
        );
        assert_eq!(t.rows[0].size_text, "");
        assert_eq!(t.rows[1].size, Some(7));

        let unknown_sizes = config(&[("RUN a", false, 10)], 1);
        let t = rows(&unknown_sizes, &[], &id(), NOW);
        assert!(t.warnings[0].contains("sizes are known for 0 of 1"));
        assert_eq!(t.rows[0].size, None);
    }

    #[test]
    fn old_or_missing_dates_show_blank() {
        let c = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux","history":[{"created":"1970-01-01T00:00:00Z","created_by":"x"},{"created_by":"y","empty_layer":true}],
               "rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}"#,
        )
        .unwrap();
        let t = rows(&c, &[1], &id(), NOW);
        assert_eq!(t.rows[0].created_since, "");
        assert_eq!(t.rows[0].created_at, None);
        assert_eq!(t.rows[1].created_since, "");
        assert_eq!(
            t.rows[1].created_at.as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn created_by_is_truncated_like_docker() {
        let long = "/bin/sh -c apt-get update && apt-get install -y curl";
        assert_eq!(
            ellipsis(long, 45),
            "/bin/sh -c apt-get update && apt-get install…"
        );
        assert_eq!(ellipsis(long, 45).chars().count(), 45);
        assert_eq!(ellipsis("short", 45), "short");
        assert_eq!(ellipsis("日本語のテキスト", 7), "日本語…");
    }

    #[test]
    fn instructions_from_every_builder() {
        let cases = [
            (
                "/bin/sh -c #(nop)  ENV DOCKER_BUCKET=get.example",
                "ENV DOCKER_BUCKET=get.example",
            ),
            (
                "/bin/sh -c #(nop) COPY file:3996 in /usr/local/bin/ ",
                "COPY file:3996 /usr/local/bin/",
            ),
            (
                "/bin/sh -c #(nop)  EXPOSE map[80/tcp:{} 443/tcp:{}]",
                "EXPOSE 80/tcp 443/tcp",
            ),
            ("/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"),
            (
                "/bin/sh -c #(nop)  MAINTAINER A <a@b>",
                "MAINTAINER A <a@b>",
            ),
            (
                "/bin/sh -c apk add --no-cache curl",
                "RUN apk add --no-cache curl",
            ),
            ("|2 A=1 B=2 /bin/sh -c make", "RUN make"),
            ("RUN |1 V=1.0 /bin/sh -c echo $V # buildkit", "RUN echo $V"),
            (
                "RUN /bin/sh -c set -eux; apt-get update # buildkit",
                "RUN set -eux; apt-get update",
            ),
            ("COPY . /src # buildkit", "COPY . /src"),
            ("COPY docs in /srv/ # buildkit", "COPY docs in /srv/"),
            ("EXPOSE map[8080/tcp:{}]", "EXPOSE 8080/tcp"),
            (
                "ENTRYPOINT [\"/entrypoint.sh\"]",
                "ENTRYPOINT [\"/entrypoint.sh\"]",
            ),
            ("LABEL a=b", "LABEL a=b"),
            ("USER 1000", "USER 1000"),
            (
                "CMD [\"nginx\" \"-g\" \"daemon off;\"]",
                "CMD [\"nginx\" \"-g\" \"daemon off;\"]",
            ),
            ("ARG TARGETARCH", "ARG TARGETARCH"),
            ("bazel build //:image", "# bazel build //:image"),
            ("", "# (no instruction recorded)"),
        ];
        for (created_by, want) in cases {
            assert_eq!(instruction(created_by), want, "{created_by:?}");
        }
    }

    #[test]
    fn dockerfile_lists_steps_oldest_first() {
        let c = config(
            &[
                ("/bin/sh -c #(nop) ADD file:x in / ", false, 100),
                ("/bin/sh -c apt-get update\napt-get install -y x", false, 50),
                ("/bin/sh -c #(nop)  CMD [\"bash\"]", true, 10),
            ],
            2,
        );
        assert_eq!(
            dockerfile(&c),
            "ADD file:x /\nRUN apt-get update \\\n    apt-get install -y x\nCMD [\"bash\"]\n"
        );
    }
}
