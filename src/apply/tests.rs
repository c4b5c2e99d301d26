//! End-to-end tests of the engine against the sandbox's in-process client, with its simulated
//! controllers running faster than real time: releases over several rings, crash loops and
//! failing init containers rolled back, approvals, locks, prune, CRDs, stale plans, history.

use std::time::Duration;

use gitops_manifest::ObjectRef;
use serde_json::{Value, json};

use crate::apply::cancel::Cancel;
use crate::apply::event::{Event, Sink};
use crate::apply::release::{Decision, PlanSource, RingRequest, RingResult, run_ring};
use crate::apply::ring::Options;
use crate::cluster::Cluster;
use crate::cluster::apply_calls::{builtin_kind, lease_kind};
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

const ONE_RING: &str = "rings:
  - name: dev
    wait: 60s
history:
  namespace: gitops-system
  keep: 5
";

async fn single(env: &Env, repo: &Repo, opts: &Options) -> RingResult {
    let config = repo.config();
    let mut results = release(env, &config, true, opts).await;
    results.remove(0).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_required_ring_without_approval_is_blocked_and_untouched() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = four_ring_repo();
        let config = repo.config();
        let results = release(&env, &config, false, &options()).await;
        let summary: Vec<(String, Option<Outcome>)> = results
            .iter()
            .map(|(r, x)| (r.clone(), outcome(x)))
            .collect();
        assert_eq!(
            summary[..2],
            [
                ("dev".to_string(), Some(Outcome::Succeeded)),
                ("qa".to_string(), Some(Outcome::Succeeded))
            ]
        );
        let (ring, blocked) = &results[2];
        assert_eq!(ring, "prod-ring1");
        let RingResult::Blocked { reason } = blocked else {
            panic!("blocked: {blocked:?}")
        };
        assert!(reason.contains("--approve prod-ring1"), "{reason}");
        assert_eq!(blocked.exit(), crate::exit::Exit::Blocked);
        assert_eq!(results.len(), 3, "prod-ring2 is not attempted");
        assert!(
            get(
                &env,
                "",
                "v1",
                "Namespace",
                "namespaces",
                None,
                "prod-ring1"
            )
            .await
            .is_none(),
            "nothing applied"
        );
        assert!(
            crate::history::store::list(&env.cluster, "gitops-system", "prod-ring1")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            get(
                &env,
                "coordination.k8s.io",
                "v1",
                "Lease",
                "leases",
                Some("gitops-system"),
                "gitops-lock-prod-ring1"
            )
            .await
            .is_none()
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_blocks_the_ring_until_unlocked() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        crate::history::store::ensure_namespace(&env.cluster, "gitops-system")
            .await
            .unwrap();
        let lease = crate::lock::lease_object(
            "dev",
            "gitops-system",
            "bob@ci-agent (pid 9)",
            chrono::Utc::now(),
        );
        let id = ObjectRef::from_value(&lease).unwrap();
        env.cluster
            .create_new(&lease_kind(), &id, &lease)
            .await
            .unwrap();

        let result = single(&env, &repo, &options()).await;
        let RingResult::Blocked { reason } = &result else {
            panic!("blocked: {result:?}")
        };
        assert!(
            reason.contains("bob@ci-agent (pid 9)") && reason.contains("gitops unlock dev"),
            "{reason}"
        );
        assert!(
            get(&env, "", "v1", "Namespace", "namespaces", None, "dev")
                .await
                .is_none(),
            "nothing applied"
        );

        let holder = crate::lock::unlock(&env.cluster, "gitops-system", "dev")
            .await
            .unwrap();
        assert_eq!(
            holder.map(|h| h.identity).as_deref(),
            Some("bob@ci-agent (pid 9)")
        );
        let result = single(&env, &repo, &options()).await;
        assert_eq!(outcome(&result), Some(Outcome::Succeeded), "{result:?}");
        assert!(
            get(
                &env,
                "coordination.k8s.io",
                "v1",
                "Lease",
                "leases",
                Some("gitops-system"),
                "gitops-lock-dev"
            )
            .await
            .is_none(),
            "released"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_init_container_is_diagnosed_and_rolled_back() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        let before = deployment(&env, "dev").await.unwrap();
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36-crashloop"),
        );
        let result = single(&env, &repo, &options()).await;
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!(
            revision.outcome,
            Outcome::RolledBack,
            "{}",
            revision.message
        );
        assert!(
            revision.message.contains("init container init-copy-config"),
            "{}",
            revision.message
        );
        let text = revision
            .diagnosis
            .iter()
            .flat_map(|d| d.lines())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("init container init-copy-config") && text.contains("ends in -crashloop"),
            "{text}"
        );
        let after = deployment(&env, "dev").await.unwrap();
        assert_eq!(after["spec"], before["spec"]);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_rollback_a_failed_ring_is_left_as_it_is_and_recorded_so() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        repo.env(
            "dev",
            &app("dev", "registry.example/web:2.0-pullfail", "busybox:1.36"),
        );
        let opts = Options {
            rollback: false,
            ..options()
        };
        let result = single(&env, &repo, &opts).await;
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!(revision.outcome, Outcome::Failed);
        assert!(
            revision.message.contains("--no-rollback"),
            "{}",
            revision.message
        );
        assert_eq!(result.exit(), crate::exit::Exit::GateFailed);
        assert_eq!(
            image(&deployment(&env, "dev").await.unwrap()),
            "registry.example/web:2.0-pullfail"
        );
    })
    .await
    .expect("test timed out");
}

const EXTRA: &str = "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: dev
data: {a: b}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_object_is_pruned_and_a_rollback_recreates_it() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &format!(
                "{}{EXTRA}",
                app("dev", "registry.example/web:1.0", "busybox:1.36")
            ),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        let extra = || {
            get(
                &env,
                "",
                "v1",
                "ConfigMap",
                "configmaps",
                Some("dev"),
                "extra",
            )
        };
        assert!(extra().await.is_some());

        // Dropped together with a broken image: pruned, then re-created by the rollback.
        repo.env(
            "dev",
            &app("dev", "registry.example/web:2.0-crashloop", "busybox:1.36"),
        );
        let result = single(&env, &repo, &options()).await;
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!(
            revision.outcome,
            Outcome::RolledBack,
            "{}",
            revision.message
        );
        assert_eq!(
            revision
                .pruned
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["extra"]
        );
        let back = extra().await.expect("re-created by the rollback");
        assert_eq!(back["data"], json!({"a": "b"}));

        // Dropped with a good image: pruned for good.
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.1", "busybox:1.36"),
        );
        let result = single(&env, &repo, &options()).await;
        assert_eq!(outcome(&result), Some(Outcome::Succeeded), "{result:?}");
        assert!(extra().await.is_none(), "pruned");
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_an_earlier_revision_redeploys_its_manifests_as_a_new_revision() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.1", "busybox:1.36"),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        assert_eq!(
            image(&deployment(&env, "dev").await.unwrap()),
            "registry.example/web:1.1"
        );

        let list = crate::history::store::list(&env.cluster, "gitops-system", "dev")
            .await
            .unwrap();
        assert_eq!(
            crate::history::revision::default_rollback_target(&list),
            Some(1)
        );
        let one = crate::history::store::get(&env.cluster, "gitops-system", "dev", 1)
            .await
            .unwrap();
        let config = repo.config();
        let request = RingRequest {
            config: &config,
            ring: &config.rings[0],
            cluster: &env.cluster,
            plan: PlanSource::Manifests(one.manifests),
            git: GitState {
                commit: one.commit.clone(),
                dirty: false,
            },
            approved: true,
            options: Options {
                trigger: "rollback --to 1".into(),
                ..options()
            },
        };
        let result = run_ring(
            request,
            &|_, _| None,
            &Recorder::default(),
            &Cancel::never(),
        )
        .await;
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!((revision.number, revision.outcome), (3, Outcome::Succeeded));
        assert_eq!(
            image(&deployment(&env, "dev").await.unwrap()),
            "registry.example/web:1.0"
        );
        let list = crate::history::store::list(&env.cluster, "gitops-system", "dev")
            .await
            .unwrap();
        assert_eq!(
            list.iter().map(|s| s.trigger.as_str()).collect::<Vec<_>>(),
            ["apply", "apply", "rollback --to 1"]
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_is_refused_naming_the_moved_object() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        assert_eq!(
            outcome(&single(&env, &repo, &options()).await),
            Some(Outcome::Succeeded)
        );
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.1", "busybox:1.36"),
        );
        let config = repo.config();
        let ring = &config.rings[0];
        let plan = crate::plan::pipeline::plan_ring(
            &env.cluster,
            &config,
            ring,
            GitState::default(),
            &crate::plan::Masker::random(),
            &|| {},
        )
        .await
        .expect("plan");
        // Someone edits the ConfigMap after the plan was saved.
        let cm_kind = builtin_kind("", "v1", "ConfigMap", "configmaps", true);
        let cm = ObjectRef::new(
            "",
            Some("v1".into()),
            "ConfigMap",
            Some("dev".into()),
            "settings",
        );
        let mut live = env.cluster.read(&cm_kind, &cm).await.unwrap().unwrap();
        live["data"]["extra"] = json!("hand edit");
        env.cluster.replace(&cm_kind, &cm, &live).await.unwrap();

        let request = RingRequest {
            config: &config,
            ring,
            cluster: &env.cluster,
            plan: PlanSource::Saved(&plan),
            git: GitState::default(),
            approved: true,
            options: Options {
                check_stale: true,
                ..options()
            },
        };
        let result = run_ring(
            request,
            &|_, _| None,
            &Recorder::default(),
            &Cancel::never(),
        )
        .await;
        let RingResult::Error { reason } = &result else {
            panic!("refused: {result:?}")
        };
        assert!(
            reason.contains("stale") && reason.contains("ConfigMap dev/settings"),
            "{reason}"
        );
        assert_eq!(
            image(&deployment(&env, "dev").await.unwrap()),
            "registry.example/web:1.0",
            "nothing applied"
        );
        assert_eq!(
            crate::history::store::list(&env.cluster, "gitops-system", "dev")
                .await
                .unwrap()
                .len(),
            1
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_custom_resource_apply_in_one_run() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gear
  namespace: dev
spec: {teeth: 12}
",
        );
        let result = single(&env, &repo, &options()).await;
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!(revision.outcome, Outcome::Succeeded, "{}", revision.message);
        assert_eq!(
            revision.gates.first().map(|g| g.phase.as_str()),
            Some("crds")
        );
        let widget = get(
            &env,
            "example.com",
            "v1",
            "Widget",
            "widgets",
            Some("dev"),
            "gear",
        )
        .await
        .expect("widget");
        assert_eq!(widget["spec"]["teeth"], 12);
    })
    .await
    .expect("test timed out");
}

/// A sandbox whose API answers through the fault layer with `spec`.
fn start_faulty_sandbox(spec: &str) -> (Env, gitops_sandbox::faults::FaultHandle) {
    let sandbox = gitops_sandbox::Sandbox::new();
    let controllers = gitops_sandbox::controllers::Controllers::new(
        sandbox.store().clone(),
        gitops_sandbox::clock::Clock::real(TIME_SCALE),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controllers.run(async move {
        let _ = stopped.await;
    }));
    let handle = gitops_sandbox::faults::FaultHandle::new(
        gitops_sandbox::faults::FaultConfig::parse(spec).expect("fault spec"),
    );
    let service = tower::Layer::layer(
        &gitops_sandbox::faults::FaultLayer::new(handle.clone()),
        sandbox.service(),
    );
    let client = kube::Client::new(service, "default");
    let cluster = Cluster::from_client(
        client,
        ClusterInfo {
            server: "in-process sandbox".into(),
            context: None,
        },
        "the sandbox",
    );
    (
        Env {
            cluster,
            _stop: stop,
        },
        handle,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_api_faults_are_retried_and_a_persistent_one_fails_cleanly_with_rollback() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // A quarter of reads and applies answer 503: retried, the ring goes green.
        let (env, faults) =
            start_faulty_sandbox("seed=7;verb=get|list|patch,error=0.25,status=503");
        let repo = Repo::new(ONE_RING);
        repo.env(
            "dev",
            &app("dev", "registry.example/web:1.0", "busybox:1.36"),
        );
        let result = single(&env, &repo, &options()).await;
        assert_eq!(outcome(&result), Some(Outcome::Succeeded), "{result:?}");

        // Planned without faults; then every apply of a Deployment fails mid-apply: the ring
        // stops, what it changed is rolled back, and the record says so.
        repo.env(
            "dev",
            &format!(
                "{}{}",
                app("dev", "registry.example/web:1.1", "busybox:1.36"),
                EXTRA
            ),
        );
        let config = repo.config();
        let plan = crate::plan::pipeline::plan_ring(
            &env.cluster,
            &config,
            &config.rings[0],
            GitState::default(),
            &crate::plan::Masker::random(),
            &|| {},
        )
        .await
        .expect("plan");
        faults.set(
            gitops_sandbox::faults::FaultConfig::parse(
                "verb=patch,resource=deployments,error=1,status=500",
            )
            .expect("spec"),
        );
        let request = RingRequest {
            config: &config,
            ring: &config.rings[0],
            cluster: &env.cluster,
            plan: PlanSource::Saved(&plan),
            git: GitState::default(),
            approved: true,
            options: options(),
        };
        let result = run_ring(
            request,
            &|_, _| None,
            &Recorder::default(),
            &Cancel::never(),
        )
        .await;
        let RingResult::Ran {
            revision,
            record_error,
        } = &result
        else {
            panic!("ran: {result:?}")
        };
        assert_eq!(record_error, &None);
        // No gate failed: the record says the apply call failed and was undone, and the exit
        // code is 1 (an error), not 3 (a failed gate), as DESIGN.md §2 has it.
        assert_eq!(
            revision.outcome,
            Outcome::ErrorRolledBack,
            "{}",
            revision.message
        );
        assert!(
            revision.message.contains("Deployment dev/web")
                && revision.message.contains("injected fault")
                && revision
                    .message
                    .contains("rolled back to the objects before the run"),
            "the record names the failed apply and the rollback: {}",
            revision.message
        );
        assert!(
            revision
                .rollback
                .as_ref()
                .is_some_and(|r| r.errors.is_empty()),
            "the rollback is recorded: {:?}",
            revision.rollback
        );
        assert_eq!(result.exit(), crate::exit::Exit::Error);
        faults.set(gitops_sandbox::faults::FaultConfig::none());
        assert!(
            get(
                &env,
                "",
                "v1",
                "ConfigMap",
                "configmaps",
                Some("dev"),
                "extra"
            )
            .await
            .is_none(),
            "the created ConfigMap is deleted again"
        );
        assert_eq!(
            image(&deployment(&env, "dev").await.unwrap()),
            "registry.example/web:1.0"
        );
        let list = crate::history::store::list(&env.cluster, "gitops-system", "dev")
            .await
            .unwrap();
        assert_eq!(
            list.last().map(|s| s.outcome),
            Some(Outcome::ErrorRolledBack)
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_during_the_gate_releases_the_lock_and_records_the_run_as_interrupted() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let env = start_sandbox();
        let repo = Repo::new(ONE_RING);
        // A claim of a storage class that does not exist never binds: the gate waits.
        repo.env(
            "dev",
            "apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: dev
spec:
  storageClassName: no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
",
        );
        let config = repo.config();
        let (trigger, cancel) = crate::apply::cancel::pair();
        let request = RingRequest {
            config: &config,
            ring: &config.rings[0],
            cluster: &env.cluster,
            plan: PlanSource::Fresh,
            git: GitState::default(),
            approved: true,
            options: options(),
        };
        let firing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            trigger.fire();
        });
        let result = run_ring(request, &|_, _| None, &Recorder::default(), &cancel).await;
        firing.await.unwrap();
        let RingResult::Ran { revision, .. } = &result else {
            panic!("ran: {result:?}")
        };
        assert_eq!(
            revision.outcome,
            Outcome::Interrupted,
            "{}",
            revision.message
        );
        assert!(
            revision.message.contains("health gate"),
            "{}",
            revision.message
        );
        assert!(
            get(
                &env,
                "coordination.k8s.io",
                "v1",
                "Lease",
                "leases",
                Some("gitops-system"),
                "gitops-lock-dev"
            )
            .await
            .is_none(),
            "lock released"
        );
        let list = crate::history::store::list(&env.cluster, "gitops-system", "dev")
            .await
            .unwrap();
        assert_eq!(
            list.iter().map(|s| s.outcome).collect::<Vec<_>>(),
            [Outcome::Interrupted]
        );
    })
    .await
    .expect("test timed out");
}
