//! `layerscope inspect SOURCE`: analyse an image archive or OCI layout directory in a terminal.
//!
//! All format knowledge is in `layerscope_core::archive`; this module only answers the
//! reader's byte-range requests from a file (or a directory's files, or stdin) and prints
//! the report.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use layerscope_core::archive::{ArchiveReader, DirectoryFile, ImageSelector, Step};
use layerscope_core::limits::Limits;
use layerscope_core::model::digest::Digest;
use layerscope_core::model::media::Compression;
use layerscope_core::model::platform::Platform;
use layerscope_core::model::reference::Reference;
use layerscope_core::present::ci::{CiConfig, CiOutcome, RuleStatus};
use layerscope_core::present::humanize;
use layerscope_core::present::inspect::NONE;
use layerscope_core::present::terminal::escape;
use layerscope_core::registry::Credentials;

use crate::pull;
use layerscope_core::present::report::{ImageListing, ImageReport};

/// Exit status when a CI rule fails, or a digest does not match (the image is still shown).
const EXIT_CI_FAILED: u8 = 1;
/// Exit status when the input cannot be read or is refused.
const EXIT_UNREADABLE: u8 = 2;
/// Most files listed under "top wasted files".
const TOP_WASTED: usize = 10;

/// Command-line options of `layerscope inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// A `docker save` / OCI layout archive (optionally gzip- or zstd-compressed), an OCI
    /// layout directory, `-` for an archive on standard input, or an image reference
    /// (`nginx:1.25`, `ghcr.io/org/app@sha256:...`) to read from its registry.
    pub source: PathBuf,
    /// For a registry image whose reference names an index: the platform to analyse
    /// (`os/arch[/variant]`; default: this machine's, `linux/amd64` on x86-64).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Log in to the registry as this user; the password or token comes from
    /// `LAYERSCOPE_PASSWORD`, else from the first line of standard input. Without it, the
    /// credentials `docker login` stored are used when there are some.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Talk to this registry (`host:port`, or a CIDR range) over plain HTTP. Loopback
    /// registries always are.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Print one JSON document (dive's `--json` shape plus history, inspect, files,
    /// verification and images) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Which image to analyse when the archive holds several: `name:tag`, or its position (0, 1, ...).
    #[arg(long, value_name = "NAME:TAG")]
    pub image: Option<String>,
    /// Only list the archive's images (read from its headers and small JSON documents), with
    /// the number of archive bytes that took; no layer is read.
    #[arg(long, conflicts_with = "ci")]
    pub list: bool,
    /// Check the image against dive's CI rules; exit 1 if any rule fails.
    #[arg(long)]
    pub ci: bool,
    /// Rules file in dive's `.dive-ci` format (default: ./.dive-ci if present, else dive's defaults).
    #[arg(long, value_name = "FILE", requires = "ci")]
    pub ci_config: Option<PathBuf>,
    /// Bounds on what an archive may make layerscope hold; each refusal names the one hit.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `--max-*` options: raise a bound for an archive that needs it (sizes take `K`, `M`,
/// `G` suffixes, powers of 1024).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Most members the outer archive (or files a layout directory) may have [default: 200000].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_archive_entries: Option<u64>,
    /// Largest JSON document (manifest.json, index.json, manifest, config) [default: 4M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Limits")]
    pub max_document_size: Option<u64>,
    /// Most layers the image may have [default: 1024].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_layers: Option<u64>,
    /// Most entries the config's history may have [default: 65536].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_history: Option<u64>,
    /// Longest file name (or link target) in a layer [default: 64K].
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Limits")]
    pub max_path_length: Option<u64>,
    /// Most directory levels of a file name in a layer [default: 4096].
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_path_depth: Option<u64>,
    /// Largest zstd window a frame may declare, as zstd's --long/--memory [default: 128M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Limits")]
    pub max_zstd_window: Option<u64>,
}

impl LimitArgs {
    /// The defaults with the options given put in.
    pub fn limits(&self) -> Limits {
        let given = [
            self.max_archive_entries,
            self.max_document_size,
            self.max_layers,
            self.max_history,
            self.max_path_length,
            self.max_path_depth,
            self.max_zstd_window,
        ];
        let mut limits = Limits::DEFAULT;
        for (limit, value) in layerscope_core::limits::Limit::ALL.into_iter().zip(given) {
            if let Some(value) = value {
                limits.set(limit, value);
            }
        }
        limits
    }
}

/// `4096`, `64K`, `128M`, `2G` (also `KiB`, `MB` and the like, all powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = text[digits.len()..].to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use K, M, G or T)"
            ))
        }
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a number of bytes"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Runs `layerscope inspect`; the exit code is 0, 1 (a CI rule failed, or a digest, diff_id
/// or blob size does not match what the documents say: the image is shown and the mismatch
/// listed) or 2 (unreadable input).
pub fn run(args: &InspectArgs) -> ExitCode {
    let ci = match args
        .ci
        .then(|| load_ci_config(args.ci_config.as_deref()))
        .transpose()
    {
        Ok(ci) => ci,
        Err(message) => return fail(&message),
    };
    let report = match analyse(args) {
        Ok(Analysis::Report(report)) => report,
        Ok(Analysis::Listing(listing)) => return print_listing(args, &listing),
        Err(message) => return fail(&message),
    };
    let outcome = ci.map(|config| config.evaluate(&report.efficiency.clone().unwrap_or_default()));
    let mut out = io::stdout().lock();
    let written = if args.json {
        report
            .write_dive_export(&mut out)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        print_human(&mut out, &report)
    };
    let written = written.and_then(|()| match &outcome {
        Some(outcome) if !args.json => print_ci(&mut out, &report, outcome),
        Some(outcome) => print_ci(&mut io::stderr().lock(), &report, outcome),
        None => Ok(()),
    });
    if let Err(error) = written {
        if error.kind() != io::ErrorKind::BrokenPipe {
            return fail(&format!("writing the output: {error}"));
        }
    }
    let mismatches: Vec<String> = report
        .verification
        .iter()
        .filter(|v| !v.ok)
        .map(|v| format!("{} of {}", v.what(), escape(&v.subject)))
        .collect();
    if !mismatches.is_empty() {
        // Said on stderr too, so a `--json` reader that only checks the status learns why.
        eprintln!(
            "layerscope inspect: {} of {} checks do not match what the documents say ({}); the image is shown unverified",
            mismatches.len(),
            report.verification.len(),
            mismatches.join("; ")
        );
    }
    match outcome {
        Some(outcome) if !outcome.passed => ExitCode::from(EXIT_CI_FAILED),
        _ if !mismatches.is_empty() => ExitCode::from(EXIT_CI_FAILED),
        _ => ExitCode::SUCCESS,
    }
}

/// `message` about `error`, with how to raise the limit the input went past when it went
/// past one: the core names the limit and the value, the option is this CLI's.
pub(crate) fn with_raise_advice(
    message: String,
    error: &(dyn std::error::Error + 'static),
) -> String {
    let Some(exceeded) = layerscope_core::limits::exceeded_in(error) else {
        return message;
    };
    let value = exceeded
        .needed()
        .map_or_else(|| "N".to_string(), |value| value.to_string());
    format!(
        "{message}; raise it with {} {value}",
        exceeded.limit.option()
    )
}

fn fail(message: &str) -> ExitCode {
    // Messages quote names from the image: escaped, like everything printed from it.
    eprintln!("layerscope inspect: {}", escape(message));
    ExitCode::from(EXIT_UNREADABLE)
}

fn load_ci_config(path: Option<&Path>) -> Result<CiConfig, String> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None if Path::new(".dive-ci").is_file() => PathBuf::from(".dive-ci"),
        None => return Ok(CiConfig::default()),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    CiConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn selector(image: &str) -> ImageSelector {
    match image.parse::<usize>() {
        Ok(index) => ImageSelector::Index(index),
        Err(_) => ImageSelector::Tag(image.to_string()),
    }
}

/// Where the bytes come from.
enum Source {
    File(File),
    Directory {
        root: PathBuf,
        open: HashMap<String, File>,
    },
    /// Standard input, a FIFO or a device: read once, front to back.
    Stream(Box<dyn Read>),
}

impl Source {
    fn read(&mut self, reader: &ArchiveReader, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        match self {
            Source::File(file) => {
                read_at(file, offset, len).map_err(|e| format!("reading at byte {offset}: {e}"))
            }
            Source::Stream(stream) => {
                let mut buf = vec![0u8; len.min(4 << 20) as usize];
                let n = loop {
                    match stream.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                }
                .map_err(|e| format!("reading the input: {e}"))?;
                buf.truncate(n);
                Ok(buf)
            }
            Source::Directory { root, open } => {
                let span = reader
                    .locate(offset)
                    .ok_or_else(|| format!("no file at virtual offset {offset}"))?;
                let (path, file_offset, len) =
                    (span.path.to_string(), span.offset, len.min(span.remaining));
                if !open.contains_key(&path) {
                    let file = File::open(root.join(&path))
                        .map_err(|e| format!("{}: {e}", root.join(&path).display()))?;
                    open.insert(path.clone(), file);
                }
                read_at(&open[&path], file_offset, len).map_err(|e| format!("{path}: {e}"))
            }
        }
    }
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Lists a layout directory's regular files, relative, `/`-separated, sorted.
fn directory_files(root: &Path) -> Result<Vec<DirectoryFile>, String> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                let relative = path.strip_prefix(root).expect("under root");
                let relative: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(DirectoryFile {
                    path: relative.join("/"),
                    size: meta.len(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn open_source(path: &Path, limits: Limits) -> Result<(ArchiveReader, Source), String> {
    let streaming = || ArchiveReader::new_streaming().with_limits(limits);
    if path == Path::new("-") {
        return Ok((streaming(), Source::Stream(Box::new(io::stdin()))));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let files = directory_files(path)?;
        let reader = ArchiveReader::new_directory_with_limits(files, limits)
            .map_err(|e| with_raise_advice(e.to_string(), &e))?;
        return Ok((
            reader,
            Source::Directory {
                root: path.to_path_buf(),
                open: HashMap::new(),
            },
        ));
    }
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        // A FIFO (`<(zcat image.tar.gz)`) or a device has no length to seek in.
        return Ok((streaming(), Source::Stream(Box::new(file))));
    }
    Ok((
        ArchiveReader::new(meta.len()).with_limits(limits),
        Source::File(file),
    ))
}

/// `Some` when `source` is no file (nor `-`) but parses as an image reference.
fn registry_reference(source: &Path) -> Result<Option<Reference>, String> {
    if source == Path::new("-") || std::fs::symlink_metadata(source).is_ok() {
        return Ok(None);
    }
    let text = source.to_string_lossy();
    match Reference::parse(&text) {
        Ok(reference) => Ok(Some(reference)),
        Err(error) => Err(format!(
            "{}: no such file or directory, and not an image reference either ({error})",
            source.display()
        )),
    }
}

fn pull_image(args: &InspectArgs, reference: &Reference) -> Result<ImageReport, String> {
    let platform = match &args.platform {
        Some(text) => Platform::parse(text).map_err(|e| e.to_string())?,
        None => pull::host_platform(),
    };
    let credentials = match &args.username {
        Some(user) => Some(Credentials::new(user.clone(), read_password()?)),
        None => pull::docker_login(reference.domain())?,
    };
    let options = pull::PullOptions {
        platform,
        credentials,
        insecure: args.insecure_registries.clone(),
        limits: args.limits.limits(),
    };
    let bar = progress_bar();
    let result = pull::pull(reference, options, &mut |message| bar.set_message(message));
    bar.finish_and_clear();
    result.map_err(|error| format!("{}: {error}", reference.familiar()))
}

/// The password for `--username`: `LAYERSCOPE_PASSWORD`, else standard input's first line.
fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("LAYERSCOPE_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(
            "--username needs a password: set LAYERSCOPE_PASSWORD or pipe it on standard input"
                .into(),
        );
    }
    Ok(password)
}

fn progress_bar() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// What `analyse` stopped with.
enum Analysis {
    Report(Box<ImageReport>),
    Listing(Listing),
}

/// The images of an archive and what listing them cost.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    images: Vec<ImageListing>,
    bytes_read: u64,
    total_bytes: Option<u64>,
}

fn print_listing(args: &InspectArgs, listing: &Listing) -> ExitCode {
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, listing)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        listing
            .images
            .iter()
            .try_for_each(|image| {
                let tags = if image.tags.is_empty() {
                    NONE.to_string()
                } else {
                    escape(&image.tags.join(", ")).into_owned()
                };
                let platform = image
                    .platform
                    .as_deref()
                    .map(|p| format!("  {}", escape(p)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:>3}  {tags}  {} layers, {}{platform}",
                    image.index,
                    image.layer_count,
                    humanize::size(image.stored_size)
                )
            })
            .and_then(|()| {
                let total = listing
                    .total_bytes
                    .map(|t| format!(" of {t}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "read {}{total} bytes of the archive to list its images",
                    listing.bytes_read
                )
            })
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => fail(&format!("writing the output: {error}")),
    }
}

/// Drives the archive reader to the end (or, with `--list`, to the image list); a source
/// that is no file but an image reference is pulled from its registry.
fn analyse(args: &InspectArgs) -> Result<Analysis, String> {
    if let Some(reference) = registry_reference(&args.source)? {
        if args.list || args.image.is_some() {
            return Err("--list and --image read archives; for a registry image, name the tag or digest, and --platform".into());
        }
        return pull_image(args, &reference).map(|report| Analysis::Report(Box::new(report)));
    }
    let (mut reader, mut source) = open_source(&args.source, args.limits.limits())?;
    let bar = progress_bar();
    let where_ = args.source.display();
    loop {
        match reader.next_step() {
            Step::Read { offset, len } => {
                let bytes = source.read(&reader, offset, len)?;
                reader
                    .supply(offset, &bytes)
                    .map_err(|e| with_raise_advice(format!("{where_}: {e}"), &e))?;
            }
            Step::Progress(progress) => {
                // One bar over the whole archive; the message names the phase and layer.
                bar.set_length(progress.total_bytes.unwrap_or(0));
                bar.set_position(progress.bytes_read);
                bar.set_message(progress.message);
            }
            Step::ImagesListed(images) => {
                if args.list {
                    bar.finish_and_clear();
                    let total_bytes = match &source {
                        Source::File(file) => file.metadata().ok().map(|m| m.len()),
                        _ => None,
                    };
                    return Ok(Analysis::Listing(Listing {
                        images,
                        bytes_read: reader.bytes_read(),
                        total_bytes,
                    }));
                }
                if let Some(image) = &args.image {
                    reader
                        .select_image(&selector(image))
                        .map_err(|e| format!("{where_}: {e}"))?;
                }
            }
            Step::Overview(_) | Step::LayerScanned(_) => {}
            Step::Done(report) => {
                bar.finish_and_clear();
                return Ok(Analysis::Report(report));
            }
            Step::Failed(error) => {
                bar.finish_and_clear();
                return Err(with_raise_advice(format!("{where_}: {error}"), &error));
            }
            // This reader scans its layers itself (no `with_external_scans`).
            Step::ScanLayers(_) | Step::AwaitingScans { .. } => {
                bar.finish_and_clear();
                return Err(format!(
                    "{where_}: the archive reader handed out layer scans it was not asked to"
                ));
            }
        }
    }
}

fn short(digest: Option<&Digest>) -> &str {
    digest.map_or("-", Digest::short)
}

/// `text` on one line of at most `width` characters, escaped for the terminal.
fn one_line(text: &str, width: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = escape(&text).into_owned();
    if text.chars().count() <= width {
        text
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn print_human(out: &mut impl Write, report: &ImageReport) -> io::Result<()> {
    if report.images.len() > 1 {
        writeln!(out, "IMAGES IN THE ARCHIVE")?;
        for image in &report.images {
            let marker = if image.index == report.selected {
                "*"
            } else {
                " "
            };
            let tags = if image.tags.is_empty() {
                NONE.to_string()
            } else {
                escape(&image.tags.join(", ")).into_owned()
            };
            writeln!(
                out,
                "{marker} {:>2}  {tags}  ({} layers)",
                image.index, image.layer_count
            )?;
        }
        writeln!(out)?;
    }
    let ls = &report.image_ls;
    writeln!(
        out,
        "{:<40} {:<16} {:<14} {:<16} SIZE",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
    )?;
    writeln!(
        out,
        "{:<40} {:<16} {:<14} {:<16} {}",
        escape(&ls.repository),
        escape(&ls.tag),
        ls.image_id,
        created_ago(ls.created.as_deref()),
        ls.size
    )?;
    writeln!(out)?;
    if !report.history.is_empty() {
        writeln!(out, "HISTORY")?;
        writeln!(
            out,
            "{:<14} {:<16} {:<50} {:>10}  COMMENT",
            "IMAGE", "CREATED", "CREATED BY", "SIZE"
        )?;
        for row in &report.history {
            writeln!(
                out,
                "{:<14} {:<16} {:<50} {:>10}  {}",
                row.image,
                created_ago(row.created.as_deref()),
                one_line(&row.created_by, 50),
                humanize::size(row.size),
                escape(&row.comment)
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "LAYERS")?;
    writeln!(
        out,
        "{:>3}  {:>10}  {:>10}  {:<12}  {:<12}  {:<6} {:>14}  COMMAND",
        "#", "STORED", "SIZE", "DIGEST", "DIFF ID", "COMPR", "+ ~ -"
    )?;
    for layer in &report.layers {
        writeln!(
            out,
            "{:>3}  {:>10}  {:>10}  {:<12}  {:<12}  {:<6} {:>14}  {}",
            layer.index,
            humanize::size(layer.stored_size),
            humanize::size(layer.size_bytes),
            short(layer.digest.as_ref()),
            short(layer.diff_id.as_ref()),
            layer.compression.map_or("-", Compression::name),
            format!("{} {} {}", layer.added, layer.modified, layer.removed),
            one_line(&layer.command, 60)
        )?;
    }
    writeln!(out)?;
    if let Some(e) = &report.efficiency {
        writeln!(out, "EFFICIENCY")?;
        writeln!(out, "  efficiency score:      {:.4} %", e.score * 100.0)?;
        writeln!(
            out,
            "  total image size:      {} ({} bytes)",
            humanize::size(e.size_bytes),
            e.size_bytes
        )?;
        writeln!(
            out,
            "  user size:             {} ({} bytes)",
            humanize::size(e.user_size_bytes),
            e.user_size_bytes
        )?;
        writeln!(
            out,
            "  wasted (dive):         {} ({} bytes)",
            humanize::size(e.wasted_bytes),
            e.wasted_bytes
        )?;
        writeln!(
            out,
            "  wasted / user bytes:   {:.4} %",
            e.wasted_user_percent * 100.0
        )?;
        writeln!(
            out,
            "  reclaimable:           {} ({} bytes)",
            humanize::size(e.reclaimable_bytes),
            e.reclaimable_bytes
        )?;
        writeln!(out)?;
    }
    writeln!(out, "TOP WASTED FILES")?;
    writeln!(out, "{:>5}  {:>12}  PATH", "COUNT", "WASTED")?;
    if report.inefficient_files.is_empty() {
        writeln!(out, "  none")?;
    }
    for file in report.inefficient_files.iter().take(TOP_WASTED) {
        writeln!(
            out,
            "{:>5}  {:>12}  {}",
            file.count,
            humanize::size(file.wasted_bytes),
            escape(&file.path)
        )?;
    }
    writeln!(out)?;
    // Size rows are made only where a size differs, so the tally counts digests.
    let digests = report
        .verification
        .iter()
        .filter(|v| v.digest_role().is_some());
    let checked = digests.clone().count();
    let ok = digests.filter(|v| v.ok).count();
    writeln!(out, "VERIFIED: {ok} of {checked} digests match")?;
    for check in report.verification.iter().filter(|v| !v.ok) {
        writeln!(
            out,
            "MISMATCH: {} of {}: expected {}, actual {}",
            check.what(),
            escape(&check.subject),
            check.expected_text(),
            check.actual_text()
        )?;
    }
    for warning in &report.warnings {
        writeln!(out, "warning: {}", escape(warning))?;
    }
    Ok(())
}

fn print_ci(out: &mut impl Write, report: &ImageReport, outcome: &CiOutcome) -> io::Result<()> {
    if report.efficiency.is_none() {
        writeln!(
            out,
            "warning: no efficiency figures; rules evaluated against zeros"
        )?;
    }
    writeln!(out, "CI RESULTS")?;
    let mut tally = [0usize; 4];
    for result in &outcome.results {
        tally[result.status as usize] += 1;
        if result.message.is_empty() || result.status == RuleStatus::Pass {
            writeln!(out, "  {}: {}", result.status.label(), result.kind.key())?;
        } else {
            writeln!(
                out,
                "  {}: {}: {}",
                result.status.label(),
                result.kind.key(),
                escape(&result.message)
            )?;
        }
    }
    writeln!(
        out,
        "Result:{} [Total:{}] [Passed:{}] [Failed:{}] [Skipped:{}]",
        if outcome.passed { "PASS" } else { "FAIL" },
        outcome.results.len(),
        tally[RuleStatus::Pass as usize],
        tally[RuleStatus::Fail as usize] + tally[RuleStatus::Misconfigured as usize],
        tally[RuleStatus::Skip as usize]
    )
}

/// The CREATED column as docker prints it ("5 years ago").
fn created_ago(created: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    created.map_or_else(|| "-".to_string(), |c| humanize::ago_rfc3339(c, now))
}
