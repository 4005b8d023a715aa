//! [`Session`] and [`Exchange`]: the state machine a caller drives for one registry
//! operation, in the manner of rustls and quinn-proto. The exchange says what to send, the
//! caller sends it and hands back the answer, until the exchange is done.
//!
//! ```text
//!  start ──> Api(request) ──2xx──────────────────────────────> Finished(Ok(outcome))
//!               │  └──401 Bearer──> Token(token request) ──200──> Api(retry with token)
//!               │  └──401 Basic (credentials)──────────────────> Api(retry with Basic)
//!               └──401 again / 403 / 4xx / 5xx ────────────────> Finished(Err(..))
//! ```
//!
//! The session outlives its exchanges: it holds the registry endpoint, the optional
//! credentials, the token cache and whether the registry takes Basic credentials, so a page
//! or CLI that opens several manifests and blobs of one repository asks for a token once.
//!
//! Where credentials go. Basic credentials are put only in requests to the registry's own
//! origin ([`Endpoint`]) and only after that registry asked for them; in a token request they
//! go to the realm a Bearer challenge names, and only over HTTPS (or plain HTTP when the
//! registry itself is plain HTTP). Every API request of an exchange is built from the
//! endpoint or from a `Link` checked to be on its origin ([`NextPage`]), so a token or
//! password never reaches another host through a URL the registry supplied.
//! go-containerregistry goes further and refuses realms outside the registry's two-label
//! domain; that would break registries whose token service lives on another domain, so it
//! is not done here. A realm that is not `http`/`https`, carries a user name, or downgrades
//! an HTTPS registry to plain HTTP is refused, except a plain-HTTP realm on loopback
//! (`localhost`, `127.0.0.0/8`, `::1`): that traffic never leaves the machine, and it is
//! where `layerscope serve` answers when it stands in for a token service.

use super::api::{
    self, CatalogPage, FetchedBlob, FetchedManifest, ManifestRef, NextPage, Repository,
    ResolvedTag, TagPage, MAX_LIST_BYTES, MAX_SMALL_BODY_BYTES,
};
use super::auth::{
    parse_token_response, response_challenges, token_request, Challenge, Credentials, Scope, Token,
    TokenCache, MAX_TOKEN_RESPONSE_BYTES,
};
use super::error::{sanitize, RegistryError};
use super::http::{Endpoint, Method, Request, Response, Scheme, Url};
use super::rate_limit::RateLimit;
use crate::limits::Limits;
use crate::model::digest::Digest;
use crate::model::reference::{Reference, ReferenceError};

/// The most scopes one token request asks for: the operation's own and those the
/// challenge named.
const MAX_TOKEN_SCOPES: usize = 4;

/// Where a tag or catalog listing continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// After this name (`?last=...`, with the operation's page size).
    Last(String),
    /// The registry's `Link: <...>; rel="next"`, followed as sent (page size included).
    Link(NextPage),
}

/// One thing to do at a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `GET /v2/`: does the registry speak the API, and how does it authenticate? A `401`
    /// is an answer here, not an error; no token is fetched.
    Ping,
    /// `HEAD` on a tag's manifest: its digest, without spending a Docker Hub pull. When the
    /// registry sends no `Docker-Content-Digest`, the manifest is fetched with `GET` and
    /// hashed.
    ResolveTag {
        /// The repository.
        repository: Repository,
        /// The tag.
        tag: String,
    },
    /// `GET` a manifest or index, verified against the digest asked for and
    /// `Docker-Content-Digest`, parsed.
    Manifest {
        /// The repository.
        repository: Repository,
        /// Tag or digest.
        reference: ManifestRef,
    },
    /// `GET` an image config blob, at most the session's
    /// [`Limits::max_document_bytes`], verified.
    ConfigBlob {
        /// The repository.
        repository: Repository,
        /// The config's digest (from the manifest).
        digest: Digest,
    },
    /// The authorized `GET` of a layer blob, for the caller to stream into
    /// [`crate::engine::scan::Scanner`]. With a cached token (or Basic credentials the
    /// registry takes) it is ready at once; otherwise a `HEAD` of the blob (which Docker Hub
    /// does not count as a pull) collects the challenge and the token first.
    LayerBlob {
        /// The repository.
        repository: Repository,
        /// The layer's digest.
        digest: Digest,
    },
    /// One page of `GET /v2/NAME/tags/list`.
    Tags {
        /// The repository.
        repository: Repository,
        /// `n`: names per page; the registry's default when `None`.
        page_size: Option<u32>,
        /// Where to continue; the first page when `None`.
        after: Option<Cursor>,
    },
    /// One page of `GET /v2/_catalog`. Registries that do not offer it answer with
    /// [`RegistryError::CatalogRefused`].
    Catalog {
        /// `n`: names per page.
        page_size: Option<u32>,
        /// Where to continue.
        after: Option<Cursor>,
    },
}

impl Operation {
    /// The access scope the operation needs: pull on its repository, the catalog scope for
    /// the catalog, none for a ping.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Operation::Ping => None,
            Operation::Catalog { .. } => Some(Scope::catalog()),
            Operation::ResolveTag { repository, .. }
            | Operation::Manifest { repository, .. }
            | Operation::ConfigBlob { repository, .. }
            | Operation::LayerBlob { repository, .. }
            | Operation::Tags { repository, .. } => Some(Scope::pull(repository.as_str())),
        }
    }

    fn subject(&self) -> String {
        match self {
            Operation::Ping => "the API version check (/v2/)".to_string(),
            Operation::ResolveTag { repository, tag } => format!("manifest {repository}:{tag}"),
            Operation::Manifest {
                repository,
                reference: ManifestRef::Tag(t),
            } => format!("manifest {repository}:{t}"),
            Operation::Manifest {
                repository,
                reference: ManifestRef::Digest(d),
            } => format!("manifest {repository}@{d}"),
            Operation::ConfigBlob { repository, digest } => {
                format!("config blob {repository}@{digest}")
            }
            Operation::LayerBlob { repository, digest } => {
                format!("layer blob {repository}@{digest}")
            }
            Operation::Tags { repository, .. } => format!("the tag list of {repository}"),
            Operation::Catalog { .. } => "the catalog".to_string(),
        }
    }
}

/// What `GET /v2/` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinged {
    /// `Docker-Distribution-API-Version` (`registry/2.0`), sanitized, when sent.
    pub api_version: Option<String>,
    /// The challenges of a `401`, empty when the registry answered `200`.
    pub challenges: Vec<Challenge>,
}

/// The authorized request for a layer blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRequest {
    /// `GET /v2/NAME/blobs/DIGEST`, with `Authorization` when the registry needs it. Follow
    /// redirects, without `Authorization` to other hosts.
    pub request: Request,
    /// The blob's size, when the `HEAD` probe said (`Content-Length`).
    pub size: Option<u64>,
}

/// What an operation produced.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// [`Operation::Ping`].
    Pinged(Pinged),
    /// [`Operation::ResolveTag`].
    Resolved(ResolvedTag),
    /// [`Operation::Manifest`] (boxed: a parsed document is large beside the others).
    Manifest(Box<FetchedManifest>),
    /// [`Operation::ConfigBlob`].
    ConfigBlob(FetchedBlob),
    /// [`Operation::LayerBlob`].
    LayerBlob(BlobRequest),
    /// [`Operation::Tags`].
    Tags(TagPage),
    /// [`Operation::Catalog`].
    Catalog(CatalogPage),
}

/// What the caller does next.
#[derive(Clone, Debug)]
pub enum Action {
    /// Perform this request and pass the answer to [`Exchange::receive`].
    Send(Request),
    /// The operation is over. Later calls give `Done(Err(NotWaiting))`.
    Done(Result<Outcome, RegistryError>),
}

/// One registry, its credentials and its tokens, across operations.
#[derive(Debug)]
pub struct Session {
    endpoint: Endpoint,
    credentials: Option<Credentials>,
    tokens: TokenCache,
    /// The registry answered with a Basic challenge: send the credentials up front.
    takes_basic: bool,
    rate_limit: Option<RateLimit>,
    /// Bounds on the documents read (manifests, configs).
    limits: Limits,
}

impl Session {
    /// An anonymous session with the registry at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Session {
        Session {
            endpoint,
            credentials: None,
            tokens: TokenCache::new(),
            takes_basic: false,
            rate_limit: None,
            limits: Limits::DEFAULT,
        }
    }

    /// The same session reading manifests and configs within `limits` instead of
    /// [`Limits::DEFAULT`] ([`Exchange::body_limit`] follows them).
    pub fn with_limits(mut self, limits: Limits) -> Session {
        self.limits = limits;
        self
    }

    /// The same session with credentials, sent only as described in the module docs.
    pub fn with_credentials(mut self, credentials: Credentials) -> Session {
        self.credentials = Some(credentials);
        self
    }

    /// The registry endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The token cache (for a caller that wants to know what is held).
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// The last rate-limit headers the registry sent, e.g. "76 of 100 pulls left in this
    /// 6-hour window".
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }

    /// Starts `operation` at `now` (Unix seconds; the core has no clock).
    pub fn start(&mut self, operation: Operation, now: i64) -> Exchange<'_> {
        let scope = operation.scope();
        let mut exchange = Exchange {
            session: self,
            operation,
            scope,
            stage: Stage::Delivered,
        };
        exchange.stage = match exchange.first_stage(now) {
            Ok(stage) => stage,
            Err(e) => Stage::Finished(Err(e)),
        };
        exchange
    }

    /// The authorization to put on an API request at `now`: a cached token for `scope`, or
    /// Basic credentials once the registry asked for them.
    fn authorization(&self, scope: Option<&Scope>, now: i64) -> (Option<String>, Sent) {
        if let Some(token) = scope.and_then(|s| self.tokens.get(&self.endpoint.host(), s, now)) {
            return (Some(token.authorization()), Sent::CachedToken);
        }
        match (&self.credentials, self.takes_basic) {
            (Some(c), true) => (Some(c.basic_authorization()), Sent::Basic),
            _ => (None, Sent::Nothing),
        }
    }
}

/// Which API request of the operation is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// The operation's request.
    Main,
    /// `GET` of the manifest, after a `HEAD` without `Docker-Content-Digest`.
    ResolveByGet,
}

/// What authorization an API request carried, which decides whether a `401` may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// None: a `401` is the challenge to answer.
    Nothing,
    /// A cached token: it may have been revoked, so one fresh token is worth trying.
    CachedToken,
    /// Basic credentials sent up front: a `401` means they are wrong.
    Basic,
    /// The one retry, with a fresh token or with Basic credentials.
    Retry,
}

enum Stage {
    /// An API request is out.
    Api {
        request: Request,
        call: Call,
        sent: Sent,
    },
    /// A token request is out; then `call` is repeated with the token.
    Token {
        request: Request,
        call: Call,
        realm_host: String,
    },
    /// The outcome, not yet handed out.
    Finished(Result<Outcome, RegistryError>),
    /// The outcome was handed out by [`Exchange::next_action`].
    Delivered,
}

/// One operation in progress; see the module docs.
pub struct Exchange<'s> {
    session: &'s mut Session,
    operation: Operation,
    scope: Option<Scope>,
    stage: Stage,
}

impl Exchange<'_> {
    /// What to do next. While a request is out, this returns it again.
    pub fn next_action(&mut self) -> Action {
        match &self.stage {
            Stage::Api { request, .. } | Stage::Token { request, .. } => {
                Action::Send(request.clone())
            }
            Stage::Finished(_) | Stage::Delivered => {
                match std::mem::replace(&mut self.stage, Stage::Delivered) {
                    Stage::Finished(result) => Action::Done(result),
                    _ => Action::Done(Err(RegistryError::NotWaiting {
                        registry: self.session.endpoint.host(),
                    })),
                }
            }
        }
    }

    /// The most body bytes to read for the request that is out: the caller reads at most
    /// this many plus one (so that an oversized body is recognized and refused), and need
    /// read no body at all for `HEAD`.
    pub fn body_limit(&self) -> usize {
        let document =
            usize::try_from(self.session.limits.max_document_bytes).unwrap_or(usize::MAX - 1);
        match &self.stage {
            Stage::Token { .. } => MAX_TOKEN_RESPONSE_BYTES,
            Stage::Api {
                call: Call::ResolveByGet,
                ..
            } => document,
            Stage::Api { .. } => match self.operation {
                Operation::Manifest { .. } | Operation::ConfigBlob { .. } => document,
                Operation::Tags { .. } | Operation::Catalog { .. } => MAX_LIST_BYTES,
                Operation::Ping | Operation::ResolveTag { .. } | Operation::LayerBlob { .. } => {
                    MAX_SMALL_BODY_BYTES
                }
            },
            Stage::Finished(_) | Stage::Delivered => 0,
        }
    }

    /// The answer to the request [`Exchange::next_action`] gave, received at `now`. An
    /// error here also finishes the exchange; `next_action` then repeats it.
    pub fn receive(&mut self, response: Response, now: i64) -> Result<(), RegistryError> {
        let stage = std::mem::replace(&mut self.stage, Stage::Delivered);
        let next = match stage {
            Stage::Api {
                request,
                call,
                sent,
            } => self.on_api(request, call, sent, response, now),
            Stage::Token {
                request,
                call,
                realm_host,
            } => self.on_token(&request, call, realm_host, response, now),
            finished @ (Stage::Finished(_) | Stage::Delivered) => {
                self.stage = finished;
                return Err(RegistryError::NotWaiting {
                    registry: self.session.endpoint.host(),
                });
            }
        };
        match next {
            Ok(stage) => {
                self.stage = stage;
                Ok(())
            }
            Err(e) => {
                self.stage = Stage::Finished(Err(e.clone()));
                Err(e)
            }
        }
    }

    fn registry(&self) -> String {
        self.session.endpoint.host()
    }

    fn first_stage(&mut self, now: i64) -> Result<Stage, RegistryError> {
        self.check_operation()?;
        let (authorization, sent) = self.session.authorization(self.scope.as_ref(), now);
        if let Operation::LayerBlob { repository, digest } = &self.operation {
            if authorization.is_some() {
                let mut request =
                    api::blob(&self.session.endpoint, repository, digest, Method::Get);
                if let Some(a) = authorization {
                    request.set_header("Authorization", a);
                }
                return Ok(Stage::Finished(Ok(Outcome::LayerBlob(BlobRequest {
                    request,
                    size: None,
                }))));
            }
        }
        let mut request = self.api_request(Call::Main);
        if let Some(a) = authorization {
            request.set_header("Authorization", a);
        }
        Ok(Stage::Api {
            request,
            call: Call::Main,
            sent,
        })
    }

    /// Refuses operations whose parts cannot go in a URL: invalid tags, and pages of
    /// another registry.
    fn check_operation(&self) -> Result<(), RegistryError> {
        let tag = match &self.operation {
            Operation::ResolveTag { tag, .. }
            | Operation::Manifest {
                reference: ManifestRef::Tag(tag),
                ..
            } => Some(tag),
            _ => None,
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|source| RegistryError::BadTag {
                registry: self.registry(),
                tag: sanitize(tag),
                source,
            })?;
        }
        if let Operation::Tags {
            after: Some(Cursor::Link(next)),
            ..
        }
        | Operation::Catalog {
            after: Some(Cursor::Link(next)),
            ..
        } = &self.operation
        {
            if !self.session.endpoint.same_origin(next.url()) {
                return Err(RegistryError::BadLink {
                    registry: self.registry(),
                    link: next.url().to_string(),
                    reason: "it is a page of another registry",
                });
            }
        }
        Ok(())
    }

    /// The unauthorized request for `call`.
    fn api_request(&self, call: Call) -> Request {
        let e = &self.session.endpoint;
        fn page(after: &Option<Cursor>) -> (Option<&str>, Option<String>) {
            match after {
                None => (None, None),
                Some(Cursor::Last(last)) => (Some(last.as_str()), None),
                Some(Cursor::Link(next)) => (None, Some(next.url().to_string())),
            }
        }
        match (&self.operation, call) {
            (Operation::Ping, _) => api::ping(e),
            (Operation::ResolveTag { repository, tag }, Call::Main) => {
                api::manifest(e, repository, &ManifestRef::Tag(tag.clone()), Method::Head)
            }
            (Operation::ResolveTag { repository, tag }, Call::ResolveByGet) => {
                api::manifest(e, repository, &ManifestRef::Tag(tag.clone()), Method::Get)
            }
            (
                Operation::Manifest {
                    repository,
                    reference,
                },
                _,
            ) => api::manifest(e, repository, reference, Method::Get),
            (Operation::ConfigBlob { repository, digest }, _) => {
                api::blob(e, repository, digest, Method::Get)
            }
            (Operation::LayerBlob { repository, digest }, _) => {
                api::blob(e, repository, digest, Method::Head)
            }
            (
                Operation::Tags {
                    repository,
                    page_size,
                    after,
                },
                _,
            ) => match page(after) {
                (_, Some(url)) => Request::new(Method::Get, url),
                (last, None) => api::tags(e, repository, *page_size, last),
            },
            (Operation::Catalog { page_size, after }, _) => match page(after) {
                (_, Some(url)) => Request::new(Method::Get, url),
                (last, None) => api::catalog(e, *page_size, last),
            },
        }
    }

    fn on_api(
        &mut self,
        request: Request,
        call: Call,
        sent: Sent,
        response: Response,
        now: i64,
    ) -> Result<Stage, RegistryError> {
        if let Some(limit) = RateLimit::from_response(&response) {
            self.session.rate_limit = Some(limit);
        }
        let is_catalog = matches!(self.operation, Operation::Catalog { .. });
        match response.status {
            401 if matches!(self.operation, Operation::Ping) => {
                let challenges = self.challenges(&response)?;
                return Ok(Stage::Finished(Ok(Outcome::Pinged(Pinged {
                    api_version: api_version(&response),
                    challenges,
                }))));
            }
            401 if matches!(sent, Sent::Nothing | Sent::CachedToken) => {
                if sent == Sent::CachedToken {
                    if let Some(scope) = &self.scope {
                        self.session.tokens.remove(&self.registry(), scope);
                    }
                }
                return self.answer_challenge(call, &response);
            }
            401 => {
                if let Some(scope) = &self.scope {
                    self.session.tokens.remove(&self.registry(), scope);
                }
                if is_catalog {
                    return Err(self.catalog_refused(401));
                }
                // A challenge that does not parse still leaves a 401 to report.
                let challenges = response_challenges(&response).unwrap_or_default();
                return Err(RegistryError::Unauthorized {
                    registry: self.registry(),
                    scope: self.scope.as_ref().map(|s| s.to_string()),
                    anonymous: self.session.credentials.is_none(),
                    insufficient_scope: challenges.iter().any(Challenge::is_insufficient_scope),
                    errors: api::parse_errors(&response.body),
                });
            }
            // A probe answered with a redirect to storage is authorized; the caller
            // follows the redirect when it streams the GET.
            300..=399 if matches!(self.operation, Operation::LayerBlob { .. }) => {}
            403 if is_catalog => return Err(self.catalog_refused(403)),
            404 if is_catalog => return Err(self.catalog_refused(404)),
            403 => {
                return Err(RegistryError::Denied {
                    registry: self.registry(),
                    scope: self.scope.as_ref().map(|s| s.to_string()),
                    errors: api::parse_errors(&response.body),
                })
            }
            status if !(200..300).contains(&status) => {
                return Err(api::status_error(
                    &self.session.endpoint,
                    &response,
                    &self.operation.subject(),
                    now,
                ))
            }
            _ => {}
        }
        self.on_success(request, call, response)
    }

    fn on_success(
        &mut self,
        request: Request,
        call: Call,
        response: Response,
    ) -> Result<Stage, RegistryError> {
        let e = &self.session.endpoint;
        let outcome = match (&self.operation, call) {
            (Operation::Ping, _) => Outcome::Pinged(Pinged {
                api_version: api_version(&response),
                challenges: Vec::new(),
            }),
            (Operation::ResolveTag { .. }, Call::Main) => match api::read_resolved(e, &response)? {
                Some(resolved) => Outcome::Resolved(resolved),
                None => {
                    // No Docker-Content-Digest: fetch the manifest and hash it, with the
                    // authorization that just worked.
                    let mut get = self.api_request(Call::ResolveByGet);
                    if let Some(a) = request.header("authorization") {
                        get.set_header("Authorization", a);
                    }
                    return Ok(Stage::Api {
                        request: get,
                        call: Call::ResolveByGet,
                        sent: Sent::Retry,
                    });
                }
            },
            (Operation::ResolveTag { repository, tag }, Call::ResolveByGet) => {
                let m = api::read_manifest(
                    e,
                    repository,
                    &ManifestRef::Tag(tag.clone()),
                    response,
                    &self.session.limits,
                )?;
                Outcome::Resolved(ResolvedTag {
                    digest: m.digest,
                    content_type: m.content_type,
                    size: Some(m.bytes.len() as u64),
                })
            }
            (
                Operation::Manifest {
                    repository,
                    reference,
                },
                _,
            ) => Outcome::Manifest(Box::new(api::read_manifest(
                e,
                repository,
                reference,
                response,
                &self.session.limits,
            )?)),
            (Operation::ConfigBlob { digest, .. }, _) => Outcome::ConfigBlob(
                api::read_config_blob(e, digest, response, &self.session.limits)?,
            ),
            (Operation::LayerBlob { repository, digest }, _) => {
                let mut get = api::blob(e, repository, digest, Method::Get);
                if let Some(a) = request.header("authorization") {
                    get.set_header("Authorization", a);
                }
                Outcome::LayerBlob(BlobRequest {
                    request: get,
                    size: response
                        .header("content-length")
                        .and_then(|v| v.parse().ok()),
                })
            }
            (Operation::Tags { .. }, _) => {
                Outcome::Tags(api::read_tags(e, &response, &self.request_url(&request)?)?)
            }
            (Operation::Catalog { .. }, _) => Outcome::Catalog(api::read_catalog(
                e,
                &response,
                &self.request_url(&request)?,
            )?),
        };
        Ok(Stage::Finished(Ok(outcome)))
    }

    fn request_url(&self, request: &Request) -> Result<Url, RegistryError> {
        Url::parse(&request.url).map_err(|reason| RegistryError::BadLink {
            registry: self.registry(),
            link: sanitize(&request.url),
            reason,
        })
    }

    fn challenges(&self, response: &Response) -> Result<Vec<Challenge>, RegistryError> {
        response_challenges(response).map_err(|source| RegistryError::BadChallenge {
            registry: self.registry(),
            source,
        })
    }

    /// A first `401`: ask for a token (Bearer) or retry with credentials (Basic).
    fn answer_challenge(
        &mut self,
        call: Call,
        response: &Response,
    ) -> Result<Stage, RegistryError> {
        let challenges = self.challenges(response)?;
        if let Some(bearer) = challenges.iter().find(|c| c.is_bearer()) {
            let realm = self.check_realm(bearer)?;
            let mut scopes: Vec<Scope> = bearer
                .scopes()
                .into_iter()
                .filter(|s| Some(s) != self.scope.as_ref())
                .take(MAX_TOKEN_SCOPES - 1)
                .collect();
            scopes.extend(self.scope.clone());
            let request = token_request(
                &realm,
                bearer.service(),
                &scopes,
                self.session.credentials.as_ref(),
            );
            return Ok(Stage::Token {
                request,
                call,
                realm_host: realm.host(),
            });
        }
        if challenges.iter().any(Challenge::is_basic) {
            let Some(credentials) = &self.session.credentials else {
                return Err(RegistryError::Unauthorized {
                    registry: self.registry(),
                    scope: self.scope.as_ref().map(|s| s.to_string()),
                    anonymous: true,
                    insufficient_scope: false,
                    errors: api::parse_errors(&response.body),
                });
            };
            let authorization = credentials.basic_authorization();
            self.session.takes_basic = true;
            let mut request = self.api_request(call);
            request.set_header("Authorization", authorization);
            return Ok(Stage::Api {
                request,
                call,
                sent: Sent::Retry,
            });
        }
        let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(RegistryError::NoUsableChallenge {
            registry: self.registry(),
            offered: if offered.is_empty() {
                "nothing".to_string()
            } else {
                sanitize(&offered.join(", "))
            },
        })
    }

    fn check_realm(&self, bearer: &Challenge) -> Result<Url, RegistryError> {
        let bad = |realm: &str, reason| RegistryError::BadRealm {
            registry: self.registry(),
            realm: sanitize(realm),
            reason,
        };
        let realm = bearer
            .realm()
            .ok_or_else(|| bad("", "the Bearer challenge names no realm"))?;
        let url = Url::parse(realm).map_err(|reason| bad(realm, reason))?;
        if url.scheme() == Scheme::Http
            && self.session.endpoint.scheme() == Scheme::Https
            && !url.is_loopback()
        {
            return Err(bad(
                realm,
                "a token service over plain HTTP for an HTTPS registry would expose the token",
            ));
        }
        Ok(url)
    }

    fn on_token(
        &mut self,
        request: &Request,
        call: Call,
        realm_host: String,
        response: Response,
        now: i64,
    ) -> Result<Stage, RegistryError> {
        if response.status == 429 {
            return Err(api::status_error(
                &self.session.endpoint,
                &response,
                "a token",
                now,
            ));
        }
        if response.status != 200 {
            return Err(RegistryError::TokenRefused {
                registry: self.registry(),
                realm_host,
                scope: self.scope.as_ref().map(|s| s.to_string()),
                status: response.status,
                with_credentials: request.is_authorized(),
                errors: api::parse_errors(&response.body),
            });
        }
        let token: Token = parse_token_response(&response.body, now).map_err(|source| {
            RegistryError::BadToken {
                registry: self.registry(),
                realm_host: realm_host.clone(),
                source,
            }
        })?;
        let authorization = token.authorization();
        if let Some(scope) = &self.scope {
            let registry = self.registry();
            self.session
                .tokens
                .insert(&registry, scope.clone(), token, now);
        }
        let mut retry = self.api_request(call);
        retry.set_header("Authorization", authorization);
        Ok(Stage::Api {
            request: retry,
            call,
            sent: Sent::Retry,
        })
    }

    fn catalog_refused(&self, status: u16) -> RegistryError {
        RegistryError::CatalogRefused {
            registry: self.registry(),
            status,
        }
    }
}

fn api_version(response: &Response) -> Option<String> {
    response
        .header("docker-distribution-api-version")
        .map(sanitize)
}

/// Checks a tag with the reference grammar, so it can go in a URL path.
fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let probe = Reference::parse("registry.invalid/probe")?;
    probe.with_tag(tag).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::media::OCI_MANIFEST;
    use crate::registry::http::InsecureRegistries;
    use crate::registry::rate_limit::LimitReset;

    const NOW: i64 = 1_800_000_000;
    const HUB_CHALLENGE: &str = "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull\"";
    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":32}]}"#;

    fn endpoint(host: &str) -> Endpoint {
        Endpoint::new(host, &InsecureRegistries::none()).unwrap()
    }

    fn hub() -> Session {
        Session::new(endpoint("registry-1.docker.io"))
    }

    fn nginx() -> Repository {
        Repository::parse("library/nginx").unwrap()
    }

    fn manifest_op(tag: &str) -> Operation {
        Operation::Manifest {
            repository: nginx(),
            reference: ManifestRef::Tag(tag.into()),
        }
    }

    fn manifest_ok() -> Response {
        Response::new(200)
            .with_header("Content-Type", OCI_MANIFEST)
            .with_header(
                "Docker-Content-Digest",
                &Digest::sha256_of(MANIFEST.as_bytes()).to_string(),
            )
            .with_body(MANIFEST)
    }

    fn token(value: &str, expires_in: i64) -> Response {
        Response::new(200).with_body(format!(
            r#"{{"token":"{value}","access_token":"{value}","expires_in":{expires_in}}}"#
        ))
    }

    /// Drives an exchange against `registry`, returning the outcome and every request sent.
    fn run(
        session: &mut Session,
        operation: Operation,
        now: i64,
        mut registry: impl FnMut(&Request) -> Response,
    ) -> (Result<Outcome, RegistryError>, Vec<Request>) {
        let mut sent = Vec::new();
        let mut exchange = session.start(operation, now);
        let outcome = loop {
            match exchange.next_action() {
                Action::Send(request) => {
                    assert!(sent.len() < 10, "runaway exchange: {sent:?}");
                    let response = registry(&request);
                    assert!(response.body.len() <= exchange.body_limit() + 1);
                    sent.push(request);
                    if let Err(e) = exchange.receive(response, now) {
                        // The exchange repeats the error.
                        match exchange.next_action() {
                            Action::Done(Err(again)) => {
                                assert_eq!(again.to_string(), e.to_string())
                            }
                            other => panic!("{other:?}"),
                        }
                        break Err(e);
                    }
                }
                Action::Done(outcome) => break outcome,
            }
        };
        (outcome, sent)
    }

    /// Docker Hub as it answers an anonymous client: a Bearer challenge, then tokens from
    /// auth.docker.io, then content for requests that carry the token.
    fn docker_hub(request: &Request) -> Response {
        if request.url.starts_with("https://auth.docker.io/token?") {
            return token("hubtoken", 300);
        }
        assert!(
            request.url.starts_with("https://registry-1.docker.io/v2/"),
            "{}",
            request.url
        );
        match request.header("authorization") {
            Some("Bearer hubtoken") => manifest_ok(),
            _ => Response::new(401)
                .with_header("www-authenticate", HUB_CHALLENGE)
                .with_body(
                    &br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        [..],
                ),
        }
    }

    #[test]
    fn docker_hub_anonymous_manifest_flow() {
        let mut s = hub();
        let (outcome, sent) = run(&mut s, manifest_op("1.25"), NOW, docker_hub);
        let Ok(Outcome::Manifest(m)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(m.digest, Digest::sha256_of(MANIFEST.as_bytes()));
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[0].url,
            "https://registry-1.docker.io/v2/library/nginx/manifests/1.25"
        );
        assert_eq!(
            sent[0].header("accept"),
            Some(crate::model::media::MANIFEST_ACCEPT)
        );
        assert!(!sent[0].is_authorized());
        assert_eq!(
            sent[1].url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
        assert!(!sent[1].is_authorized(), "anonymous token request");
        assert_eq!(sent[2].header("authorization"), Some("Bearer hubtoken"));
        assert_eq!(sent[2].url, sent[0].url);
        assert_eq!(s.tokens().len(), 1);
    }

    #[test]
    fn one_token_per_repository_until_it_expires() {
        let mut s = hub();
        run(&mut s, manifest_op("1.25"), NOW, docker_hub).0.unwrap();
        // Same repository: the cached token goes with the first request.
        let (outcome, sent) = run(&mut s, manifest_op("1.26"), NOW + 100, docker_hub);
        outcome.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].header("authorization"), Some("Bearer hubtoken"));
        // After 300 s the token is stale and a new one is fetched.
        let (_, sent) = run(&mut s, manifest_op("1.27"), NOW + 300, docker_hub);
        assert_eq!(sent.len(), 3);
        // Another repository needs its own token.
        let other = Operation::Manifest {
            repository: Repository::parse("library/redis").unwrap(),
            reference: ManifestRef::Tag("7".into()),
        };
        let (_, sent) = run(&mut s, other, NOW + 310, |r| {
            if r.url.contains("auth.docker.io") {
                assert!(
                    r.url.contains("repository%3Alibrary%2Fredis%3Apull"),
                    "{}",
                    r.url
                );
            }
            docker_hub(r)
        });
        assert!(!sent[0].is_authorized());
        assert_eq!(s.tokens().len(), 2);
    }

    #[test]
    fn manifest_config_and_layers_of_one_repository_cost_one_token() {
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let config_digest = Digest::sha256_of(config);
        let mut tokens_issued = 0;
        let mut s = hub();
        let mut registry = |r: &Request| {
            if r.url.contains("auth.docker.io") {
                tokens_issued += 1;
                return token("hubtoken", 300);
            }
            if r.header("authorization") != Some("Bearer hubtoken") {
                return Response::new(401).with_header("www-authenticate", HUB_CHALLENGE);
            }
            if r.url.contains("/blobs/") && r.method == Method::Get {
                Response::new(200).with_body(&config[..])
            } else if r.url.contains("/blobs/") {
                Response::new(200)
            } else {
                manifest_ok()
            }
        };
        let ops = [
            manifest_op("1.25"),
            Operation::ConfigBlob {
                repository: nginx(),
                digest: config_digest.clone(),
            },
            Operation::LayerBlob {
                repository: nginx(),
                digest: Digest::sha256_of(b"layer 1"),
            },
            Operation::LayerBlob {
                repository: nginx(),
                digest: Digest::sha256_of(b"layer 2"),
            },
        ];
        let mut requests = 0;
        for (i, op) in ops.into_iter().enumerate() {
            let (outcome, sent) = run(&mut s, op, NOW + i as i64, &mut registry);
            outcome.unwrap();
            requests += sent.len();
        }
        assert_eq!(tokens_issued, 1);
        // 3 for the manifest (401, token, retry), 1 for the config, 0 for each layer.
        assert_eq!(requests, 4);
    }

    #[test]
    fn bearer_is_preferred_when_a_header_offers_basic_too() {
        let mut s = Session::new(endpoint("registry.example.com"))
            .with_credentials(Credentials::new("ana", "s3cret"));
        let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, |r| {
            if r.url.starts_with("https://auth.example.com/") {
                return token("t", 300);
            }
            match r.header("authorization") {
                Some("Bearer t") => manifest_ok(),
                _ => Response::new(401).with_header(
                    "WWW-Authenticate",
                    "Basic realm=\"Registry\", Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\"",
                ),
            }
        });
        outcome.unwrap();
        assert_eq!(sent.len(), 3);
        assert!(sent[1]
            .url
            .starts_with("https://auth.example.com/token?service=registry.example.com&scope="));
    }

    #[test]
    fn a_revoked_cached_token_is_replaced_once() {
        let mut s = hub();
        run(&mut s, manifest_op("1"), NOW, docker_hub).0.unwrap();
        let mut issued = 0;
        let (outcome, sent) = run(&mut s, manifest_op("2"), NOW + 10, |r| {
            if r.url.contains("auth.docker.io") {
                issued += 1;
                return token("second", 300);
            }
            match r.header("authorization") {
                Some("Bearer second") => manifest_ok(),
                _ => Response::new(401).with_header("WWW-Authenticate", HUB_CHALLENGE),
            }
        });
        outcome.unwrap();
        assert_eq!(issued, 1);
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].header("authorization"), Some("Bearer hubtoken"));
        assert_eq!(sent[2].header("authorization"), Some("Bearer second"));
    }

    #[test]
    fn second_401_is_unauthorized_with_registry_scope_and_insufficient_scope() {
        let mut s = hub();
        let private = Operation::Manifest {
            repository: Repository::parse("someone/private").unwrap(),
            reference: ManifestRef::Tag("latest".into()),
        };
        let (outcome, sent) = run(&mut s, private, NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return token("noaccess", 300);
            }
            let mut challenge = "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:someone/private:pull\"".to_string();
            if r.is_authorized() {
                challenge.push_str(",error=\"insufficient_scope\"");
            }
            Response::new(401)
                .with_header("www-authenticate", &challenge)
                .with_body(&br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"someone/private","Action":"pull"}]}]}"#[..])
        });
        assert_eq!(sent.len(), 3, "exactly one retry");
        let err = outcome.unwrap_err();
        let RegistryError::Unauthorized {
            registry,
            scope,
            anonymous,
            insufficient_scope,
            errors,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(registry, "registry-1.docker.io");
        assert_eq!(scope.as_deref(), Some("repository:someone/private:pull"));
        assert!(*anonymous && *insufficient_scope);
        assert_eq!(errors[0].code, api::ErrorCode::Unauthorized);
        let m = err.to_string();
        assert!(
            m.contains("insufficient_scope") && m.contains("someone/private"),
            "{m}"
        );
        // The useless token is not kept.
        assert!(s.tokens().is_empty());
    }

    #[test]
    fn forbidden_is_denied() {
        let mut s = Session::new(endpoint("ghcr.io"));
        let op = Operation::Manifest {
            repository: Repository::parse("owner/secret").unwrap(),
            reference: ManifestRef::Tag("v1".into()),
        };
        let (outcome, _) = run(&mut s, op, NOW, |_| {
            Response::new(403).with_body(&br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#[..])
        });
        let err = outcome.unwrap_err();
        assert!(matches!(err, RegistryError::Denied { .. }));
        let m = err.to_string();
        assert!(
            m.contains("ghcr.io")
                && m.contains("repository:owner/secret:pull")
                && m.contains("DENIED"),
            "{m}"
        );
    }

    fn htpasswd_registry(request: &Request) -> Response {
        assert!(
            request.url.starts_with("https://registry.example.com/v2/"),
            "{}",
            request.url
        );
        let good = Credentials::new("ana", "s3cret").basic_authorization();
        match request.header("authorization") {
            Some(a) if a == good => manifest_ok(),
            _ => {
                Response::new(401).with_header("WWW-Authenticate", "Basic realm=\"Registry Realm\"")
            }
        }
    }

    #[test]
    fn basic_challenge_answered_with_credentials_then_sent_up_front() {
        let mut s = Session::new(endpoint("registry.example.com"))
            .with_credentials(Credentials::new("ana", "s3cret"));
        let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, htpasswd_registry);
        outcome.unwrap();
        assert_eq!(sent.len(), 2);
        assert!(!sent[0].is_authorized());
        assert!(sent[1]
            .header("authorization")
            .unwrap()
            .starts_with("Basic "));
        let (outcome, sent) = run(&mut s, manifest_op("2"), NOW, htpasswd_registry);
        outcome.unwrap();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].is_authorized());
    }

    #[test]
    fn basic_challenge_without_or_with_wrong_credentials() {
        let mut s = Session::new(endpoint("registry.example.com"));
        let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, htpasswd_registry);
        assert_eq!(sent.len(), 1);
        let err = outcome.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Unauthorized {
                    anonymous: true,
                    ..
                }
            ),
            "{err}"
        );
        let mut s = Session::new(endpoint("registry.example.com"))
            .with_credentials(Credentials::new("ana", "wrong"));
        let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, htpasswd_registry);
        assert_eq!(sent.len(), 2);
        let err = outcome.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Unauthorized {
                    anonymous: false,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("credentials may be wrong"));
        // Once known wrong, the next operation sends them up front and fails without a retry.
        let (_, sent) = run(&mut s, manifest_op("2"), NOW, htpasswd_registry);
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn credentials_go_only_to_the_registry_or_its_realm() {
        let creds = Credentials::new("ana", "s3cret");
        let basic = creds.basic_authorization();
        // Bearer flow with credentials: Basic only in the token request, to the realm host.
        let mut s = hub().with_credentials(creds.clone());
        let mut all = Vec::new();
        for op in [
            manifest_op("1"),
            Operation::LayerBlob {
                repository: nginx(),
                digest: Digest::sha256_of(b"layer"),
            },
            Operation::Tags {
                repository: nginx(),
                page_size: Some(2),
                after: None,
            },
        ] {
            let (_, sent) = run(&mut s, op, NOW, |r| {
                if r.url.contains("auth.docker.io") {
                    return token("t", 300);
                }
                match r.header("authorization") {
                    Some("Bearer t") => {
                        manifest_ok().with_header("link", "<https://evil.example/v2/x>; rel=next")
                    }
                    _ => Response::new(401).with_header("www-authenticate", HUB_CHALLENGE),
                }
            });
            all.extend(sent);
        }
        for r in &all {
            let host = Url::parse(&r.url).unwrap().host();
            match r.header("authorization") {
                Some(a) if a == basic => assert_eq!(host, "auth.docker.io", "{r:?}"),
                Some(_) | None => assert!(
                    host == "registry-1.docker.io" || host == "auth.docker.io",
                    "{r:?}"
                ),
            }
        }
        assert!(all
            .iter()
            .any(|r| r.header("authorization") == Some(basic.as_str())));
        // The token request says who is asking.
        assert!(all.iter().any(|r| r.url.contains("account=ana")));
    }

    #[test]
    fn unsafe_realms_are_refused_before_credentials_leave() {
        for (realm, needle) in [
            ("http://auth.example.com/token", "plain HTTP"),
            ("https://user@auth.example.com/token", "user name"),
            ("file:///etc/passwd", "http and https"),
            ("/token", "absolute"),
        ] {
            let mut s = Session::new(endpoint("registry.example.com"))
                .with_credentials(Credentials::new("ana", "s3cret"));
            let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, |_| {
                Response::new(401).with_header(
                    "www-authenticate",
                    &format!("Bearer realm=\"{realm}\",service=\"x\""),
                )
            });
            assert_eq!(sent.len(), 1, "{realm}");
            let err = outcome.unwrap_err();
            assert!(
                matches!(err, RegistryError::BadRealm { .. }),
                "{realm}: {err}"
            );
            assert!(err.to_string().contains(needle), "{err}");
        }
        // A plain-HTTP registry may use a plain-HTTP realm.
        let mut s = Session::new(endpoint("localhost:5000"));
        let (outcome, sent) = run(&mut s, manifest_op("1"), NOW, |r| {
            if r.url.starts_with("http://localhost:5001/auth") {
                return token("local", 300);
            }
            match r.header("authorization") {
                Some("Bearer local") => manifest_ok(),
                _ => Response::new(401).with_header(
                    "www-authenticate",
                    "Bearer realm=\"http://localhost:5001/auth\",service=\"local\"",
                ),
            }
        });
        outcome.unwrap();
        assert_eq!(sent.len(), 3);
        assert!(sent[0].url.starts_with("http://localhost:5000/v2/"));
    }

    #[test]
    fn token_service_refusal_and_bad_tokens() {
        let mut s = hub().with_credentials(Credentials::new("ana", "wrong"));
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return Response::new(401)
                    .with_body(&br#"{"details":"incorrect username or password"}"#[..]);
            }
            Response::new(401).with_header("www-authenticate", HUB_CHALLENGE)
        });
        let err = outcome.unwrap_err();
        let m = err.to_string();
        assert!(matches!(
            err,
            RegistryError::TokenRefused {
                status: 401,
                with_credentials: true,
                ..
            }
        ));
        assert!(
            m.contains("auth.docker.io") && m.contains("incorrect username or password"),
            "{m}"
        );
        let mut s = hub();
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return Response::new(200).with_body(&b"{}"[..]);
            }
            Response::new(401).with_header("www-authenticate", HUB_CHALLENGE)
        });
        let err = outcome.unwrap_err();
        assert!(matches!(err, RegistryError::BadToken { .. }), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn unusable_or_malformed_challenges() {
        let mut s = hub();
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| {
            Response::new(401).with_header("www-authenticate", "Negotiate abc==")
        });
        let err = outcome.unwrap_err();
        assert!(err.to_string().contains("negotiate"), "{err}");
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| Response::new(401));
        assert!(outcome.unwrap_err().to_string().contains("nothing"));
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| {
            Response::new(401).with_header("www-authenticate", "Bearer realm=\"https://a")
        });
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::BadChallenge { .. }
        ));
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| {
            Response::new(401).with_header("www-authenticate", "Bearer service=\"x\"")
        });
        assert!(outcome.unwrap_err().to_string().contains("names no realm"));
    }

    #[test]
    fn challenge_scope_goes_first_in_the_token_request() {
        let mut s = hub();
        let (_, sent) = run(&mut s, manifest_op("1"), NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return token("t", 300);
            }
            match r.header("authorization") {
                Some(_) => manifest_ok(),
                None => Response::new(401).with_header(
                    "www-authenticate",
                    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/nginx:pull,push repository:library/nginx:pull\"",
                ),
            }
        });
        assert_eq!(
            sent[1].url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull%2Cpush&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
    }

    #[test]
    fn resolve_tag_uses_head_and_falls_back_to_get() {
        let d = Digest::sha256_of(MANIFEST.as_bytes());
        let mut s = Session::new(endpoint("localhost:5000"));
        let op = || Operation::ResolveTag {
            repository: Repository::parse("a/b").unwrap(),
            tag: "v1".into(),
        };
        let (outcome, sent) = run(&mut s, op(), NOW, |r| {
            assert_eq!(r.method, Method::Head);
            Response::new(200)
                .with_header("Docker-Content-Digest", &d.to_string())
                .with_header("Content-Length", "400")
                .with_header("ratelimit-limit", "100;w=21600")
                .with_header("ratelimit-remaining", "76;w=21600")
        });
        let Ok(Outcome::Resolved(r)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!((r.digest.clone(), r.size), (d.clone(), Some(400)));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].url, "http://localhost:5000/v2/a/b/manifests/v1");
        assert_eq!(
            s.rate_limit().unwrap().to_string(),
            "76 of 100 pulls left in this 6-hour window"
        );
        // No digest header: GET and hash.
        let (outcome, sent) = run(&mut s, op(), NOW, |r| match r.method {
            Method::Head => Response::new(200),
            Method::Get => Response::new(200).with_body(MANIFEST),
        });
        let Ok(Outcome::Resolved(r)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(r.digest, d);
        assert_eq!(
            sent.iter().map(|r| r.method).collect::<Vec<_>>(),
            [Method::Head, Method::Get]
        );
    }

    #[test]
    fn layer_blob_probe_then_authorized_request() {
        let digest = Digest::sha256_of(b"layer");
        let op = || Operation::LayerBlob {
            repository: nginx(),
            digest: digest.clone(),
        };
        let mut s = hub();
        let (outcome, sent) = run(&mut s, op(), NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return token("hubtoken", 300);
            }
            assert_eq!(r.method, Method::Head);
            match r.header("authorization") {
                Some("Bearer hubtoken") => {
                    Response::new(200).with_header("Content-Length", "31457280")
                }
                _ => Response::new(401).with_header("www-authenticate", HUB_CHALLENGE),
            }
        });
        let Ok(Outcome::LayerBlob(blob)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(sent.len(), 3);
        assert_eq!(blob.request.method, Method::Get);
        assert_eq!(
            blob.request.url,
            format!("https://registry-1.docker.io/v2/library/nginx/blobs/{digest}")
        );
        assert_eq!(
            blob.request.header("authorization"),
            Some("Bearer hubtoken")
        );
        assert_eq!(blob.size, Some(31_457_280));
        // With the token cached, the request is ready without a round trip.
        let mut exchange = s.start(op(), NOW + 1);
        match exchange.next_action() {
            Action::Done(Ok(Outcome::LayerBlob(b))) => {
                assert_eq!(b.request.header("authorization"), Some("Bearer hubtoken"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layer_blob_probe_redirect_counts_as_authorized() {
        let mut s = Session::new(endpoint("localhost:5000"));
        let digest = Digest::sha256_of(b"layer");
        let (outcome, sent) = run(
            &mut s,
            Operation::LayerBlob {
                repository: Repository::parse("a/b").unwrap(),
                digest: digest.clone(),
            },
            NOW,
            |_| Response::new(307).with_header("Location", "https://storage.example/blob?sig=x"),
        );
        let Ok(Outcome::LayerBlob(blob)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(sent.len(), 1);
        assert!(!blob.request.is_authorized());
        assert_eq!(
            blob.request.url,
            format!("http://localhost:5000/v2/a/b/blobs/{digest}")
        );
        // Not for other operations: an unfollowed redirect of a manifest is an error.
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| Response::new(307));
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::Status { status: 307, .. }
        ));
    }

    #[test]
    fn plain_http_realm_allowed_on_loopback_only() {
        let flow = |realm: &'static str| {
            let mut s = hub().with_credentials(Credentials::new("ana", "s3cret"));
            run(&mut s, manifest_op("1"), NOW, move |r| {
                if r.url.starts_with(realm) {
                    return token("t", 300);
                }
                match r.header("authorization") {
                    Some("Bearer t") => manifest_ok(),
                    _ => Response::new(401).with_header(
                        "www-authenticate",
                        &format!("Bearer realm=\"{realm}\",service=\"registry.docker.io\""),
                    ),
                }
            })
        };
        let (outcome, sent) = flow("http://localhost:8080/proxy-token/auth.docker.io/token");
        outcome.unwrap();
        assert!(sent[1]
            .url
            .starts_with("http://localhost:8080/proxy-token/"));
        let (outcome, sent) = flow("http://[::1]:8080/t");
        outcome.unwrap();
        assert_eq!(sent.len(), 3);
        let (outcome, sent) = flow("http://192.168.1.10:8080/t");
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::BadRealm { .. }
        ));
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn config_blob_read_through_the_session_whatever_its_bytes() {
        let digest = Digest::sha256_of(b"{\"architecture\":\"amd64\"}");
        let mut s = Session::new(endpoint("localhost:5000"));
        let op = || Operation::ConfigBlob {
            repository: Repository::parse("a/b").unwrap(),
            digest: digest.clone(),
        };
        let (outcome, _) = run(&mut s, op(), NOW, |_| {
            Response::new(200).with_body(&b"{\"architecture\":\"amd64\"}"[..])
        });
        assert!(matches!(outcome, Ok(Outcome::ConfigBlob(_))));
        // Other bytes are handed on with the digest asked for: the analysis marks them.
        let (outcome, _) = run(&mut s, op(), NOW, |_| {
            Response::new(200).with_body(&b"{\"architecture\":\"arm64\"}"[..])
        });
        match outcome {
            Ok(Outcome::ConfigBlob(blob)) => {
                assert_eq!(blob.asked, digest);
                assert_eq!(blob.bytes, b"{\"architecture\":\"arm64\"}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tags_follow_links_on_the_same_origin_only() {
        let mut s = Session::new(endpoint("localhost:5000"));
        let repo = Repository::parse("a/b").unwrap();
        let (outcome, sent) = run(
            &mut s,
            Operation::Tags {
                repository: repo.clone(),
                page_size: Some(2),
                after: None,
            },
            NOW,
            |_| {
                Response::new(200)
                    .with_header("Link", "</v2/a/b/tags/list?last=v2&n=2>; rel=\"next\"")
                    .with_body(&br#"{"name":"a/b","tags":["v1","v2"]}"#[..])
            },
        );
        assert_eq!(sent[0].url, "http://localhost:5000/v2/a/b/tags/list?n=2");
        let Ok(Outcome::Tags(page)) = outcome else {
            panic!("{outcome:?}")
        };
        let next = page.next.unwrap();
        let (outcome, sent) = run(
            &mut s,
            Operation::Tags {
                repository: repo.clone(),
                page_size: Some(2),
                after: Some(Cursor::Link(next.clone())),
            },
            NOW,
            |_| Response::new(200).with_body(&br#"{"name":"a/b","tags":["v3"]}"#[..]),
        );
        assert_eq!(
            sent[0].url,
            "http://localhost:5000/v2/a/b/tags/list?last=v2&n=2"
        );
        let Ok(Outcome::Tags(page)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            (page.tags.as_slice(), page.next.is_none()),
            (&["v3".to_string()][..], true)
        );
        // By `last`, with the page size.
        let (_, sent) = run(
            &mut s,
            Operation::Tags {
                repository: repo.clone(),
                page_size: Some(2),
                after: Some(Cursor::Last("v2".into())),
            },
            NOW,
            |_| Response::new(200).with_body(&br#"{"name":"a/b","tags":[]}"#[..]),
        );
        assert_eq!(
            sent[0].url,
            "http://localhost:5000/v2/a/b/tags/list?n=2&last=v2"
        );
        // A link to another host is an error, not a request.
        let (outcome, _) = run(
            &mut s,
            Operation::Tags {
                repository: repo.clone(),
                page_size: None,
                after: None,
            },
            NOW,
            |_| {
                Response::new(200)
                    .with_header(
                        "Link",
                        "<http://evil.example/v2/a/b/tags/list?last=v2>; rel=\"next\"",
                    )
                    .with_body(&br#"{"name":"a/b","tags":["v1"]}"#[..])
            },
        );
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::BadLink { .. }
        ));
        // A page of one registry cannot be followed in a session with another.
        let mut other = Session::new(endpoint("ghcr.io"));
        let mut exchange = other.start(
            Operation::Tags {
                repository: repo,
                page_size: None,
                after: Some(Cursor::Link(next)),
            },
            NOW,
        );
        assert!(matches!(
            exchange.next_action(),
            Action::Done(Err(RegistryError::BadLink { .. }))
        ));
    }

    #[test]
    fn catalog_pages_and_refusals() {
        let mut s = Session::new(endpoint("localhost:5000"));
        let (outcome, sent) = run(
            &mut s,
            Operation::Catalog {
                page_size: Some(2),
                after: None,
            },
            NOW,
            |_| {
                Response::new(200)
                    .with_header("Link", "</v2/_catalog?last=b&n=2>; rel=\"next\"")
                    .with_body(&br#"{"repositories":["a","b"]}"#[..])
            },
        );
        assert_eq!(sent[0].url, "http://localhost:5000/v2/_catalog?n=2");
        let Ok(Outcome::Catalog(page)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(page.next.unwrap().last().as_deref(), Some("b"));
        // Docker Hub: a token for registry:catalog:* that does not grant it.
        let mut s = hub();
        let (outcome, sent) = run(
            &mut s,
            Operation::Catalog {
                page_size: None,
                after: None,
            },
            NOW,
            |r| {
                if r.url.contains("auth.docker.io") {
                    assert!(
                        r.url.contains("scope=registry%3Acatalog%3A%2A"),
                        "{}",
                        r.url
                    );
                    return token("t", 300);
                }
                Response::new(401).with_header(
                    "www-authenticate",
                    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"registry:catalog:*\",error=\"insufficient_scope\"",
                )
            },
        );
        assert_eq!(sent.len(), 3);
        let err = outcome.unwrap_err();
        assert!(
            matches!(err, RegistryError::CatalogRefused { status: 401, .. }),
            "{err}"
        );
        for status in [403, 404] {
            let (outcome, _) = run(
                &mut s,
                Operation::Catalog {
                    page_size: None,
                    after: None,
                },
                NOW,
                |_| Response::new(status),
            );
            assert!(
                matches!(outcome.unwrap_err(), RegistryError::CatalogRefused { status: s, .. } if s == status)
            );
        }
    }

    #[test]
    fn ping_reports_challenges_without_fetching_tokens() {
        let mut s = hub();
        let (outcome, sent) = run(&mut s, Operation::Ping, NOW, |_| {
            Response::new(401)
                .with_header("docker-distribution-api-version", "registry/2.0")
                .with_header(
                    "www-authenticate",
                    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\"",
                )
        });
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].url, "https://registry-1.docker.io/v2/");
        let Ok(Outcome::Pinged(p)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(p.api_version.as_deref(), Some("registry/2.0"));
        assert!(p.challenges[0].is_bearer());
        let (outcome, _) = run(&mut s, Operation::Ping, NOW, |_| Response::new(200));
        assert!(
            matches!(outcome, Ok(Outcome::Pinged(Pinged { challenges, .. })) if challenges.is_empty())
        );
        let (outcome, _) = run(&mut s, Operation::Ping, NOW, |_| Response::new(502));
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::Status { status: 502, .. }
        ));
    }

    #[test]
    fn rate_limited_with_reset_time() {
        let mut s = hub();
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| {
            Response::new(429)
                .with_header("ratelimit-limit", "100;w=21600")
                .with_header("ratelimit-remaining", "0;w=21600")
                .with_header("retry-after", "600")
                .with_body(&br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits"}]}"#[..])
        });
        let err = outcome.unwrap_err();
        assert!(
            matches!(err, RegistryError::TooManyRequests { reset: Some(LimitReset::RetryAfter(t)), .. } if t == NOW + 600)
        );
        assert_eq!(s.rate_limit().unwrap().remaining, Some(0));
    }

    #[test]
    fn exchange_protocol_edges() {
        let mut s = hub();
        let mut exchange = s.start(manifest_op("1"), NOW);
        let first = match exchange.next_action() {
            Action::Send(r) => r,
            other => panic!("{other:?}"),
        };
        // Asking again gives the same request.
        assert!(matches!(exchange.next_action(), Action::Send(r) if r == first));
        assert_eq!(
            exchange.body_limit(),
            Limits::DEFAULT.max_document_bytes as usize
        );
        let mut raised = hub().with_limits(Limits {
            max_document_bytes: 9 << 20,
            ..Limits::DEFAULT
        });
        assert_eq!(
            raised.start(manifest_op("1"), NOW).body_limit(),
            9 << 20,
            "the session's limits decide how much of a manifest is read"
        );
        exchange
            .receive(
                Response::new(401).with_header("www-authenticate", HUB_CHALLENGE),
                NOW,
            )
            .unwrap();
        assert_eq!(exchange.body_limit(), MAX_TOKEN_RESPONSE_BYTES);
        exchange.receive(token("t", 300), NOW).unwrap();
        exchange.receive(manifest_ok(), NOW).unwrap();
        assert!(matches!(
            exchange.next_action(),
            Action::Done(Ok(Outcome::Manifest(_)))
        ));
        assert!(matches!(
            exchange.next_action(),
            Action::Done(Err(RegistryError::NotWaiting { .. }))
        ));
        assert!(matches!(
            exchange.receive(Response::new(200), NOW),
            Err(RegistryError::NotWaiting { .. })
        ));
        assert_eq!(exchange.body_limit(), 0);
        let tags = s.start(
            Operation::Tags {
                repository: nginx(),
                page_size: None,
                after: None,
            },
            NOW,
        );
        assert_eq!(tags.body_limit(), MAX_LIST_BYTES);
    }

    #[test]
    fn bad_tags_are_refused_before_any_request() {
        let mut s = hub();
        for tag in ["../../blobs/x", "a?b", "", "-x", "a/b"] {
            let mut exchange = s.start(manifest_op(tag), NOW);
            match exchange.next_action() {
                Action::Done(Err(RegistryError::BadTag { .. })) => {}
                other => panic!("{tag:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn registry_errors_reach_the_caller_typed() {
        let mut s = hub();
        let (outcome, _) = run(&mut s, manifest_op("nope"), NOW, |r| {
            if r.url.contains("auth.docker.io") {
                return token("hubtoken", 300);
            }
            match r.header("authorization") {
                Some(_) => Response::new(404).with_body(&br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#[..]),
                None => Response::new(401).with_header("www-authenticate", HUB_CHALLENGE),
            }
        });
        let err = outcome.unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.entries()[0].code, api::ErrorCode::ManifestUnknown);
        assert_eq!(
            err.to_string(),
            r#"registry-1.docker.io answered 404 for manifest library/nginx:nope: MANIFEST_UNKNOWN: manifest unknown ({"Tag":"nope"})"#
        );
        // A digest mismatch surfaces through the session too.
        let (outcome, _) = run(&mut s, manifest_op("1"), NOW, |_| {
            manifest_ok().with_body(MANIFEST.replace("32", "33"))
        });
        assert!(matches!(
            outcome.unwrap_err(),
            RegistryError::DigestMismatch { .. }
        ));
    }
}
