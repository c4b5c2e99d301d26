//! The plan against the sandbox's in-process API: the same `kube::Client` path as a real cluster.

use std::collections::BTreeSet;
use std::time::Duration;

use gitops_manifest::ObjectRef;
use serde_json::{Value, json};

use super::compute::{RingContext, ring_plan};
use super::inventory::{Inventory, applyset_id, label_member, parent_ref};
use super::pipeline::check_stale;
use super::{ChangeOp, ClusterInfo, GitState, Masker, Plan, Prediction, RingPlan, SCHEMA_VERSION};
use crate::cluster::Cluster;
use crate::cluster::apply_calls::{namespace_kind, secret_kind};
use crate::cluster::observe::{ObserveError, Rendered};
use crate::output::ci::{self, Annotation, Ci};
use crate::output::{json as json_view, markdown, text};

const RING: &str = "dev";
const HISTORY: &str = "gitops-system";
const SECRET_VALUE: &str = "hunter2-very-secret";
const NEW_SECRET_VALUE: &str = "correct-horse-battery";

fn sandbox() -> Cluster {
    let sandbox = gitops_sandbox::Sandbox::new();
    let client = kube::Client::new(sandbox.service(), "default");
    Cluster::from_client(
        client,
        ClusterInfo {
            server: "in-process sandbox".into(),
            context: None,
        },
        "the sandbox",
    )
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the test took over 60 s")
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"}, "data": data})
}

fn secret(value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
           "type": "Opaque", "stringData": {"password": value}})
}

fn deployment(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]}
            }
        }
    })
}

fn rendered(objects: &[Value]) -> Vec<Rendered> {
    objects
        .iter()
        .map(|o| Rendered {
            object: o.clone(),
            source: Some("base/app.yaml".into()),
            line: Some(3),
        })
        .collect()
}

/// Apply `objects` as gitops would (members labelled, forced SSA) and record the inventory.
async fn apply_ring(cluster: &Cluster, objects: &[Value]) {
    let parent = parent_ref(RING, HISTORY);
    let id = applyset_id(&parent);
    let mut ids = Vec::new();
    for object in objects {
        let mut object = object.clone();
        label_member(&mut object, &id);
        let oid = ObjectRef::from_value(&object).unwrap();
        let gvs = BTreeSet::from([(oid.group.clone(), oid.version.clone().unwrap())]);
        let kinds = cluster.kinds(&gvs).await.unwrap();
        let kind = kinds
            .get(&oid.group, oid.version.as_deref().unwrap(), &oid.kind)
            .unwrap()
            .clone();
        cluster.apply(&kind, &oid, &object, true).await.unwrap();
        ids.push(oid);
    }
    let inventory = Inventory::for_members(parent.clone(), &ids);
    let ns = ObjectRef::new("", Some("v1".into()), "Namespace", None, HISTORY);
    cluster
        .apply(&namespace_kind(), &ns, &namespace(HISTORY), true)
        .await
        .unwrap();
    let meta = inventory.parent_metadata();
    let parent_object = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": parent.name, "namespace": HISTORY, "labels": meta["labels"], "annotations": meta["annotations"]}});
    cluster
        .apply(&secret_kind(), &parent, &parent_object, true)
        .await
        .unwrap();
}

async fn plan(cluster: &Cluster, objects: &[Value]) -> Result<RingPlan, ObserveError> {
    let parent = parent_ref(RING, HISTORY);
    let id = applyset_id(&parent);
    let observed = cluster
        .observe(rendered(objects), &id, Some(&parent), &|| {})
        .await?;
    let inventory = Inventory::for_members(parent, observed.observations.iter().map(|o| &o.object));
    let context = RingContext {
        ring: RING.into(),
        git: GitState::default(),
        cluster: cluster.info().clone(),
        inventory,
    };
    Ok(ring_plan(
        context,
        observed.observations,
        &observed.pruned,
        &Masker::with_key([9; 32]),
    ))
}

fn op_of(plan: &RingPlan, kind: &str, name: &str) -> ChangeOp {
    plan.changes
        .iter()
        .find(|c| c.object.kind == kind && c.object.name == name)
        .map(|c| c.op)
        .unwrap_or_else(|| panic!("{kind} {name} not in the plan"))
}

fn whole(ring: RingPlan) -> Plan {
    Plan {
        schema_version: SCHEMA_VERSION,
        generated_at: "2026-11-26T18:00:00Z".into(),
        rings: vec![ring],
    }
}

fn errors(e: ObserveError) -> Vec<String> {
    match e {
        ObserveError::Cluster(e) => vec![e.to_string()],
        ObserveError::Objects(f) => f.iter().map(|f| f.error.to_string()).collect(),
    }
}

#[tokio::test]
async fn create_update_delete_unchanged() {
    within(async {
        let cluster = sandbox();
        let before = [
            namespace("shop"),
            config_map("settings", json!({"a": "1"})),
            config_map("old", json!({})),
            deployment("web:1"),
        ];
        apply_ring(&cluster, &before).await;
        let after = [
            namespace("shop"),
            config_map("settings", json!({"a": "2"})),
            config_map("new", json!({})),
            deployment("web:1"),
        ];
        let ring = plan(&cluster, &after).await.unwrap();
        assert_eq!(op_of(&ring, "ConfigMap", "settings"), ChangeOp::Update);
        assert_eq!(op_of(&ring, "ConfigMap", "new"), ChangeOp::Create);
        assert_eq!(op_of(&ring, "ConfigMap", "old"), ChangeOp::Delete);
        assert_eq!(
            op_of(&ring, "Deployment", "web"),
            ChangeOp::Unchanged,
            "server defaults are no change"
        );
        assert_eq!(op_of(&ring, "Namespace", "shop"), ChangeOp::Unchanged);
        assert_eq!(
            (
                ring.summary.create,
                ring.summary.update,
                ring.summary.delete,
                ring.summary.unchanged
            ),
            (1, 1, 1, 2)
        );
        assert_eq!(
            ring.prune
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["old"]
        );
        // Deletions come last.
        assert_eq!(ring.changes.last().map(|c| c.op), Some(ChangeOp::Delete));
        let update = ring
            .changes
            .iter()
            .find(|c| c.object.name == "settings")
            .unwrap();
        let diff =
            crate::output::diff::unified(update.before.as_ref(), update.after.as_ref(), "", false);
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
            .collect();
        assert_eq!(changed.len(), 2, "only data.a changes:\n{diff}");
    })
    .await;
}

#[tokio::test]
async fn an_edit_by_another_manager_shows_exactly_that_field() {
    within(async {
        let cluster = sandbox();
        let objects = [namespace("shop"), deployment("web:1")];
        apply_ring(&cluster, &objects).await;
        // `kubectl scale`-like edit by another field manager.
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            kube_client(&cluster),
            "shop",
            &kube::core::ApiResource::from_gvk_with_plural(
                &kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment"),
                "deployments",
            ),
        );
        let params = kube::api::PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        };
        api.patch(
            "web",
            &params,
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();

        let ring = plan(&cluster, &objects).await.unwrap();
        let change = ring
            .changes
            .iter()
            .find(|c| c.object.kind == "Deployment")
            .unwrap();
        assert_eq!(change.op, ChangeOp::Update);
        assert_eq!(change.taken_from.len(), 1, "{:?}", change.taken_from);
        assert_eq!(change.taken_from[0].manager, "kubectl-edit");
        assert_eq!(change.taken_from[0].fields, [".spec.replicas"]);
        let diff =
            crate::output::diff::unified(change.before.as_ref(), change.after.as_ref(), "", false);
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert_eq!(changed, ["-  replicas: 5", "+  replicas: 2"], "{diff}");
    })
    .await;
}

/// The password of a Secret: in `data` as a real API server returns it (`stringData` is
/// write-only, <https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data>),
/// or in `stringData` if an emulator keeps it there.
fn password(secret: &Value) -> String {
    let value = secret
        .pointer("/data/password")
        .or_else(|| secret.pointer("/stringData/password"));
    value
        .and_then(Value::as_str)
        .expect("a password field")
        .to_string()
}

fn kube_client(cluster: &Cluster) -> kube::Client {
    cluster.client().clone()
}

#[tokio::test]
async fn secrets_are_masked_in_text_json_and_markdown() {
    within(async {
        let cluster = sandbox();
        apply_ring(&cluster, &[namespace("shop"), secret(SECRET_VALUE)]).await;
        let ring = plan(&cluster, &[namespace("shop"), secret(NEW_SECRET_VALUE)])
            .await
            .unwrap();
        let change = ring
            .changes
            .iter()
            .find(|c| c.object.kind == "Secret")
            .unwrap();
        assert_eq!(change.op, ChangeOp::Update);
        let before = password(change.before.as_ref().unwrap());
        let after = password(change.after.as_ref().unwrap());
        assert!(
            before.starts_with(super::mask::MASK_PREFIX)
                && after.starts_with(super::mask::MASK_PREFIX)
        );
        assert_ne!(before, after, "a changed value shows a different mask");

        let plan = whole(ring);
        let views = [
            text::render(&plan, text::TextStyle::default()),
            json_view::render(&plan).unwrap(),
            markdown::render(&plan),
        ];
        use base64::Engine as _;
        for secret in [SECRET_VALUE, NEW_SECRET_VALUE] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            for view in &views {
                assert!(
                    !view.contains(secret) && !view.contains(&encoded),
                    "secret leaked into:\n{view}"
                );
            }
        }
        assert!(views[0].contains(&before) && views[0].contains(&after));
    })
    .await;
}

#[tokio::test]
async fn an_unchanged_secret_keeps_its_mask() {
    within(async {
        let cluster = sandbox();
        apply_ring(&cluster, &[namespace("shop"), secret(SECRET_VALUE)]).await;
        let ring = plan(&cluster, &[namespace("shop"), secret(SECRET_VALUE)])
            .await
            .unwrap();
        assert_eq!(op_of(&ring, "Secret", "db"), ChangeOp::Unchanged);
    })
    .await;
}

#[tokio::test]
async fn staleness_names_the_objects_that_moved() {
    within(async {
        let cluster = sandbox();
        let objects = [
            namespace("shop"),
            config_map("settings", json!({"a": "1"})),
            config_map("keep", json!({})),
        ];
        apply_ring(&cluster, &objects).await;
        let ring = plan(
            &cluster,
            &[
                namespace("shop"),
                config_map("settings", json!({"a": "2"})),
                config_map("keep", json!({})),
                config_map("late", json!({})),
            ],
        )
        .await
        .unwrap();
        assert!(
            check_stale(&cluster, &ring).await.unwrap().is_empty(),
            "nothing moved yet"
        );

        // Someone edits `settings` and creates `late` behind the plan's back.
        apply_ring(
            &cluster,
            &[
                namespace("shop"),
                config_map("settings", json!({"a": "3"})),
                config_map("keep", json!({})),
                config_map("late", json!({"x": "y"})),
            ],
        )
        .await;
        let moved: Vec<String> = check_stale(&cluster, &ring)
            .await
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(moved.len(), 2, "{moved:?}");
        assert!(
            moved[0].starts_with("`ConfigMap shop/late` was created since the plan"),
            "{moved:?}"
        );
        assert!(
            moved[1].starts_with("`ConfigMap shop/settings` changed since the plan"),
            "{moved:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_misspelled_field_fails_the_plan_naming_the_field_and_file() {
    within(async {
        let cluster = sandbox();
        apply_ring(&cluster, &[namespace("shop")]).await;
        let mut bad = deployment("web:1");
        bad["spec"]["replicass"] = json!(3);
        let errs = errors(
            plan(&cluster, &[namespace("shop"), bad])
                .await
                .expect_err("the plan must fail"),
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("`apps/Deployment shop/web` (from `base/app.yaml`)"),
            "{errs:?}"
        );
        assert!(errs[0].contains("replicass"), "{errs:?}");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kind_is_an_error_and_a_crd_in_the_render_is_a_create_without_dry_run() {
    within(async {
        let cluster = sandbox();
        apply_ring(&cluster, &[namespace("shop")]).await;
        let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 1}});
        let errs = errors(plan(&cluster, &[namespace("shop"), widget.clone()]).await.expect_err("unknown kind"));
        assert_eq!(
            errs,
            ["`example.com/Widget shop/w` (from `base/app.yaml`): the cluster does not serve kind `Widget` in `example.com/v1`, and no CustomResourceDefinition in the render defines it"]
        );
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
        let ring = plan(&cluster, &[namespace("shop"), crd, widget]).await.unwrap();
        let w = ring.changes.iter().find(|c| c.object.kind == "Widget").unwrap();
        assert_eq!((w.op, w.prediction), (ChangeOp::Create, Prediction::Rendered));
        assert!(w.note.as_deref().unwrap().contains("`widgets.example.com` is created by this plan"));
        let text = text::render(&whole(ring), text::TextStyle::default());
        assert!(text.contains("note: not dry-run: its CustomResourceDefinition `widgets.example.com` is created by this plan"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_namespace_neither_on_the_cluster_nor_rendered_is_an_error() {
    within(async {
        let cluster = sandbox();
        let errs = errors(plan(&cluster, &[config_map("settings", json!({}))]).await.expect_err("missing namespace"));
        assert_eq!(errs, ["`ConfigMap shop/settings` (from `base/app.yaml`): namespace `shop` does not exist on the cluster and is not rendered"]);
    })
    .await;
}

#[tokio::test]
async fn ci_outputs_under_azure_devops_and_github_actions() {
    within(async {
        let cluster = sandbox();
        apply_ring(
            &cluster,
            &[namespace("shop"), config_map("settings", json!({"a": "1"}))],
        )
        .await;
        let ring = plan(
            &cluster,
            &[namespace("shop"), config_map("settings", json!({"a": "2"}))],
        )
        .await
        .unwrap();
        let plan = whole(ring);
        let md = markdown::render(&plan);
        let dir = std::path::Path::new("/agent/tmp");

        let azure = Ci::AzureDevOps {
            summary_dir: Some(dir.to_path_buf()),
        };
        let report = ci::plan_report(&azure, &plan, &md, std::path::Path::new("/repo/.gitops"));
        insta::assert_snapshot!("azure_plan_stdout", report.stdout);
        assert_eq!(
            report.appends,
            vec![(dir.join("gitops-plan.md"), md.clone())]
        );
        let grouped = text::render(
            &plan,
            text::TextStyle {
                colour: false,
                azure_groups: true,
            },
        );
        insta::assert_snapshot!("azure_plan_text", grouped);

        let github = Ci::GitHubActions {
            output: Some("/gh/output".into()),
            summary: Some("/gh/summary".into()),
        };
        let report = ci::plan_report(&github, &plan, &md, std::path::Path::new("/repo/.gitops"));
        assert_eq!(report.stdout, "");
        insta::assert_snapshot!("github_output_file", report.appends[0].1);
        assert_eq!(report.appends[1], ("/gh/summary".into(), md.clone()));
        insta::assert_snapshot!("markdown_summary", md);

        let error = [Annotation {
            file: Some("base/app.yaml".into()),
            line: Some(3),
            message: "`apps/Deployment shop/web`: unknown field \"spec.replicass\"".into(),
        }];
        insta::assert_snapshot!("azure_error", ci::error_report(&azure, &error).stdout);
        insta::assert_snapshot!("github_error", ci::error_report(&github, &error).stdout);
    })
    .await;
}

#[tokio::test]
async fn a_crowded_namespace_is_read_with_one_list_and_planned_the_same() {
    within(async {
        use crate::cluster::live::LIST_AT_LEAST;
        let cluster = sandbox();
        let n = LIST_AT_LEAST + 4;
        let cm = |i: usize, v: &str| config_map(&format!("cm-{i:02}"), json!({"v": v}));
        let mut before = vec![namespace("shop"), config_map("old", json!({}))];
        before.extend((0..n).map(|i| cm(i, "1")));
        apply_ring(&cluster, &before).await;
        // Not ours: in the listed namespace, neither rendered nor a member of the ring.
        let foreign = config_map("not-ours", json!({"x": "y"}));
        let foreign_id = ObjectRef::from_value(&foreign).unwrap();
        let gvs = BTreeSet::from([(String::new(), "v1".to_string())]);
        let kinds = cluster.kinds(&gvs).await.unwrap();
        let cm_kind = kinds.get("", "v1", "ConfigMap").unwrap().clone();
        let ns_kind = kinds.get("", "v1", "Namespace").unwrap().clone();
        cluster
            .apply(&cm_kind, &foreign_id, &foreign, true)
            .await
            .unwrap();

        let mut after = vec![namespace("shop")];
        after.extend((0..n).map(|i| cm(i, if i == 3 { "2" } else { "1" })));
        after.extend((n..n + 2).map(|i| cm(i, "1")));

        // The ConfigMaps' namespace is listed once; the lone Namespace is read with a GET.
        let id = applyset_id(&parent_ref(RING, HISTORY));
        let ids: Vec<ObjectRef> = after
            .iter()
            .map(|o| ObjectRef::from_value(o).unwrap())
            .collect();
        let pairs = ids.iter().map(|id| {
            let kind = if id.kind == "Namespace" {
                &ns_kind
            } else {
                &cm_kind
            };
            (kind, id)
        });
        let mut lists = cluster.list_live(pairs, &id).await.unwrap();
        let live = lists
            .take(&cm_kind, &ids[1])
            .expect("listed")
            .expect("exists");
        assert_eq!(live["data"]["v"], "1");
        assert_eq!(live["kind"], "ConfigMap", "list items are whole objects");
        assert_eq!(
            lists.take(&cm_kind, &ids[n + 1]),
            Some(None),
            "not created yet"
        );
        assert_eq!(
            lists.take(&ns_kind, &ids[0]),
            None,
            "one Namespace is not listed"
        );
        let members: Vec<&str> = lists
            .unrendered_members(&id, &cm_kind, Some("shop"))
            .unwrap()
            .iter()
            .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        assert_eq!(
            members,
            ["old"],
            "a member that is no longer rendered, not the foreign one"
        );

        let ring = plan(&cluster, &after).await.unwrap();
        assert_eq!(op_of(&ring, "ConfigMap", "cm-03"), ChangeOp::Update);
        assert_eq!(op_of(&ring, "ConfigMap", "cm-00"), ChangeOp::Unchanged);
        assert_eq!(
            op_of(&ring, "ConfigMap", &format!("cm-{n:02}")),
            ChangeOp::Create
        );
        assert_eq!(op_of(&ring, "ConfigMap", "old"), ChangeOp::Delete);
        assert!(ring.changes.iter().all(|c| c.object.name != "not-ours"));
        assert_eq!(
            (
                ring.summary.create,
                ring.summary.update,
                ring.summary.delete,
                ring.summary.unchanged
            ),
            (2, 1, 1, n)
        );
        let update = ring
            .changes
            .iter()
            .find(|c| c.object.name == "cm-03")
            .unwrap();
        assert_eq!(update.after.as_ref().unwrap()["data"]["v"], "2");
        assert_eq!(update.before.as_ref().unwrap()["data"]["v"], "1");
        assert!(
            update.live.is_some(),
            "bound to the listed object's uid and resourceVersion"
        );
    })
    .await;
}
