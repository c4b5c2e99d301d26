//! End-to-end tests of the engine against the sandbox's in-process client, with its simulated
//! controllers running faster than real time: releases over several rings, crash loops and
//! failing init containers rolled back, approvals, locks, prune, CRDs, stale plans, history.

use std::path::Path;
use std::time::Duration;

use gitops_manifest::ObjectRef;
use serde_json::{Value, json};

use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::apply::release::{Decision, PlanSource, RingRequest, RingResult, run_ring};
use crate::apply::ring::Options;
use crate::cluster::Cluster;
use crate::cluster::apply_calls::{builtin_kind, lease_kind, secret_kind};
use crate::config::Config;
use crate::history::Outcome;
use crate::plan::{ClusterInfo, GitState};

/// How much faster than real time the sandbox's controllers run: a 10 s crash-loop back-off
/// takes half a second.
const TIME_SCALE: f64 = 20.0;
/// Every test ends within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A running sandbox: the cluster, and its controllers until dropped.
pub(crate) struct Env {
    pub cluster: Cluster,
    pub sandbox: gitops_sandbox::Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) fn start_sandbox() -> Env {
    let sandbox = gitops_sandbox::Sandbox::new();
    let controllers = gitops_sandbox::controllers::Controllers::new(
        sandbox.store().clone(),
        gitops_sandbox::clock::Clock::real(TIME_SCALE),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controllers.run(async move {
        let _ = stopped.await;
    }));
    let client = kube::Client::new(sandbox.service(), "default");
    let cluster = Cluster::from_client(
        client,
        ClusterInfo {
            server: "in-process sandbox".into(),
            context: None,
        },
        "the sandbox",
    );
    Env {
        cluster,
        sandbox,
        _stop: stop,
    }
}

/// A demo repo in a temporary folder: rings with a namespace, a ConfigMap, a Deployment with
/// an init container that copies the settings, and a Service.
pub(crate) struct Repo {
    pub dir: tempfile::TempDir,
}

pub(crate) const RINGS: &str = "rings:
  - name: dev
    wait: 60s
  - name: qa
    wait: 60s
  - name: prod-ring1
    approval: required
    wait: 60s
  - name: prod-ring2
    approval: required
    wait: 60s
history:
  namespace: gitops-system
  keep: 5
";

pub(crate) fn app(ns: &str, image: &str, init_image: &str) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  appsettings.json: '{{\"ring\": \"{ns}\"}}'
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      initContainers:
      - name: init-copy-config
        image: {init_image}
        command: [cp, /config/appsettings.json, /app/]
      containers:
      - name: web
        image: {image}
        ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
"
    )
}

impl Repo {
    pub fn new(rings: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("gitops.yaml"), rings).expect("write gitops.yaml");
        Self { dir }
    }

    pub fn env(&self, ring: &str, manifests: &str) {
        let path = self.dir.path().join("environments").join(ring);
        std::fs::create_dir_all(&path).expect("mkdir");
        std::fs::write(path.join("app.yaml"), manifests).expect("write app.yaml");
        std::fs::write(path.join("kustomization.yaml"), "resources:\n- app.yaml\n")
            .expect("write kustomization");
    }

    pub fn config(&self) -> Config {
        Config::load(&self.dir.path().join("gitops.yaml")).expect("gitops.yaml loads")
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Collects events for assertions.
#[derive(Default)]
pub(crate) struct Recorder(std::sync::Mutex<Vec<Event>>);

impl Sink for Recorder {
    fn event(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}

pub(crate) fn options() -> Options {
    Options {
        force: true,
        rollback: true,
        check_stale: false,
        trigger: "apply".into(),
        who: "tester@test (pid 1)".into(),
    }
}

/// Run rings in order like `gitops apply --all --approve all` does; stops at the first that
/// does not succeed.
pub(crate) async fn release(
    env: &Env,
    config: &Config,
    approve: bool,
    opts: &Options,
) -> Vec<(String, RingResult)> {
    let mut out = Vec::new();
    for ring in &config.rings {
        let request = RingRequest {
            config,
            ring,
            cluster: &env.cluster,
            plan: PlanSource::Fresh,
            git: GitState::default(),
            approved: approve,
            options: opts.clone(),
        };
        let result = run_ring(
            request,
            &|_, _| None::<Decision>,
            &Recorder::default(),
            &Cancel::never(),
        )
        .await;
        let go_on = result.succeeded();
        out.push((ring.name.clone(), result));
        if !go_on {
            break;
        }
    }
    out
}

pub(crate) async fn get(
    env: &Env,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<Value> {
    let k = builtin_kind(group, version, kind, plural, ns.is_some());
    let id = ObjectRef::new(
        group,
        Some(version.into()),
        kind,
        ns.map(str::to_string),
        name,
    );
    env.cluster.read(&k, &id).await.expect("read")
}

pub(crate) async fn deployment(env: &Env, ns: &str) -> Option<Value> {
    get(
        env,
        "apps",
        "v1",
        "Deployment",
        "deployments",
        Some(ns),
        "web",
    )
    .await
}

fn image(d: &Value) -> &str {
    d.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn outcome(r: &RingResult) -> Option<Outcome> {
    match r {
        RingResult::Ran { revision, .. } => Some(revision.outcome),
        _ => None,
    }
}

fn four_ring_repo() -> Repo {
    let repo = Repo::new(RINGS);
    for ring in ["dev", "qa", "prod-ring1", "prod-ring2"] {
        repo.env(ring, &app(ring, "registry.example/web:1.0", "busybox:1.36"));
    }
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_rings_go_green_then_a_crash_loop_in_qa_is_diagnosed_and_rolled_back() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = four_ring_repo();
        let config = repo.config();
        let results = release(&env, &config, true, &options()).await;
        let outcomes: Vec<(String, Option<Outcome>)> = results
            .iter()
            .map(|(r, x)| (r.clone(), outcome(x)))
            .collect();
        assert_eq!(
            outcomes,
            ["dev", "qa", "prod-ring1", "prod-ring2"]
                .map(|r| (r.to_string(), Some(Outcome::Succeeded)))
                .to_vec(),
            "{results:#?}"
        );
        for ring in ["dev", "qa", "prod-ring1", "prod-ring2"] {
            let d = deployment(&env, ring).await.expect("deployment exists");
            assert_eq!(
                d.pointer("/status/availableReplicas"),
                Some(&json!(2)),
                "{ring}: {d:#}"
            );
            assert_eq!(
                d.pointer("/metadata/labels/applyset.kubernetes.io~1part-of")
                    .and_then(Value::as_str)
                    .map(|s| s.starts_with("applyset-")),
                Some(true)
            );
        }
        let qa_before = deployment(&env, "qa").await.expect("qa");

        // A bad image in qa and the prod rings; dev is unchanged.
        for ring in ["qa", "prod-ring1", "prod-ring2"] {
            repo.env(
                ring,
                &app(ring, "registry.example/web:2.0-crashloop", "busybox:1.36"),
            );
        }
        let results = release(&env, &config, true, &options()).await;
        assert_eq!(results.len(), 2, "the release stops at qa: {results:#?}");
        assert_eq!(outcome(&results[0].1), Some(Outcome::Unchanged));
        let RingResult::Ran {
            revision,
            record_error,
        } = &results[1].1
        else {
            panic!("qa ran: {:?}", results[1].1)
        };
        assert_eq!(record_error, &None);
        assert_eq!(
            revision.outcome,
            Outcome::RolledBack,
            "{}",
            revision.message
        );
        assert_eq!(results[1].1.exit(), crate::exit::Exit::GateFailed);
        // The diagnosis names the crash loop and carries the previous log of the container.
        let text: Vec<String> = revision.diagnosis.iter().flat_map(|d| d.lines()).collect();
        let text = text.join("\n");
        assert!(text.contains("CrashLoopBackOff"), "{text}");
        assert!(text.contains("lines (logs"), "{text}");
        assert!(text.contains("ends in -crashloop"), "{text}");
        // qa is back to exactly its earlier objects; prod untouched.
        let qa_after = deployment(&env, "qa").await.expect("qa");
        assert_eq!(image(&qa_after), "registry.example/web:1.0");
        assert_eq!(qa_after["spec"], qa_before["spec"]);
        assert_eq!(
            qa_after["metadata"]["labels"],
            qa_before["metadata"]["labels"]
        );
        for ring in ["prod-ring1", "prod-ring2"] {
            let d = deployment(&env, ring).await.expect("prod");
            assert_eq!(image(&d), "registry.example/web:1.0", "{ring} untouched");
        }
        // The record is in the cluster.
        let history = crate::history::store::list(&env.cluster, "gitops-system", "qa")
            .await
            .expect("history");
        let outcomes: Vec<Outcome> = history.iter().map(|h| h.outcome).collect();
        assert_eq!(outcomes, [Outcome::Succeeded, Outcome::RolledBack]);
        let stored = crate::history::store::get(&env.cluster, "gitops-system", "qa", 2)
            .await
            .expect("revision 2");
        assert!(stored.rollback.is_some());
        assert!(!stored.diagnosis.is_empty());
        // No lock is left behind.
        for ring in ["dev", "qa"] {
            assert!(
                get(
                    &env,
                    "coordination.k8s.io",
                    "v1",
                    "Lease",
                    "leases",
                    Some("gitops-system"),
                    &format!("gitops-lock-{ring}")
                )
                .await
                .is_none()
            );
        }
    })
    .await
    .expect("test timed out");
}
