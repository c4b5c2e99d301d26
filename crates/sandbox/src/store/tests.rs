//! Unit tests of the store: metadata stamping, conflicts, generation, finalizers, GC, watch, snapshot.

use serde_json::json;

use super::*;

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"a": "1"}})
}

fn deploy(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1}})
}

fn configmaps() -> ResourceKey {
    ResourceKey::core("configmaps")
}

fn deployments() -> ResourceKey {
    ResourceKey::new("apps", "deployments")
}

#[test]
fn create_stamps_server_metadata_and_one_global_counter() {
    let store = Store::new();
    let a = store.create(&configmaps(), cm("a")).unwrap();
    let b = store.create(&deployments(), deploy("b")).unwrap();
    assert_eq!(a["metadata"]["resourceVersion"], "1");
    assert_eq!(b["metadata"]["resourceVersion"], "2");
    assert_eq!(a["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(
        a["metadata"].get("generation").is_none(),
        "ConfigMaps have no generation"
    );
    assert_eq!(b["metadata"]["generation"], 1);
    assert!(matches!(
        store.create(&configmaps(), cm("a")),
        Err(StoreError::AlreadyExists { .. })
    ));
}

#[test]
fn stale_resource_version_conflicts_and_generation_follows_spec() {
    let store = Store::new();
    let created = store.create(&deployments(), deploy("d")).unwrap();
    let mut labelled = created.clone();
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let labelled = store.update(&deployments(), labelled).unwrap();
    assert_eq!(
        labelled["metadata"]["generation"], 1,
        "metadata changes keep the generation"
    );
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(matches!(
        store.update(&deployments(), scaled.clone()),
        Err(StoreError::Conflict { .. })
    ));
    scaled["metadata"]["resourceVersion"] = labelled["metadata"]["resourceVersion"].clone();
    let scaled = store.update(&deployments(), scaled).unwrap();
    assert_eq!(scaled["metadata"]["generation"], 2);
    let rv = store.resource_version();
    assert_eq!(
        store.update(&deployments(), scaled.clone()).unwrap(),
        scaled,
        "a no-op update"
    );
    assert_eq!(
        store.resource_version(),
        rv,
        "a no-op update writes nothing"
    );
}

#[test]
fn status_subresource_splits_spec_and_status_writes() {
    let store = Store::new();
    let created = store.create(&deployments(), deploy("d")).unwrap();
    let mut with_status = created.clone();
    with_status["status"] = json!({"replicas": 1});
    let main = store.update(&deployments(), with_status.clone()).unwrap();
    assert!(
        main.get("status").is_none(),
        "the main resource ignores status"
    );
    with_status["spec"]["replicas"] = json!(5);
    with_status["metadata"]["resourceVersion"] = main["metadata"]["resourceVersion"].clone();
    let status = store.update_status(&deployments(), with_status).unwrap();
    assert_eq!(status["status"]["replicas"], 1);
    assert_eq!(
        status["spec"]["replicas"], 1,
        "the status subresource ignores spec"
    );
}

#[test]
fn finalizers_hold_a_deletion_until_removed() {
    let store = Store::new();
    let mut object = cm("f");
    object["metadata"]["finalizers"] = json!(["example.com/hold"]);
    store.create(&configmaps(), object).unwrap();
    let pending = store.delete(&configmaps(), Some("default"), "f").unwrap();
    let Deletion::Pending(mut held) = pending else {
        panic!("expected pending, got {pending:?}")
    };
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    held["metadata"]["finalizers"] = json!([]);
    store.update(&configmaps(), held).unwrap();
    assert!(store.get(&configmaps(), Some("default"), "f").is_none());
}

fn owned_by(mut object: Value, owner: &Value) -> Value {
    object["metadata"]["ownerReferences"] = json!([{
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    }]);
    object
}

#[test]
fn background_foreground_and_orphan_propagation() {
    let store = Store::new();
    let rs = ResourceKey::new("apps", "replicasets");
    for (name, propagation) in [
        ("bg", Propagation::Background),
        ("fg", Propagation::Foreground),
        ("or", Propagation::Orphan),
    ] {
        let owner = store.create(&deployments(), deploy(name)).unwrap();
        let mut child = deploy(&format!("{name}-rs"));
        child["kind"] = json!("ReplicaSet");
        store.create(&rs, owned_by(child, &owner)).unwrap();
        let opts = DeleteOptions {
            propagation,
            ..DeleteOptions::default()
        };
        let outcome = store
            .delete_with(&deployments(), Some("default"), name, &opts)
            .unwrap();
        assert!(
            matches!(outcome, Deletion::Deleted(_)),
            "{name}: {outcome:?}"
        );
        let child = store.get(&rs, Some("default"), &format!("{name}-rs"));
        match propagation {
            Propagation::Orphan => {
                assert!(child.unwrap()["metadata"].get("ownerReferences").is_none());
            }
            _ => assert!(child.is_none(), "{name}: dependent collected"),
        }
    }
}

#[test]
fn watch_resumes_from_history_and_too_old_is_gone() {
    let store = Store::new();
    store.create(&configmaps(), cm("a")).unwrap();
    store.create(&configmaps(), cm("b")).unwrap();
    let sub = store.watch(Some(&configmaps()), Some(1)).unwrap();
    assert_eq!(sub.replay.len(), 1);
    assert_eq!(sub.replay[0].name(), "b");
    let now = store.watch(Some(&configmaps()), None).unwrap();
    assert_eq!(now.replay.len(), 2);
    assert!(now.replay.iter().all(|e| e.event_type == EventType::Added));
    let restored = Store::from_snapshot(store.snapshot());
    assert!(matches!(
        restored.watch(None, Some(1)),
        Err(StoreError::Gone { .. })
    ));
}

#[test]
fn snapshot_round_trips_objects_logs_and_crds() {
    let store = Store::new();
    store.create(&configmaps(), cm("a")).unwrap();
    store.append_log("default", "p", "c", "one");
    store.restart_log("default", "p", "c");
    store.append_log("default", "p", "c", "two");
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
    let crd = store.create(&crd_key(), crd).unwrap();
    assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
    let text = serde_json::to_string(&store.snapshot()).unwrap();
    let restored = Store::from_snapshot(serde_json::from_str(&text).unwrap());
    assert_eq!(restored.snapshot(), store.snapshot());
    assert!(
        restored
            .registry()
            .get("example.com", "v1", "widgets")
            .is_some()
    );
    let log = restored.container_log("default", "p", "c").unwrap();
    assert_eq!(log.previous, Some(vec!["one".to_owned()]));
    assert_eq!(log.current, ["two"]);
}

// `metadata.uid` is an RFC 4122 version 4 UUID, as `kubectl get -o yaml` shows it:
// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#uids
#[test]
fn uids_are_random_version_4_uuids() {
    let a = super::new_uid();
    let groups: Vec<&str> = a.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{a}"
    );
    assert!(
        a.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{a}"
    );
    assert!(groups[2].starts_with('4'), "{a}");
    assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{a}");
    assert_ne!(a, super::new_uid());
}
