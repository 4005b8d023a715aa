//! Child processes that die with their owner, scratch directories, free ports.

use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How much of a process's stderr a panic message quotes.
const STDERR_TAIL_BYTES: u64 = 4000;

/// A loopback TCP port that was free a moment ago.
///
/// The port is released before returning, so another process could grab it in between;
/// on a test machine that race is rare enough, and the callers report bind failures clearly.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener.local_addr().expect("local address").port()
}

/// A fresh directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/layerscope-test-<pid>-<label>-<n>`, empty.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "layerscope-test-{}-{label}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A child process in its own process group, killed with all its descendants on drop.
///
/// Its stderr goes to a file so that failures can quote it.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    stderr_path: PathBuf,
    _scratch: TempDir,
}

impl ChildGuard {
    /// Spawns `command` (stdin null, stderr captured; stdout as the caller configured it).
    /// `name` names the process in panic messages.
    pub fn spawn(name: &str, mut command: Command) -> ChildGuard {
        let scratch = TempDir::new(&format!("{}-stderr", sanitize(name)));
        let stderr_path = scratch.path().join("stderr.log");
        let stderr_file = File::create(&stderr_path).expect("create stderr log");
        command
            .stdin(Stdio::null())
            .stderr(stderr_file)
            // Its own group, so that drop also ends what it started (chromedriver -> chromium).
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} ({command:?}): {error}"));
        ChildGuard {
            name: name.to_string(),
            child,
            stderr_path,
            _scratch: scratch,
        }
    }

    /// The process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child, for taking piped stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The last few KB of what the process wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let Ok(mut file) = File::open(&self.stderr_path) else {
            return String::new();
        };
        let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        let skip = length.saturating_sub(STDERR_TAIL_BYTES);
        let mut text = String::new();
        let _ = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(skip));
        let _ = file.read_to_string(&mut text);
        text
    }

    /// Panics with `what`, the exit status if the process has ended, and its stderr.
    pub fn fail(&mut self, what: &str) -> ! {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            Ok(None) => "still running".to_string(),
            Err(error) => format!("status unknown: {error}"),
        };
        panic!(
            "{}: {what} ({status}); its stderr:\n{}",
            self.name,
            self.stderr_tail()
        );
    }

    /// Waits until something accepts connections on `127.0.0.1:port`, or panics with the
    /// process's stderr if it exits or `timeout` passes first.
    pub fn wait_for_port(&mut self, port: u16, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                self.fail(&format!("exited before listening on port {port}"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("did not listen on port {port} within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // The negative pid addresses the whole group this child leads.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn run_checked(what: &str, command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    if !output.status.success() {
        panic!(
            "{what}: {command:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}
