//! Tests of strategic merge patch, many from the Kubernetes documentation's examples.

use serde_json::{Value, json};

use super::*;
use crate::merge_keys::Gvk;

fn y(text: &str) -> Value {
    crate::yaml::from_str(text).expect("test YAML parses")
}

fn deployment() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn patch(target: &str, patch: &str, gvk: &Gvk) -> Value {
    apply_strategic_merge(&y(target), &y(patch), gvk).expect("patch applies")
}

const PATCH_DEMO: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: patch-demo}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: patch-demo-ctr
        image: nginx
      tolerations:
      - effect: NoSchedule
        key: dedicated
        value: test-team
"#;

fn containers(v: &Value) -> Vec<&str> {
    v["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect()
}

// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/#use-a-strategic-merge-patch-to-update-a-deployment
#[test]
fn doc_example_adds_a_container_and_keeps_the_existing_one() {
    let out = patch(
        PATCH_DEMO,
        "spec: {template: {spec: {containers: [{name: patch-demo-ctr-2, image: redis}]}}}",
        &deployment(),
    );
    // The documented output lists the new container first.
    assert_eq!(containers(&out), ["patch-demo-ctr-2", "patch-demo-ctr"]);
    assert_eq!(out["spec"]["replicas"], 2);
}

// Same page: "the tolerations list was replaced, not merged" (no patchStrategy).
#[test]
fn doc_example_replaces_tolerations() {
    let out = patch(
        PATCH_DEMO,
        "spec: {template: {spec: {tolerations: [{effect: NoSchedule, key: disktype, value: ssd}]}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}])
    );
}

#[test]
fn merging_an_existing_item_keeps_its_other_fields_and_the_order() {
    let target = r#"
spec:
  template:
    spec:
      containers:
      - {name: a, image: a:1, env: [{name: X, value: "1"}, {name: B, value: "2"}]}
      - {name: b, image: b:1}
"#;
    let out = patch(
        target,
        "spec: {template: {spec: {containers: [{name: b, image: b:2}]}}}",
        &deployment(),
    );
    assert_eq!(containers(&out), ["a", "b"]);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1]["image"],
        "b:2"
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"],
        "2"
    );

    let out = patch(
        target,
        "spec: {template: {spec: {containers: [{name: a, env: [{name: B, value: '3'}, {name: Z, value: '4'}]}]}}}",
        &deployment(),
    );
    let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([{"name": "X", "value": "1"}, {"name": "B", "value": "3"}, {"name": "Z", "value": "4"}])
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "a:1"
    );
}

#[test]
fn null_deletes_a_key_and_nested_nulls_in_new_values_are_dropped() {
    let out = patch(
        "metadata: {name: x, labels: {a: '1', b: '2'}}\nspec: {replicas: 3}",
        "metadata: {labels: {a: null, c: '3'}}\nspec: {replicas: null, paused: true, strategy: {type: Recreate, x: null}}",
        &deployment(),
    );
    assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
    assert_eq!(
        out["spec"],
        json!({"paused": true, "strategy": {"type": "Recreate"}})
    );
}

#[test]
fn patch_delete_on_a_list_item_removes_it_by_key() {
    let target =
        "spec: {template: {spec: {containers: [{name: a, image: a}, {name: b, image: b}]}}}";
    let out = patch(
        target,
        "spec: {template: {spec: {containers: [{name: a, $patch: delete}]}}}",
        &deployment(),
    );
    assert_eq!(containers(&out), ["b"]);
}

#[test]
fn patch_replace_on_a_list_item_replaces_the_whole_list() {
    let target =
        "spec: {template: {spec: {containers: [{name: a, image: a}, {name: b, image: b}]}}}";
    let out = patch(
        target,
        "spec: {template: {spec: {containers: [{$patch: replace}, {name: c, image: c}]}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "c", "image": "c"}])
    );
}

#[test]
fn patch_replace_and_delete_on_maps() {
    let target =
        "spec: {template: {metadata: {labels: {a: '1', b: '2'}}, spec: {nodeSelector: {x: y}}}}";
    let out = patch(
        target,
        "spec: {template: {metadata: {labels: {$patch: replace, c: '3'}}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["metadata"]["labels"],
        json!({"c": "3"})
    );
    let out = patch(
        target,
        "spec: {template: {spec: {nodeSelector: {$patch: delete}}}}",
        &deployment(),
    );
    assert_eq!(out["spec"]["template"]["spec"], json!({}));
    let out = patch(
        target,
        "spec: {template: {metadata: {labels: {$patch: merge, c: '3'}}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["metadata"]["labels"],
        json!({"a": "1", "b": "2", "c": "3"})
    );
}

#[test]
fn top_level_delete_deletes_the_object() {
    let p = y("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, $patch: delete}");
    assert!(deletes_object(&p));
    let out = apply_strategic_merge(
        &y("{metadata: {name: x}}"),
        &p,
        &Gvk::new("", "v1", "ConfigMap"),
    );
    assert_eq!(out, Ok(Value::Null));
}

// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/#use-strategic-merge-patch-to-update-a-deployment-using-the-retainkeys-strategy
#[test]
fn doc_example_retain_keys_clears_the_other_union_members() {
    let target =
        "spec: {strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}}";
    let out = patch(
        target,
        "spec: {strategy: {$retainKeys: [type], type: Recreate}}",
        &deployment(),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    // A plain merge keeps rollingUpdate (which the API server would then reject).
    let out = patch(target, "spec: {strategy: {type: Recreate}}", &deployment());
    assert!(out["spec"]["strategy"].get("rollingUpdate").is_some());
}

#[test]
fn retain_keys_on_a_volume_item_switches_its_source() {
    let target = "spec: {template: {spec: {volumes: [{name: data, emptyDir: {}}, {name: cfg, configMap: {name: c}}]}}}";
    let out = patch(
        target,
        "spec: {template: {spec: {volumes: [{name: data, $retainKeys: [name, hostPath], hostPath: {path: /d}}]}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "hostPath": {"path": "/d"}}, {"name": "cfg", "configMap": {"name": "c"}}])
    );
}

#[test]
fn retain_keys_must_list_every_field_the_patch_sets() {
    let err = apply_strategic_merge(
        &y("spec: {strategy: {type: RollingUpdate}}"),
        &y("spec: {strategy: {$retainKeys: [type], type: Recreate, rollingUpdate: {}}}"),
        &deployment(),
    )
    .expect_err("rejected");
    assert!(err.to_string().contains("`rollingUpdate`"), "{err}");
    assert!(err.to_string().starts_with("`spec.strategy`"), "{err}");
}

#[test]
fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
    let cm = Gvk::new("", "v1", "ConfigMap");
    let target = "metadata: {name: x, finalizers: [a, b]}";
    let out = patch(target, "metadata: {finalizers: [b, c]}", &cm);
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let out = patch(
        target,
        "metadata: {$deleteFromPrimitiveList/finalizers: [a]}",
        &cm,
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
}

// What `kubectl apply` (client side) sends: the order of all the items it knows about.
#[test]
fn set_element_order_orders_the_merged_list() {
    let target = "spec: {template: {spec: {containers: [{name: a, image: a}, {name: b, image: b}, {name: c, image: c}]}}}";
    let out = patch(
        target,
        r#"
spec:
  template:
    spec:
      $setElementOrder/containers: [{name: c}, {name: a}, {name: b}]
      containers: [{name: a, image: a2}]
"#,
        &deployment(),
    );
    assert_eq!(containers(&out), ["c", "a", "b"]);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1]["image"],
        "a2"
    );
    // An order alone reorders the live list.
    let out = patch(
        target,
        "spec: {template: {spec: {$setElementOrder/containers: [{name: b}, {name: c}, {name: a}]}}}",
        &deployment(),
    );
    assert_eq!(containers(&out), ["b", "c", "a"]);
}

#[test]
fn service_ports_merge_by_port() {
    let svc = Gvk::new("", "v1", "Service");
    let out = patch(
        "spec: {ports: [{port: 80, targetPort: 8080, name: http}]}",
        "spec: {ports: [{port: 80, targetPort: 9090}, {port: 443, name: https}]}",
        &svc,
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090, "name": "http"}, {"port": 443, "name": "https"}])
    );
}

// Custom resources: the API server has no merge keys for them; kustomize merges maps and replaces lists.
#[test]
fn unknown_kinds_replace_lists_and_merge_maps() {
    let widget = Gvk::new("example.com", "v1", "Widget");
    let out = patch(
        "spec: {items: [{name: a}, {name: b}], size: {x: 1, y: 2}}",
        "spec: {items: [{name: c}], size: {y: 3}}",
        &widget,
    );
    assert_eq!(
        out["spec"],
        json!({"items": [{"name": "c"}], "size": {"x": 1, "y": 3}})
    );
}

#[test]
fn a_list_item_without_its_merge_key_is_an_error_naming_it() {
    let err = apply_strategic_merge(
        &y("spec: {template: {spec: {containers: [{name: a}]}}}"),
        &y("spec: {template: {spec: {containers: [{image: x}]}}}"),
        &deployment(),
    )
    .expect_err("rejected");
    assert_eq!(
        err,
        MergeError::MissingMergeKey {
            path: "spec.template.spec.containers[0]".into(),
            key: "name"
        }
    );
}

#[test]
fn bad_directives_and_non_objects_are_errors() {
    let err = apply_strategic_merge(&y("{a: 1}"), &y("{$patch: sideways}"), &deployment())
        .expect_err("bad");
    assert!(
        err.to_string().contains("unknown `$patch` directive"),
        "{err}"
    );
    let err = apply_strategic_merge(&y("{a: 1}"), &y("[1]"), &deployment()).expect_err("bad");
    assert_eq!(err, MergeError::NotAnObject { what: "the patch" });
    let err =
        apply_strategic_merge(&y("{a: 1}"), &y("{$bogus: 1}"), &deployment()).expect_err("bad");
    assert!(err.to_string().contains("unknown patch directive"), "{err}");
}

#[test]
fn directives_inside_new_values_are_not_left_in_the_object() {
    let out = patch(
        "spec: {replicas: 1}",
        "spec: {template: {spec: {containers: [{name: a, image: a, env: [{name: X, value: '1'}, {name: B, $patch: delete}]}]}}}",
        &deployment(),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "a", "env": [{"name": "X", "value": "1"}]}])
    );
}
