//! `layerscope inspect REF`: an image analysed straight from its registry.
//!
//! The core decides everything ([`ImagePull`] which operations, [`Session`] which requests
//! and tokens); this module only performs the HTTP with ureq and streams each layer's body
//! into the core's scanner, a chunk at a time.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use layerscope_core::engine::scan::{LayerError, LayerSummary, Scanner};
use layerscope_core::limits::Limits;
use layerscope_core::model::platform::Platform;
use layerscope_core::model::reference::Reference;
use layerscope_core::present::report::ImageReport;
use layerscope_core::registry::docker_config::stored_credentials;
use layerscope_core::registry::{
    Action, Credentials, Endpoint, ImagePull, InsecureRegistries, Method, Operation, Outcome,
    PullStep, RegistryError, Request, Response, Session,
};

/// Bytes read from a layer body per push into the scanner.
const CHUNK: usize = 1 << 20;

/// Who the CLI says it is to registries.
const USER_AGENT: &str = concat!("layerscope/", env!("CARGO_PKG_VERSION"));

/// What `inspect REF` needs besides the reference.
pub struct PullOptions {
    /// The platform to pick from an index.
    pub platform: Platform,
    /// `--username`, with the password already read.
    pub credentials: Option<Credentials>,
    /// `--insecure-registry` entries.
    pub insecure: Vec<String>,
    /// The `--max-*` bounds, the same as for archives.
    pub limits: Limits,
}

/// The platform this binary runs on, as docker names it (the default `--platform`).
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    Platform::new("linux", arch, (arch == "arm64").then_some("v8"))
}

/// The credentials `docker login` stored for `registry`, if any (`$DOCKER_CONFIG` or
/// `~/.docker/config.json`).
pub fn docker_login(registry: &str) -> Result<Option<Credentials>, String> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::PathBuf::from(home).join(".docker"),
            None => return Ok(None),
        },
    };
    let path = dir.join("config.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    stored_credentials(&bytes, registry).map_err(|e| format!("{}: {e}", path.display()))
}

/// Pulls and analyses `reference`; `progress` hears a line per step.
pub fn pull(
    reference: &Reference,
    options: PullOptions,
    progress: &mut dyn FnMut(String),
) -> Result<ImageReport, String> {
    let insecure = InsecureRegistries::parse(&options.insecure).map_err(|e| e.to_string())?;
    let endpoint = Endpoint::for_reference(reference, &insecure).map_err(|e| e.to_string())?;
    let mut session = Session::new(endpoint).with_limits(options.limits);
    if let Some(credentials) = options.credentials {
        session = session.with_credentials(credentials);
    }
    let http = Http::new();
    let mut pull = ImagePull::new(reference.clone(), options.platform).with_limits(options.limits);
    loop {
        let Some(step) = pull.next_step() else {
            return Err("the image pull stalled (no step and no result)".into());
        };
        match step {
            PullStep::Run(operation) => {
                let outcome = http.run(&mut session, operation);
                pull.receive(outcome);
            }
            PullStep::ImagesListed { images, selected } => {
                if images.len() > 1 {
                    let platform = images[selected].platform.clone().unwrap_or_default();
                    progress(format!("{} platforms; reading {platform}", images.len()));
                }
            }
            PullStep::Overview(report) => progress(format!(
                "read the config; {} layers to scan",
                report.layers.len()
            )),
            PullStep::ScanLayers(jobs) => {
                let count = jobs.len();
                for job in jobs {
                    progress(format!(
                        "scanning layer {} of {count} ({} bytes)",
                        job.index + 1,
                        job.size
                    ));
                    let scanned = http.scan_layer(
                        &mut session,
                        job.operation.clone(),
                        Scanner::new(job.options.clone()),
                        job.max_body_bytes(),
                    );
                    let scanned = match scanned {
                        Err(ScanStop::Oversized) => {
                            let path = format!(
                                "blobs/{}/{}",
                                job.digest.algorithm().name(),
                                job.digest.hex()
                            );
                            return Err(job.oversized(&path));
                        }
                        Err(ScanStop::Failed(message)) => Err(message),
                        Ok(result) => Ok(result),
                    };
                    match scanned {
                        Ok(result) => pull.layer_scanned(job.index, result),
                        Err(error) => return Err(with_rate_limit(error, &session)),
                    }
                }
            }
            PullStep::LayerScanned(_) => {}
            PullStep::Done(report) => return Ok(*report),
            PullStep::Failed(error) => {
                let message = crate::inspect::with_raise_advice(error.to_string(), &error);
                return Err(with_rate_limit(message, &session));
            }
        }
    }
}

/// Docker Hub's pull allowance, when it said, goes with any failure: it is often the cause.
fn with_rate_limit(message: String, session: &Session) -> String {
    match session.rate_limit() {
        Some(limit) => format!("{message} ({limit})"),
        None => message,
    }
}

struct Http {
    agent: ureq::Agent,
}

impl Http {
    fn new() -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            // Registries redirect blobs to storage hosts; the token must not follow.
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build();
        Http {
            agent: agent.into(),
        }
    }

    /// Runs one operation with the session, performing each request it asks for.
    fn run(&self, session: &mut Session, operation: Operation) -> Result<Outcome, RegistryError> {
        let mut exchange = session.start(operation, now());
        loop {
            match exchange.next_action() {
                Action::Send(request) => {
                    let limit = exchange.body_limit();
                    let response = self
                        .send(&request, limit)
                        .map_err(|detail| transport(&request, detail))?;
                    exchange.receive(response, now())?;
                }
                Action::Done(outcome) => return outcome,
            }
        }
    }

    /// Streams one layer blob into `scanner`. The outer error is the registry's or the
    /// transport's; the inner result is the scan's.
    /// `max_bytes` bounds the body: past it, reading stops ([`ScanStop::Oversized`]).
    fn scan_layer(
        &self,
        session: &mut Session,
        operation: Operation,
        mut scanner: Scanner,
        max_bytes: u64,
    ) -> Result<Result<LayerSummary, LayerError>, ScanStop> {
        let request = match self.run(session, operation) {
            Ok(Outcome::LayerBlob(blob)) => blob.request,
            Ok(_) => {
                return Err(
                    "the registry session answered a layer request with something else".into(),
                )
            }
            Err(error) => return Err(error.to_string().into()),
        };
        let mut response = self
            .call(&request)
            .map_err(|detail| transport(&request, detail).to_string())?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!(
                "{} answered {status} for {}",
                host_of(&request.url),
                request.url
            )
            .into());
        }
        let mut body = response.body_mut().as_reader().take(max_bytes);
        let mut buffer = vec![0u8; CHUNK];
        let mut read = 0u64;
        loop {
            let n = body
                .read(&mut buffer)
                .map_err(|e| format!("reading {}: {e}", request.url))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if read >= max_bytes {
                return Err(ScanStop::Oversized);
            }
            if let Err(error) = scanner.push(&buffer[..n]) {
                return Ok(Err(error));
            }
        }
        Ok(scanner.finish())
    }

    fn call(&self, request: &Request) -> Result<ureq::http::Response<ureq::Body>, String> {
        let method = match request.method {
            Method::Get => ureq::http::Method::GET,
            Method::Head => ureq::http::Method::HEAD,
        };
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let http_request = builder.body(()).map_err(|e| e.to_string())?;
        self.agent.run(http_request).map_err(|e| e.to_string())
    }

    /// Performs `request`, reading at most `limit` + 1 body bytes (the session refuses a
    /// body over its limit, so one byte more is enough to tell).
    fn send(&self, request: &Request, limit: usize) -> Result<Response, String> {
        let mut response = self.call(request)?;
        let mut answer = Response::new(response.status().as_u16());
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                answer
                    .headers
                    .push((name.as_str().to_string(), value.to_string()));
            }
        }
        if request.method == Method::Get {
            let mut body = Vec::new();
            response
                .body_mut()
                .as_reader()
                .take(limit as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|e| format!("reading the body: {e}"))?;
            answer.body = body;
        }
        Ok(answer)
    }
}

/// Why a layer's stream stopped before its scan could finish.
enum ScanStop {
    /// The registry or the transport failed; the message says how.
    Failed(String),
    /// The body went past the declared size (reading stopped there).
    Oversized,
}

impl From<String> for ScanStop {
    fn from(message: String) -> ScanStop {
        ScanStop::Failed(message)
    }
}

impl From<&str> for ScanStop {
    fn from(message: &str) -> ScanStop {
        ScanStop::Failed(message.to_string())
    }
}

fn transport(request: &Request, detail: String) -> RegistryError {
    RegistryError::Transport {
        registry: host_of(&request.url),
        detail,
    }
}

fn host_of(url: &str) -> String {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url)
        .to_string()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
