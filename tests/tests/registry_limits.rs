//! `layerscope inspect REF` within the same `--max-*` limits as an archive, against the real
//! docker-registry: a config of 100 MiB (and a manifest over a lowered limit) is refused
//! having read no more than the limit, a manifest of 10,000 layers is refused naming the limit and its option, and a layer's path
//! bounds are the ones given on the command line.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use layerscope_e2e::http::loopback_agent;
use layerscope_e2e::{
    layerscope_binary, push_archive, repo_root, Registry, RegistryConfig, TempDir,
};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;

const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.manifest.v1+json";

/// One finished `layerscope inspect`: how it ended, its stderr, its time and peak memory.
struct Run {
    status: ExitStatus,
    stderr: String,
    seconds: f64,
    peak_mib: u64,
}

/// Runs `layerscope inspect ARGS`, killed past `max_seconds` (the test then fails); its
/// own peak RSS comes from `wait4`.
fn inspect(args: &[&str], max_seconds: u64) -> Run {
    let scratch = TempDir::new("limits-run");
    let err_path = scratch.path().join("err");
    let started = Instant::now();
    let child = Command::new(layerscope_binary())
        .arg("inspect")
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent-docker-config")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("run layerscope");
    let pid = child.id() as libc::pid_t;
    let deadline = started + Duration::from_secs(max_seconds);
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills; the pid is our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        if Instant::now() > deadline {
            // SAFETY: signalling our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!("layerscope inspect {args:?} still ran after {max_seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    Run {
        status: ExitStatus::from_raw(status),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        seconds: started.elapsed().as_secs_f64(),
        // Linux reports ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as u64 / 1024,
    }
}

/// The refusal is exactly `message`, one line after the command's name, and names the
/// registry `host` once (the reference names it; the core's message does not again).
fn refused_with(run: &Run, message: &str, host: &str) {
    assert_eq!(run.status.code(), Some(2), "a refusal: {}", run.stderr);
    assert_eq!(run.stderr, format!("layerscope inspect: {message}\n"));
    assert_eq!(run.stderr.matches(host).count(), 1, "{}", run.stderr);
}

fn demo_archive() -> String {
    let path = repo_root().join("static/demo/layerscope-demo.tar");
    format!("docker-archive:{}", path.display())
}

/// The manifest `repository:tag` as the registry stores it: its digest and its JSON.
fn manifest_of(registry: &Registry, repository: &str, tag: &str) -> (String, Value) {
    let reply = registry.get_with_headers(
        &format!("/v2/{repository}/manifests/{tag}"),
        false,
        &[("Accept", MANIFEST_TYPES)],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let digest = reply
        .header("docker-content-digest")
        .expect("the manifest's digest")
        .to_string();
    (
        digest,
        serde_json::from_str(&reply.body).expect("manifest JSON"),
    )
}

/// PUTs `manifest` as `repository:tag`.
fn put_manifest(registry: &Registry, repository: &str, tag: &str, manifest: &Value) {
    let media_type = manifest["mediaType"]
        .as_str()
        .expect("mediaType")
        .to_string();
    let url = format!("{}/v2/{repository}/manifests/{tag}", registry.url());
    let response = loopback_agent(Duration::from_secs(120))
        .put(&url)
        .header("Content-Type", &media_type)
        .send(serde_json::to_vec(manifest).unwrap())
        .expect("PUT the manifest");
    assert_eq!(response.status().as_u16(), 201, "PUT {url}");
}

/// Rewrites blob `digest` in the registry's storage as its JSON with blanks after the first
/// `{` up to `size` bytes: still the same JSON, now `size` long; the registry serves it so.
fn pad_stored_blob(registry: &Registry, digest: &str, size: usize) -> String {
    let stored = registry.blob_data_path(digest);
    let original = std::fs::read(&stored).unwrap();
    assert_eq!(original[0], b'{');
    // Written a piece at a time: a child's peak RSS starts at this process's peak.
    let mut out = std::io::BufWriter::new(File::create(&stored).unwrap());
    out.write_all(b"{").unwrap();
    let blanks = vec![b' '; MIB as usize];
    let mut left = size - original.len();
    while left > 0 {
        let n = left.min(blanks.len());
        out.write_all(&blanks[..n]).unwrap();
        left -= n;
    }
    out.write_all(&original[1..]).unwrap();
    out.flush().unwrap();
    size.to_string()
}

#[test]
fn a_config_of_100_mib_is_refused_having_read_no_more_than_the_limit() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "limits/big:1");
    let (_, manifest) = manifest_of(&registry, "limits/big", "1");
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let size = pad_stored_blob(&registry, &config, 100 * MIB as usize);

    let reference = format!("{}/limits/big:1", registry.host());
    let run = inspect(&["--json", &reference], 60);
    eprintln!(
        "{:.1} s, peak {} MiB: {}",
        run.seconds, run.peak_mib, run.stderr
    );
    refused_with(
        &run,
        &format!(
            "{reference}: the image config {config} has {size} document bytes, over the limit \
             of 4194304; raise it with --max-document-size {size}"
        ),
        &registry.host(),
    );
    // Holding the body would take 100 MiB; the limit is 4 MiB.
    assert!(run.peak_mib < 48, "peak {} MiB", run.peak_mib);

    // Raised, but below its size: still refused, at the limit given.
    let run = inspect(&["--max-document-size", "8M", &reference], 60);
    refused_with(
        &run,
        &format!(
            "{reference}: the image config {config} has {size} document bytes, over the limit \
             of 8388608; raise it with --max-document-size {size}"
        ),
        &registry.host(),
    );
    assert!(run.peak_mib < 48, "peak {} MiB", run.peak_mib);
}

#[test]
fn a_manifest_over_the_document_limit_is_refused_naming_it() {
    // docker-registry itself serves no manifest over 4 MiB: 3 MiB against a 1 MiB limit.
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "limits/wide:1");
    let (digest, _) = manifest_of(&registry, "limits/wide", "1");
    let size = pad_stored_blob(&registry, &digest, 3 * MIB as usize);

    let reference = format!("{}/limits/wide:1", registry.host());
    let run = inspect(&["--max-document-size", "1M", &reference], 60);
    refused_with(
        &run,
        &format!(
            "{reference}: the manifest limits/wide@{digest} has {size} document bytes, over the limit \
             of 1048576; raise it with --max-document-size {size}"
        ),
        &registry.host(),
    );
    // Within 4 MiB the size passes (the blanks then make it another digest than the
    // registry names, which is refused for what it is).
    let run = inspect(&["--max-document-size", "4M", &reference], 60);
    assert!(!run.stderr.contains("document bytes"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Docker-Content-Digest"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_manifest_of_10000_layers_is_refused_naming_the_limit_and_its_option() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "limits/many:1");
    let (_, mut manifest) = manifest_of(&registry, "limits/many", "1");
    let layer = manifest["layers"][0].clone();
    manifest["layers"] = Value::Array(vec![layer; 10_000]);
    put_manifest(&registry, "limits/many", "10k", &manifest);

    let reference = format!("{}/limits/many:10k", registry.host());
    let run = inspect(&["--json", &reference], 60);
    eprintln!(
        "{:.1} s, peak {} MiB: {}",
        run.seconds, run.peak_mib, run.stderr
    );
    refused_with(
        &run,
        &format!(
            "{reference}: the manifest limits/many:10k has 10000 layers, over the limit of 1024; \
             raise it with --max-layers 10000"
        ),
        &registry.host(),
    );
    assert!(run.seconds < 30.0, "{:.1} s", run.seconds);

    // With the limit raised the manifest passes; the config then disagrees with it.
    let run = inspect(&["--max-layers", "10000", &reference], 60);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(!run.stderr.contains("--max-layers"), "{}", run.stderr);
}

/// The corpus's 20,000-component path, generated on first use.
fn deep_path_archive() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus");
        let status = Command::new("python3")
            .arg(repo_root().join("tests/corpus/make-corpus.py"))
            .arg(&dir)
            .arg("path_20k")
            .status()
            .expect("run make-corpus.py");
        assert!(status.success(), "make-corpus.py: {status}");
        dir.join("path_20k.tar")
    })
}

#[test]
fn a_registry_layers_path_bounds_are_the_command_lines() {
    let registry = Registry::start(RegistryConfig::plain());
    let archive = format!("docker-archive:{}", deep_path_archive().display());
    push_archive(&archive, &registry, "limits/deep:1");
    let reference = format!("{}/limits/deep:1", registry.host());
    let (_, manifest) = manifest_of(&registry, "limits/deep", "1");
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();

    let run = inspect(&[&reference], 60);
    // The name is quoted cut short; the corpus's one entry before it puts it at 40960.
    refused_with(
        &run,
        &format!(
            "{reference}: layer 0 (blobs/sha256/{}): layer tar: the name \"{}\"... of the entry \
             at byte offset 40960 has 20001 path components, over the limit of 4096; raise it \
             with --max-path-depth 20001",
            &layer[7..],
            "d/".repeat(30)
        ),
        &registry.host(),
    );
    let run = inspect(&["--max-path-depth", "20001", &reference], 60);
    assert!(run.status.success(), "shown when raised: {}", run.stderr);
    assert!(run.seconds < 30.0, "{:.1} s", run.seconds);
}

#[test]
fn a_layer_longer_than_its_descriptor_says_is_read_no_further_than_its_size() {
    let registry = Registry::start(RegistryConfig::plain());
    push_archive(&demo_archive(), &registry, "limits/long:1");
    let (_, manifest) = manifest_of(&registry, "limits/long", "1");
    let layer = &manifest["layers"][0];
    let digest = layer["digest"].as_str().unwrap().to_string();
    let declared = layer["size"].as_u64().unwrap();
    // The registry now serves the layer with 256 MiB more after it.
    let stored = registry.blob_data_path(&digest);
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(&stored)
        .unwrap();
    let junk = vec![0x5au8; MIB as usize];
    for _ in 0..256 {
        out.write_all(&junk).unwrap();
    }
    drop(out);

    let reference = format!("{}/limits/long:1", registry.host());
    let run = inspect(&["--json", &reference], 60);
    eprintln!(
        "{:.1} s, peak {} MiB: {}",
        run.seconds, run.peak_mib, run.stderr
    );
    refused_with(
        &run,
        &format!(
            "{reference}: layer 0 (blobs/sha256/{}): the registry sent more than the {declared} \
             bytes its manifest declares; reading stopped at {} bytes",
            &digest[7..],
            declared + 1
        ),
        &registry.host(),
    );
    assert!(run.seconds < 20.0, "{:.1} s", run.seconds);
}
