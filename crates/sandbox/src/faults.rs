//! Fault injection as a tower `Layer`: latency, 5xx answers, dropped connections and forced
//! 409 conflicts, on a share of the requests that match a verb and resource.
//!
//! Rules come from a compact spec (the `--faults` flag or `GITOPS_SANDBOX_FAULTS`), from a YAML
//! file (`--faults @FILE`), or from code; a [`FaultHandle`] changes them while the sandbox runs.
//! The 5xx and 409 bodies are `Status` objects shaped as the API server writes them
//! (https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs and
//! https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// The environment variable read when no `--faults` flag is given.
pub const ENV: &str = "GITOPS_SANDBOX_FAULTS";

/// A boxed error, the error type of the fault service (tower's convention).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A fault specification could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FaultSpecError {
    /// A `key=value` item of the compact spec is malformed or unknown.
    #[error("fault spec `{item}`: {reason}")]
    Item {
        /// The offending item.
        item: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The YAML fault file could not be read.
    #[error("fault file `{path}`: {message}")]
    File {
        /// The file named after `@`.
        path: String,
        /// The read or parse failure.
        message: String,
    },
}

/// The connection was dropped on purpose; the HTTPS server closes the connection when it sees
/// this error, and an in-process `kube::Client` reports it as a service error.
#[derive(Debug, thiserror::Error)]
#[error("sandbox fault injection dropped the connection")]
pub struct DroppedConnection;

/// One fault rule: which requests it matches and what it does to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultRule {
    /// API verbs matched (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`); empty matches all.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Resources matched by plural (`deployments`) or kind (`Deployment`), case-insensitive;
    /// empty matches all.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Added before the request is served, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Share (0..=1) of matching requests answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    /// The 5xx code used for `error_rate` (default 503).
    #[serde(default)]
    pub error_status: Option<u16>,
    /// Share (0..=1) of matching requests whose connection is dropped without an answer.
    #[serde(default)]
    pub drop_rate: f64,
    /// Share (0..=1) of matching requests answered with 409 Conflict.
    #[serde(default)]
    pub conflict_rate: f64,
}

/// All fault rules; the first rule that matches a request decides its fate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultConfig {
    /// The rules, in order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Seed of the random choices, for reproducible tests; random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl FaultConfig {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Read a `--faults` value: `@FILE` names a YAML file holding a [`FaultConfig`]; anything
    /// else is the compact spec: rules separated by `;`, each a comma-separated list of
    /// `verb=get|list`, `resource=deployments|pods`, `latency=200ms`, `error=0.1`,
    /// `status=500`, `drop=0.05`, `conflict=0.2`; a rule `seed=42` sets the seed.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        if let Some(path) = spec.strip_prefix('@') {
            return Self::from_file(Path::new(path));
        }
        let mut config = Self::default();
        for rule_text in spec.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let mut rule = FaultRule::default();
            let mut is_rule = false;
            for item in rule_text
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
            {
                let bad = |reason: &str| FaultSpecError::Item {
                    item: item.to_owned(),
                    reason: reason.to_owned(),
                };
                let (key, value) = item
                    .split_once('=')
                    .ok_or_else(|| bad("expected `key=value`"))?;
                let list = || value.split('|').map(|v| v.trim().to_owned()).collect();
                match key.trim() {
                    "seed" => {
                        config.seed = Some(value.parse().map_err(|_| bad("not a whole number"))?);
                        continue;
                    }
                    "verb" | "verbs" => rule.verbs = list(),
                    "resource" | "resources" | "kind" => rule.resources = list(),
                    "latency" => {
                        rule.latency_ms = parse_millis(value)
                            .ok_or_else(|| bad("expected e.g. `200ms` or `1s`"))?
                    }
                    "error" => {
                        rule.error_rate = parse_share(value)
                            .ok_or_else(|| bad("expected a share between 0 and 1"))?
                    }
                    "status" => {
                        let code: u16 = value.parse().map_err(|_| bad("not a status code"))?;
                        if !(500..=599).contains(&code) {
                            return Err(bad("the status must be a 5xx code"));
                        }
                        rule.error_status = Some(code);
                    }
                    "drop" => {
                        rule.drop_rate = parse_share(value)
                            .ok_or_else(|| bad("expected a share between 0 and 1"))?
                    }
                    "conflict" => {
                        rule.conflict_rate = parse_share(value)
                            .ok_or_else(|| bad("expected a share between 0 and 1"))?
                    }
                    _ => {
                        return Err(bad(
                            "unknown key; expected verb, resource, latency, error, status, drop, conflict or seed",
                        ));
                    }
                }
                is_rule = true;
            }
            if is_rule {
                config.rules.push(rule);
            }
        }
        Ok(config)
    }

    /// Read a YAML fault file.
    pub fn from_file(path: &Path) -> Result<Self, FaultSpecError> {
        let file_err = |message: String| FaultSpecError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        gitops_manifest::yaml::from_str(&text).map_err(|e| file_err(e.to_string()))
    }

    /// The configuration from `GITOPS_SANDBOX_FAULTS`, or none when it is unset.
    pub fn from_env() -> Result<Self, FaultSpecError> {
        match std::env::var(ENV) {
            Ok(spec) => Self::parse(&spec),
            Err(_) => Ok(Self::none()),
        }
    }

    fn rule_for(&self, verb: &str, resource: &str) -> Option<&FaultRule> {
        self.rules.iter().find(|r| r.matches(verb, resource))
    }
}

impl FaultRule {
    fn matches(&self, verb: &str, resource: &str) -> bool {
        let verb_ok =
            self.verbs.is_empty() || self.verbs.iter().any(|v| v.eq_ignore_ascii_case(verb));
        let resource_ok =
            self.resources.is_empty() || self.resources.iter().any(|r| names_resource(r, resource));
        verb_ok && resource_ok
    }
}

/// Does a user's word (`Deployment`, `deployments`, `NetworkPolicy`) name this plural resource?
fn names_resource(word: &str, plural: &str) -> bool {
    let word = word.to_ascii_lowercase();
    if word == plural || format!("{word}s") == plural || format!("{word}es") == plural {
        return true;
    }
    word.strip_suffix('y')
        .is_some_and(|stem| format!("{stem}ies") == plural)
}

fn parse_millis(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Some(ms) = value.strip_suffix("ms") {
        ms.trim().parse().ok()
    } else if let Some(s) = value.strip_suffix('s') {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(|s| (s * 1000.0) as u64)
    } else {
        value.parse().ok()
    }
}

fn parse_share(value: &str) -> Option<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
}

/// The verb and plural resource of an API request, as the API server's request info names
/// them (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb).
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> (String, String) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return (method.as_str().to_ascii_lowercase(), String::new()),
    };
    // `namespaces/NS/RESOURCE/...` is namespaced; `namespaces` and `namespaces/NAME` are the
    // Namespace resource itself.
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let resource = rest.first().copied().unwrap_or_default().to_owned();
    let has_name = rest.len() >= 2;
    let watching =
        query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=1" || kv == "watch=true"));
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if has_name => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if has_name => "delete",
        Method::DELETE => "deletecollection",
        _ => return (method.as_str().to_ascii_lowercase(), resource),
    };
    (verb.to_owned(), resource)
}

/// A live view of the fault configuration: cloneable, shared with every service the layer made.
#[derive(Debug, Clone)]
pub struct FaultHandle {
    config: Arc<RwLock<FaultConfig>>,
    rng: Arc<Mutex<StdRng>>,
}

impl FaultHandle {
    /// A handle holding `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            config: Arc::new(RwLock::new(config)),
            rng: Arc::new(Mutex::new(rng)),
        }
    }

    /// Replace the rules (and reseed when the new configuration has a seed).
    pub fn set(&self, config: FaultConfig) {
        if let Some(seed) = config.seed
            && let Ok(mut rng) = self.rng.lock()
        {
            *rng = StdRng::seed_from_u64(seed);
        }
        if let Ok(mut current) = self.config.write() {
            *current = config;
        }
    }

    /// The current configuration.
    pub fn get(&self) -> FaultConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Decide what happens to one request.
    fn decide(&self, verb: &str, resource: &str) -> Decision {
        let Ok(config) = self.config.read() else {
            return Decision::default();
        };
        let Some(rule) = config.rule_for(verb, resource) else {
            return Decision::default();
        };
        let roll = || {
            self.rng
                .lock()
                .map(|mut r| r.random::<f64>())
                .unwrap_or(1.0)
        };
        let outcome = if rule.drop_rate > 0.0 && roll() < rule.drop_rate {
            Outcome::Drop
        } else if rule.error_rate > 0.0 && roll() < rule.error_rate {
            Outcome::ServerError(rule.error_status.unwrap_or(503))
        } else if rule.conflict_rate > 0.0 && roll() < rule.conflict_rate {
            Outcome::Conflict
        } else {
            Outcome::Pass
        };
        Decision {
            latency: Duration::from_millis(rule.latency_ms),
            outcome,
        }
    }
}

#[derive(Debug, Default)]
struct Decision {
    latency: Duration,
    outcome: Outcome,
}

#[derive(Debug, Default, PartialEq)]
enum Outcome {
    #[default]
    Pass,
    Drop,
    ServerError(u16),
    Conflict,
}

/// The tower layer; wrap the sandbox's service in it.
#[derive(Debug, Clone)]
pub struct FaultLayer {
    handle: FaultHandle,
}

impl FaultLayer {
    /// A layer applying `handle`'s rules.
    pub fn new(handle: FaultHandle) -> Self {
        Self { handle }
    }
}

impl<S> tower::Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            handle: self.handle.clone(),
        }
    }
}

/// The service the [`FaultLayer`] makes.
#[derive(Debug, Clone)]
pub struct FaultService<S> {
    inner: S,
    handle: FaultHandle,
}

/// A fault's answer or the inner service's.
pub type FaultBody<B> = Either<Full<Bytes>, B>;

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for FaultService<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<FaultBody<ResBody>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (verb, resource) = classify(
            request.method(),
            request.uri().path(),
            request.uri().query(),
        );
        let decision = self.handle.decide(&verb, &resource);
        // The inner service was made ready by `poll_ready`; take it and leave a fresh clone,
        // as tower's docs advise for services that are cloned into futures.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if !decision.latency.is_zero() {
                tokio::time::sleep(decision.latency).await;
            }
            match decision.outcome {
                Outcome::Pass => {
                    let response = inner.call(request).await.map_err(Into::into)?;
                    Ok(response.map(Either::Right))
                }
                Outcome::Drop => Err(Box::new(DroppedConnection) as BoxError),
                Outcome::ServerError(code) => Ok(server_error(code)),
                Outcome::Conflict => Ok(conflict(&resource, request.uri().path())),
            }
        })
    }
}

fn status_response<B>(code: u16, reason: &str, message: String) -> Response<FaultBody<B>> {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body.to_string()))));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn server_error<B>(code: u16) -> Response<FaultBody<B>> {
    // The reasons the API server pairs with these codes (metav1.StatusReason).
    let (reason, message) = match code {
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        _ => (
            "InternalError",
            "an error on the server has prevented the request from succeeding",
        ),
    };
    let mut response = status_response(code, reason, format!("{message} (injected fault)"));
    if code == 503 {
        // client-go honours Retry-After on 5xx; the real server sends it with 503s.
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}

fn conflict<B>(resource: &str, path: &str) -> Response<FaultBody<B>> {
    let name = path.rsplit('/').next().unwrap_or_default();
    status_response(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use tower::{Layer as _, ServiceExt as _};

    fn ok_service() -> impl tower::Service<
        Request<()>,
        Response = Response<Full<Bytes>>,
        Error = std::convert::Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, std::convert::Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|_req: Request<()>| async {
            Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
        })
    }

    fn request(method: Method, uri: &str) -> Request<()> {
        Request::builder().method(method).uri(uri).body(()).unwrap()
    }

    #[test]
    fn classify_names_verbs_and_resources_like_the_api_server() {
        let c = |m: Method, p: &str, q: Option<&str>| classify(&m, p, q);
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/default/pods", None),
            ("list".into(), "pods".into())
        );
        assert_eq!(
            c(
                Method::GET,
                "/api/v1/namespaces/default/pods",
                Some("watch=1")
            ),
            ("watch".into(), "pods".into())
        );
        assert_eq!(
            c(
                Method::GET,
                "/api/v1/namespaces/default/pods/web-1/log",
                None
            ),
            ("get".into(), "pods".into())
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/default", None),
            ("get".into(), "namespaces".into())
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces", None),
            ("list".into(), "namespaces".into())
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/apps/v1/namespaces/x/deployments/web",
                None
            ),
            ("patch".into(), "deployments".into())
        );
        assert_eq!(
            c(
                Method::DELETE,
                "/apis/apps/v1/namespaces/x/deployments",
                None
            ),
            ("deletecollection".into(), "deployments".into())
        );
        assert_eq!(
            c(Method::POST, "/apis/storage.k8s.io/v1/storageclasses", None),
            ("create".into(), "storageclasses".into())
        );
    }

    #[test]
    fn compact_spec_parses_and_bad_items_name_themselves() {
        let config = FaultConfig::parse("verb=create|patch,resource=Deployment,latency=1.5s,error=0.25,status=500; drop=0.1; seed=7").unwrap();
        assert_eq!(config.seed, Some(7));
        assert_eq!(config.rules.len(), 2);
        assert_eq!(config.rules[0].verbs, vec!["create", "patch"]);
        assert_eq!(config.rules[0].latency_ms, 1500);
        assert_eq!(config.rules[0].error_status, Some(500));
        assert!(config.rules[0].matches("patch", "deployments"));
        assert!(!config.rules[0].matches("get", "deployments"));
        assert!(!config.rules[0].matches("patch", "pods"));
        assert!(config.rules[1].matches("get", "pods"));
        let err = FaultConfig::parse("error=2").unwrap_err().to_string();
        assert_eq!(
            err,
            "fault spec `error=2`: expected a share between 0 and 1"
        );
        let err = FaultConfig::parse("wobble=1").unwrap_err().to_string();
        assert!(
            err.starts_with("fault spec `wobble=1`: unknown key"),
            "{err}"
        );
        assert!(names_resource("NetworkPolicy", "networkpolicies"));
        assert!(names_resource("ingress", "ingresses"));
    }

    #[test]
    fn fault_file_is_read_as_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.yaml");
        std::fs::write(
            &path,
            "seed: 3\nrules:\n- verbs: [get]\n  conflictRate: 1\n",
        )
        .unwrap();
        let config = FaultConfig::parse(&format!("@{}", path.display())).unwrap();
        assert_eq!(config.rules[0].conflict_rate, 1.0);
        let err = FaultConfig::parse("@/nonexistent/faults.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("fault file `/nonexistent/faults.yaml`:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn faults_apply_only_to_matching_requests() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let handle = FaultHandle::new(
                FaultConfig::parse("verb=update,resource=deployments,conflict=1").unwrap(),
            );
            let service = FaultLayer::new(handle.clone()).layer(ok_service());

            let put = service
                .clone()
                .oneshot(request(
                    Method::PUT,
                    "/apis/apps/v1/namespaces/d/deployments/web",
                ))
                .await
                .unwrap();
            assert_eq!(put.status(), StatusCode::CONFLICT);
            let body = put.into_body().collect().await.unwrap().to_bytes();
            let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(status["reason"], "Conflict");
            assert_eq!(status["kind"], "Status");
            assert!(
                status["message"]
                    .as_str()
                    .unwrap()
                    .contains("deployments \"web\"")
            );

            let get = service
                .clone()
                .oneshot(request(
                    Method::GET,
                    "/apis/apps/v1/namespaces/d/deployments/web",
                ))
                .await
                .unwrap();
            assert_eq!(get.status(), StatusCode::OK);

            handle.set(FaultConfig::parse("drop=1").unwrap());
            let dropped = service
                .clone()
                .oneshot(request(Method::GET, "/api/v1/pods"))
                .await;
            assert!(dropped.unwrap_err().is::<DroppedConnection>());

            handle.set(FaultConfig::parse("error=1").unwrap());
            let failed = service
                .clone()
                .oneshot(request(Method::GET, "/api/v1/pods"))
                .await
                .unwrap();
            assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(failed.headers()[http::header::RETRY_AFTER], "1");
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_share_of_requests_fail_and_latency_is_added() {
        tokio::time::timeout(Duration::from_secs(10), async {
            let handle =
                FaultHandle::new(FaultConfig::parse("error=0.5,status=500;seed=11").unwrap());
            let service = FaultLayer::new(handle).layer(ok_service());
            let mut failures = 0;
            for _ in 0..400 {
                let r = service
                    .clone()
                    .oneshot(request(Method::GET, "/api/v1/pods"))
                    .await
                    .unwrap();
                if r.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    failures += 1;
                }
            }
            assert!((140..=260).contains(&failures), "{failures} of 400 failed");

            let slow = FaultLayer::new(FaultHandle::new(
                FaultConfig::parse("latency=150ms").unwrap(),
            ))
            .layer(ok_service());
            let start = std::time::Instant::now();
            slow.oneshot(request(Method::GET, "/api/v1/pods"))
                .await
                .unwrap();
            assert!(start.elapsed() >= Duration::from_millis(150));
        })
        .await
        .unwrap();
    }
}
