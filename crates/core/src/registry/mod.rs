//! Where bytes come from, registries: the OCI Distribution API as a sans-IO client.
//!
//! Requests are values ([`Request`]: method, URL, headers) and answers are parsed from
//! values ([`Response`]: status, headers, body); the caller performs the HTTP, the page with
//! `fetch`, the CLI with ureq. The core never opens a connection, reads a clock or follows
//! a redirect.
//!
//! ```text
//!  http       Request, Response, Endpoint (host + scheme as docker picks it), Url
//!  auth       WWW-Authenticate challenges, token requests and responses, TokenCache,
//!             Credentials
//!  api        the operations' requests and readers: /v2/, manifests, blobs, tags,
//!             catalog; registry error bodies, Link pagination
//!  rate_limit Docker Hub's pull allowance, when a 429 resets, both in words
//!  session    Session (endpoint, credentials, tokens) and Exchange, the state machine
//!             a caller drives for one Operation
//!  error      RegistryError and the parsers' errors
//!  proxy      the URL scheme of layerscope serve's same-origin proxy
//!  pull       ImagePull, one image from reference to report, on top of a session
//! ```
//!
//! Driving one operation:
//!
//! ```
//! use layerscope_core::model::reference::Reference;
//! use layerscope_core::registry::{
//!     Action, Endpoint, InsecureRegistries, ManifestRef, Operation, Repository, Response,
//!     Session,
//! };
//!
//! let reference = Reference::parse("nginx:1.25").unwrap();
//! let endpoint = Endpoint::for_reference(&reference, &InsecureRegistries::none()).unwrap();
//! let mut session = Session::new(endpoint);
//! let operation = Operation::Manifest {
//!     repository: Repository::of(&reference),
//!     reference: ManifestRef::of(&reference),
//! };
//! let now = 1_800_000_000; // the caller's clock, Unix seconds
//! let mut exchange = session.start(operation, now);
//! let outcome = loop {
//!     match exchange.next_action() {
//!         Action::Send(request) => {
//!             // The caller performs `request` here; this example pretends the registry
//!             // answered 404.
//!             assert_eq!(request.url, "https://registry-1.docker.io/v2/library/nginx/manifests/1.25");
//!             let response = Response::new(404);
//!             if let Err(error) = exchange.receive(response, now) {
//!                 break Err(error);
//!             }
//!         }
//!         Action::Done(outcome) => break outcome,
//!     }
//! };
//! assert!(outcome.unwrap_err().is_not_found());
//! ```
//!
//! Bounds: every body the session reads has a limit ([`Exchange::body_limit`]): manifests
//! and configs the session's [`crate::limits::Limits::max_document_bytes`]
//! ([`Session::with_limits`]), token responses
//! [`auth::MAX_TOKEN_RESPONSE_BYTES`], tag and catalog pages [`api::MAX_LIST_BYTES`], the
//! rest [`api::MAX_SMALL_BODY_BYTES`]. URLs from headers are followed only when they are
//! the token realm of a Bearer challenge or a `Link` on the registry's own origin.

pub mod api;
pub mod auth;
pub mod base64;
pub mod docker_config;
pub mod error;
pub mod http;
pub mod proxy;
pub mod pull;
pub mod rate_limit;
pub mod session;

pub use api::{
    CatalogPage, ErrorCode, ErrorEntry, FetchedBlob, FetchedManifest, ManifestRef, NextPage,
    Repository, ResolvedTag, TagPage,
};
pub use auth::{Challenge, Credentials, Scope, Token, TokenCache};
pub use error::{ChallengeError, DigestClaim, EndpointError, RegistryError, TokenError};
pub use http::{Endpoint, InsecureRegistries, Method, Request, Response, Scheme, Url};
pub use pull::{ImagePull, LayerJob, PullError, PullStep};
pub use rate_limit::{LimitReset, RateLimit};
pub use session::{Action, BlobRequest, Cursor, Exchange, Operation, Outcome, Pinged, Session};
