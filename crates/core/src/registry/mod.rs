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
//!             catalog; registry error bodies, Docker Hub rate limits, Link pagination
//!  session    Session (endpoint, credentials, tokens) and Exchange, the state machine
//!             a caller drives for one Operation
//!  error      RegistryError and the parsers' errors
//! ```
//!
//! Bounds: every body the session reads has a limit (`session::Exchange::body_limit`, next): manifests
//! [`crate::model::manifest::MAX_MANIFEST_BYTES`], configs
//! [`crate::model::config::MAX_CONFIG_BYTES`], token responses
//! [`auth::MAX_TOKEN_RESPONSE_BYTES`], tag and catalog pages [`api::MAX_LIST_BYTES`], the
//! rest [`api::MAX_SMALL_BODY_BYTES`]. URLs from headers are followed only when they are
//! the token realm of a Bearer challenge or a `Link` on the registry's own origin.

pub mod api;
pub mod auth;
pub mod error;
pub mod http;

pub use api::{
    CatalogPage, ErrorCode, ErrorEntry, FetchedManifest, ManifestRef, NextPage, RateLimit,
    Repository, ResolvedTag, TagPage, VerifiedBlob,
};
pub use auth::{Challenge, Credentials, Scope, Token, TokenCache};
pub use error::{ChallengeError, DigestClaim, EndpointError, RegistryError, TokenError};
pub use http::{Endpoint, InsecureRegistries, Method, Request, Response, Scheme, Url};
