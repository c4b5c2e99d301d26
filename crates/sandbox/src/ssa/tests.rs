//! Server-side apply tests, written from the examples of
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/>.

use serde_json::{Value, json};

use super::*;

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-01-01T00:01:00Z";

fn y(text: &str) -> Value {
    gitops_manifest::yaml::from_str(text).expect("test YAML parses")
}

fn deploy_gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn opts(manager: &str) -> ApplyOptions<'_> {
    ApplyOptions {
        manager,
        force: false,
        time: T1,
        scope: Scope::Main,
    }
}

fn forced(manager: &str) -> ApplyOptions<'_> {
    ApplyOptions {
        manager,
        force: true,
        time: T2,
        scope: Scope::Main,
    }
}

fn deployment(replicas: u32, extra_spec: &str) -> Value {
    y(&format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: web:1
{extra_spec}
"#
    ))
}

fn entry<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

fn owns(object: &Value, manager: &str, pointer: &str) -> bool {
    entry(object, manager)
        .and_then(|e| e["fieldsV1"].pointer(pointer))
        .is_some()
}

// "Field management": the doc's ConfigMap applied by manager `test`.
#[test]
fn apply_records_the_managers_fields_in_fields_v1() {
    let cm = y(r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: test-cm, namespace: default, labels: {test-label: test}}
data: {key: some value}
"#);
    let out = apply(None, &cm, &Gvk::new("", "v1", "ConfigMap"), &opts("test")).expect("applies");
    let managed = &out["metadata"]["managedFields"];
    assert_eq!(
        managed,
        &json!([{
            "manager": "test", "operation": "Apply", "apiVersion": "v1", "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}, "f:data": {"f:key": {}}}
        }])
    );
    assert_eq!(out["data"]["key"], "some value");
}

#[test]
fn list_items_are_keyed_and_members_themselves() {
    let out = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("gitops")).expect("applies");
    let fields = &entry(&out, "gitops").expect("entry")["fieldsV1"];
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({r#"k:{"name":"web"}"#: {".": {}, "f:image": {}, "f:name": {}}})
    );
    // The selector is atomic: owned as a whole.
    assert_eq!(fields["f:spec"]["f:selector"], json!({}));
}

// "Conflicts": a field another manager set to a different value.
#[test]
fn a_different_value_for_another_managers_field_is_a_conflict() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    let err =
        apply(Some(&live), &deployment(3, ""), &deploy_gvk(), &opts("bob")).expect_err("conflicts");
    assert_eq!(err.status_code(), 409);
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "alice": .spec.replicas"#
    );
    assert_eq!(
        err.causes(),
        vec![(
            "FieldManagerConflict",
            r#"conflict with "alice""#.into(),
            ".spec.replicas".into()
        )]
    );
}

#[test]
fn every_conflict_is_listed_grouped_by_manager() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    let mut change = deployment(3, "");
    change["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
    let err = apply(Some(&live), &change, &deploy_gvk(), &opts("bob")).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
}

// "Conflicts" / "Overwrite value, become sole manager": force takes the field.
#[test]
fn force_takes_ownership_of_conflicting_fields() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    let out = apply(
        Some(&live),
        &deployment(3, ""),
        &deploy_gvk(),
        &forced("bob"),
    )
    .expect("forced");
    assert_eq!(out["spec"]["replicas"], 3);
    assert!(owns(&out, "bob", "/f:spec/f:replicas"));
    assert!(!owns(&out, "alice", "/f:spec/f:replicas"));
    // Alice keeps what was not contested (and bob shares it).
    assert!(owns(&out, "alice", "/f:spec/f:selector"));
    assert!(owns(&out, "bob", "/f:spec/f:selector"));
}

// "Overwrite value, share ownership": the same value is shared, not a conflict.
#[test]
fn equal_values_are_shared_ownership() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    let out =
        apply(Some(&live), &deployment(2, ""), &deploy_gvk(), &opts("bob")).expect("no conflict");
    assert!(owns(&out, "alice", "/f:spec/f:replicas"));
    assert!(owns(&out, "bob", "/f:spec/f:replicas"));
}

// "Merge strategy" and field removal: a field dropped from the configuration is removed
// when no other manager owns it, and kept when one does.
#[test]
fn fields_dropped_from_the_configuration_are_removed_unless_owned_elsewhere() {
    let with_label = |labels: &str| {
        let mut d = deployment(2, "");
        d["metadata"]["labels"] = y(labels);
        d
    };
    let live = apply(
        None,
        &with_label("{a: '1', b: '2'}"),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    let out = apply(
        Some(&live),
        &with_label("{a: '1'}"),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));

    let shared = apply(
        Some(&live),
        &with_label("{b: '2'}"),
        &deploy_gvk(),
        &opts("bob"),
    )
    .expect("shares b");
    let out = apply(
        Some(&shared),
        &with_label("{a: '1'}"),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    assert_eq!(out["metadata"]["labels"], json!({"a": "1", "b": "2"}));
    // Dropping every label removes the emptied map too.
    let out = apply(
        Some(&live),
        &deployment(2, ""),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    assert!(
        out["metadata"].get("labels").is_none(),
        "{}",
        out["metadata"]
    );
}

#[test]
fn fields_nobody_applied_are_never_removed() {
    let mut live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    // A defaulted field (no owner).
    live["spec"]["revisionHistoryLimit"] = json!(10);
    let out = apply(
        Some(&live),
        &deployment(2, ""),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    assert_eq!(out["spec"]["revisionHistoryLimit"], 10);
}

// Lists of type map merge by key: each manager owns its own items.
#[test]
fn list_items_merge_by_key_across_managers() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("alice")).expect("applies");
    let sidecar = y(r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  template:
    spec:
      containers:
      - {name: sidecar, image: proxy:1, ports: [{containerPort: 15001}]}
"#);
    let out = apply(Some(&live), &sidecar, &deploy_gvk(), &opts("mesh")).expect("no conflict");
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["web", "sidecar"]);
    // Container ports are keyed by (containerPort, protocol), protocol defaulting to TCP.
    assert!(owns(
        &out,
        "mesh",
        "/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"sidecar\"}/f:ports/k:{\"containerPort\":15001,\"protocol\":\"TCP\"}"
    ));
    // Alice drops nothing of the sidecar by re-applying her own config.
    let again = apply(
        Some(&out),
        &deployment(2, ""),
        &deploy_gvk(),
        &opts("alice"),
    )
    .expect("applies");
    assert_eq!(
        again["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // The mesh removing its sidecar removes the item.
    let mut gone = sidecar.clone();
    gone["spec"]["template"]["spec"]["containers"] = json!([]);
    let out = apply(Some(&again), &gone, &deploy_gvk(), &opts("mesh")).expect("applies");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

// `kubectl scale` (an Update) takes replicas; the next apply conflicts on them.
#[test]
fn an_update_takes_fields_and_the_next_apply_conflicts() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("gitops")).expect("applies");
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(0);
    let scaled = record_update(
        Some(&live),
        &scaled,
        &deploy_gvk(),
        "kubectl",
        T2,
        Scope::Main,
    )
    .expect("records");
    assert!(owns(&scaled, "kubectl", "/f:spec/f:replicas"));
    assert!(!owns(&scaled, "gitops", "/f:spec/f:replicas"));
    assert_eq!(
        entry(&scaled, "kubectl").expect("entry")["operation"],
        "Update"
    );

    let err = apply(
        Some(&scaled),
        &deployment(2, ""),
        &deploy_gvk(),
        &opts("gitops"),
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas"#
    );
    let out = apply(
        Some(&scaled),
        &deployment(2, ""),
        &deploy_gvk(),
        &forced("gitops"),
    )
    .expect("forced");
    assert_eq!(out["spec"]["replicas"], 2);
    // The updater owned nothing else, so its entry is gone.
    assert!(entry(&out, "kubectl").is_none());
}

#[test]
fn create_records_every_field_and_a_noop_update_changes_nothing() {
    let created = record_update(
        None,
        &deployment(1, ""),
        &deploy_gvk(),
        "kubectl-create",
        T1,
        Scope::Main,
    )
    .expect("records");
    assert!(owns(&created, "kubectl-create", "/f:spec/f:replicas"));
    assert!(owns(
        &created,
        "kubectl-create",
        "/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"web\"}/f:image"
    ));
    let same = record_update(
        Some(&created),
        &created,
        &deploy_gvk(),
        "kubectl-create",
        T2,
        Scope::Main,
    )
    .expect("records");
    assert_eq!(
        same["metadata"]["managedFields"],
        created["metadata"]["managedFields"]
    );
}

#[test]
fn the_first_apply_to_an_unmanaged_object_conflicts_with_before_first_apply() {
    let legacy = deployment(5, "");
    let err = apply(
        Some(&legacy),
        &deployment(2, ""),
        &deploy_gvk(),
        &opts("gitops"),
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas"#
    );
}

// Lists of type set (finalizers): each value owned separately, union of the managers' values.
#[test]
fn set_lists_union_values_of_managers() {
    let cm = |finalizers: &str| {
        y(&format!(
            "{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c, finalizers: {finalizers}}}}}"
        ))
    };
    let gvk = Gvk::new("", "v1", "ConfigMap");
    let live = apply(None, &cm("[a.io/x]"), &gvk, &opts("one")).expect("applies");
    let out = apply(Some(&live), &cm("[b.io/y]"), &gvk, &opts("two")).expect("applies");
    assert_eq!(out["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
    // `~1` is `/` in a JSON pointer.
    assert!(owns(&out, "two", "/f:metadata/f:finalizers/v:\"b.io~1y\""));
    assert!(!owns(&out, "two", "/f:metadata/f:finalizers/v:\"a.io~1x\""));
}

#[test]
fn status_is_neither_applied_nor_owned_on_the_main_resource() {
    let mut d = deployment(1, "");
    d["status"] = json!({"replicas": 7});
    let out = apply(None, &d, &deploy_gvk(), &opts("gitops")).expect("applies");
    assert!(out.get("status").is_none());
    assert!(!owns(&out, "gitops", "/f:status"));
}

#[test]
fn fields_v1_round_trips_with_dot_members() {
    let fields = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}
    });
    let set = FieldSet::from_fields_v1(&fields).expect("parses");
    assert_eq!(set.len(), 4);
    assert_eq!(set.to_fields_v1(), fields);
    assert!(FieldSet::from_fields_v1(&json!({"x:bad": {}})).is_err());
}

#[test]
fn a_list_item_without_its_key_is_rejected() {
    let mut d = deployment(1, "");
    d["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let err = apply(None, &d, &deploy_gvk(), &opts("gitops")).expect_err("no name");
    assert_eq!(err.status_code(), 422);
    assert!(
        err.to_string().contains("omits key field \"name\""),
        "{err}"
    );
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("gitops")).expect("applies");
    let again = apply(
        Some(&live),
        &deployment(2, ""),
        &deploy_gvk(),
        &forced("gitops"),
    )
    .expect("applies");
    assert_eq!(again, live);
    // A real change records the new time.
    let changed = apply(
        Some(&live),
        &deployment(3, ""),
        &deploy_gvk(),
        &forced("gitops"),
    )
    .expect("applies");
    assert_eq!(entry(&changed, "gitops").expect("entry")["time"], T2);
}

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields
#[test]
fn an_empty_list_keeps_managed_fields_and_one_empty_entry_clears_them() {
    let live = apply(None, &deployment(2, ""), &deploy_gvk(), &opts("gitops")).expect("applies");
    let mut sent = live.clone();
    sent["metadata"]["managedFields"] = json!([]);
    let kept = record_update(
        Some(&live),
        &sent,
        &deploy_gvk(),
        "kubectl-edit",
        T2,
        Scope::Main,
    )
    .expect("records");
    assert_eq!(
        kept["metadata"]["managedFields"],
        live["metadata"]["managedFields"]
    );
    sent["metadata"]["managedFields"] = json!([{}]);
    let cleared = record_update(
        Some(&live),
        &sent,
        &deploy_gvk(),
        "kubectl-edit",
        T2,
        Scope::Main,
    )
    .expect("records");
    assert!(cleared["metadata"].get("managedFields").is_none());
}
