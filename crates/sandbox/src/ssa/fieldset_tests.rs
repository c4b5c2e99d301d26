//! Field sets as a kubectl user meets them: the `fieldsV1` of `managedFields`, and the fields
//! conflicts and removals name (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>).

use gitops_manifest::merge_keys::{Gvk, root};
use serde_json::{Value, json};

use super::super::object_fields::Scope;
use super::super::path::{Path, PathElement};
use super::FieldSet;

fn deployment_fields(object: &Value) -> FieldSet {
    FieldSet::from_object(
        object,
        root(&Gvk::new("apps", "v1", "Deployment")),
        Scope::Main,
    )
    .expect("a valid Deployment")
}

fn path(text: &[&str]) -> Path {
    Path(
        text.iter()
            .map(|t| PathElement::from_fields_v1_key(t).expect("a FieldsV1 key"))
            .collect(),
    )
}

fn shown(set: &FieldSet) -> Vec<String> {
    set.iter().map(|p| p.to_string()).collect()
}

fn web(image: &str, ports: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                     "uid": "u", "resourceVersion": "7", "managedFields": []},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {
                "containers": [{"name": "web", "image": image, "ports": ports}],
                "tolerations": [{"key": "a", "operator": "Exists"}],
                "volumes": [],
            }},
        },
        "status": {"replicas": 2},
    })
}

// What `kubectl get -o yaml --show-managed-fields` shows for an applied Deployment: list items
// by key with `.` (the item is owned too), atomic lists whole, server metadata and status left
// out, an empty list of a keyed type owning nothing.
#[test]
fn an_objects_fields_v1_is_what_the_api_server_records() {
    let set = deployment_fields(&web("web:1", json!([{"containerPort": 80}])));
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {"f:spec": {
                    "f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {},
                            "f:containerPort": {},
                        }},
                    }},
                    "f:tolerations": {},
                }},
            },
        })
    );
    assert_eq!(set.len(), 9);
    // Reading it back gives the same set, member for member.
    let read = FieldSet::from_fields_v1(&set.to_fields_v1()).expect("reads");
    assert_eq!(read, set);
    assert_eq!(shown(&read), shown(&set));
}

// Conflicts and removals list fields in this order: a field before the fields below it,
// siblings by their FieldsV1 element (fields, then keyed items, then values).
#[test]
fn paths_come_out_parents_first_in_element_order() {
    let set = deployment_fields(&web(
        "web:1",
        json!([{"containerPort": 80, "name": "http"}]),
    ));
    assert_eq!(
        shown(&set),
        [
            ".metadata.labels.app",
            ".spec.replicas",
            ".spec.selector",
            r#".spec.template.spec.containers[name="web"]"#,
            r#".spec.template.spec.containers[name="web"].image"#,
            r#".spec.template.spec.containers[name="web"].name"#,
            r#".spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]"#,
            r#".spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].containerPort"#,
            r#".spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].name"#,
            ".spec.template.spec.tolerations",
        ]
    );
}

#[test]
fn union_difference_and_intersection_are_those_of_the_paths() {
    let a = deployment_fields(&web("web:1", json!([{"containerPort": 80}])));
    let b = deployment_fields(&web("web:2", json!([{"containerPort": 81}])));
    let port = |n: u16| {
        format!(
            r#".spec.template.spec.containers[name="web"].ports[containerPort={n},protocol="TCP"]"#
        )
    };
    let both = a.intersection(&b);
    assert_eq!(both.len(), 7, "{:?}", shown(&both));
    assert!(!shown(&both).contains(&port(80)));
    assert_eq!(
        shown(&a.difference(&b)),
        [port(80), format!("{}.containerPort", port(80))]
    );
    let all = a.union(&b);
    assert_eq!(all.len(), 11);
    assert_eq!(all.difference(&a), b.difference(&a));
    assert!(all.difference(&a).difference(&b).is_empty());
    let mut grown = a.clone();
    grown.extend(&b);
    assert_eq!(grown, all);
    assert!(a.intersects(&b));
    assert!(!a.difference(&b).intersects(&b));
    // Taking everything away leaves the empty set, equal to a new one.
    assert_eq!(a.difference(&all), FieldSet::new());
}

#[test]
fn membership_and_what_lies_below() {
    let set = deployment_fields(&web("web:1", json!([])));
    let container = path(&[
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        r#"k:{"name":"web"}"#,
    ]);
    assert!(set.contains(&container));
    assert!(set.has_descendant(&container));
    let image = path(&[
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        r#"k:{"name":"web"}"#,
        "f:image",
    ]);
    assert!(set.contains(&image));
    assert!(!set.has_descendant(&image));
    // `spec` is no member (its fields are); an empty keyed list owns nothing.
    assert!(!set.contains(&path(&["f:spec"])));
    assert!(set.has_descendant(&path(&["f:spec"])));
    assert!(!set.contains(&path(&["f:spec", "f:template", "f:spec", "f:volumes"])));
    let mut more = set.clone();
    more.insert(path(&["f:spec", "f:paused"]));
    assert_eq!(more.len(), set.len() + 1);
    assert!(more.contains(&path(&["f:spec", "f:paused"])));
}

// Two spellings of one key in stored managedFields are one field; a repeated list item in an
// object is one field too.
#[test]
fn equal_elements_are_one_member_however_they_come() {
    let set = FieldSet::from_fields_v1(&json!({
        "f:spec": {"f:ports": {
            "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}},
            "k:{ \"protocol\": \"TCP\", \"port\": 80 }": {"f:port": {}},
        }}
    }))
    .expect("reads");
    assert_eq!(set.len(), 2);
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}})
    );
    let twice = deployment_fields(&json!({"metadata": {"finalizers": ["a", "b", "a"]}}));
    assert_eq!(
        shown(&twice),
        [
            r#".metadata.finalizers[="a"]"#,
            r#".metadata.finalizers[="b"]"#
        ]
    );
}

#[test]
fn bad_fields_v1_names_the_place() {
    let err =
        FieldSet::from_fields_v1(&json!({"f:spec": {"f:replicas": 3}})).expect_err("not a map");
    assert_eq!(
        err.to_string(),
        "invalid managedFields: `.spec.replicas` is not a map in fieldsV1"
    );
    let err = FieldSet::from_fields_v1(&json!({"f:spec": {"x:bad": {}}})).expect_err("bad key");
    assert_eq!(
        err.to_string(),
        "invalid managedFields: `x:bad` is not a fieldsV1 key"
    );
}

#[test]
fn a_keyed_item_without_its_key_is_named_by_position() {
    let mut d = web("web:1", json!([]));
    d["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"image": "x"}]);
    let err = FieldSet::from_object(&d, root(&Gvk::new("apps", "v1", "Deployment")), Scope::Main)
        .expect_err("no name");
    assert_eq!(
        err.to_string(),
        "`.spec.template.spec.containers[1]`: associative list with keys has an element that omits key field \"name\""
    );
}

// What an update takes from other managers: the fields whose value it changes, a keyed item
// only when it comes or goes (its fields count on their own).
#[test]
fn changed_fields_are_those_whose_value_differs() {
    let old = web("web:1", json!([{"containerPort": 80}]));
    let mut new = web(
        "web:2",
        json!([{"containerPort": 80}, {"containerPort": 90}]),
    );
    new["spec"]["replicas"] = json!(2);
    let mut all = deployment_fields(&old);
    all.extend(&deployment_fields(&new));
    let port90 =
        r#".spec.template.spec.containers[name="web"].ports[containerPort=90,protocol="TCP"]"#;
    assert_eq!(
        shown(&all.changed_between(&old, &new)),
        [
            r#".spec.template.spec.containers[name="web"].image"#.to_string(),
            port90.to_string(),
            format!("{port90}.containerPort"),
        ]
    );
    assert!(all.changed_between(&old, &old).is_empty());
    // Against nothing (a create), every field is changed.
    assert_eq!(
        deployment_fields(&new).changed_between(&json!({}), &new),
        deployment_fields(&new)
    );
}

// A no-op write reports the same missing-key error as a write that builds the sets: the
// first keyed item without its key, in the same order, named by the same path.
#[test]
fn a_missing_list_key_is_found_without_building_the_set() {
    use super::super::object_fields::check_list_keys;
    let schema = root(&Gvk::new("apps", "v1", "Deployment"));
    let mut cases = vec![web("web:1", json!([{"containerPort": 80}]))];
    let mut no_port = web("web:1", json!([{"containerPort": 80}, {"name": "x"}]));
    no_port["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "X", "name": "o"}]);
    cases.push(no_port.clone());
    // ownerReferences (keyed by uid) comes first in the walk: metadata before spec.
    no_port["metadata"]["ownerReferences"][0]["uid"] = json!("u1");
    cases.push(no_port);
    let mut second = web("web:1", json!([]));
    second["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "a", "env": [{"name": "A"}, {"value": "no name"}]}, {"image": "x"}]);
    cases.push(second);
    let mut status = web("web:1", json!([]));
    status["status"] = json!({"conditions": [{"status": "True"}]});
    cases.push(status);
    let mut seen = Vec::new();
    for case in &cases {
        for scope in [Scope::Main, Scope::Status] {
            let built = FieldSet::from_object(case, schema, scope).err();
            assert_eq!(check_list_keys(case, schema, scope).err(), built);
            seen.push(built.map(|e| e.to_string()));
        }
    }
    assert_eq!(
        seen,
        [
            None,
            None,
            Some("`.metadata.ownerReferences[0]`: associative list with keys has an element that omits key field \"uid\"".to_owned()),
            None,
            Some("`.spec.template.spec.containers[name=\"web\"].ports[1]`: associative list with keys has an element that omits key field \"containerPort\"".to_owned()),
            None,
            Some("`.spec.template.spec.containers[name=\"a\"].env[1]`: associative list with keys has an element that omits key field \"name\"".to_owned()),
            None,
            None,
            Some("`.status.conditions[0]`: associative list with keys has an element that omits key field \"type\"".to_owned()),
        ]
    );
}
