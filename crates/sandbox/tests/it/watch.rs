//! Watches: from now, from a resourceVersion, filtered, and 410 Gone when too old.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use super::{sandbox, timed};

fn labelled(name: &str, tier: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}}})).unwrap()
}

fn describe(event: &WatchEvent<ConfigMap>) -> String {
    match event {
        WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.as_deref().unwrap_or_default()),
        WatchEvent::Modified(o) => format!(
            "MODIFIED {}",
            o.metadata.name.as_deref().unwrap_or_default()
        ),
        WatchEvent::Deleted(o) => {
            format!("DELETED {}", o.metadata.name.as_deref().unwrap_or_default())
        }
        WatchEvent::Bookmark(_) => "BOOKMARK".to_owned(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

#[tokio::test]
async fn watch_from_a_version_sees_later_changes_in_order() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let first = api
            .create(&PostParams::default(), &labelled("one", "a"))
            .await
            .unwrap();
        let rv = first.metadata.resource_version.clone().unwrap();
        let stream = api
            .watch(&WatchParams::default().labels("tier=a"), &rv)
            .await
            .unwrap();
        api.create(&PostParams::default(), &labelled("two", "a"))
            .await
            .unwrap();
        api.create(&PostParams::default(), &labelled("other", "b"))
            .await
            .unwrap();
        let mut moved = api.get("two").await.unwrap();
        moved
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("tier".into(), "b".into());
        api.replace("two", &PostParams::default(), &moved)
            .await
            .unwrap();
        api.delete("one", &DeleteParams::default()).await.unwrap();
        let events: Vec<String> = stream
            .take(3)
            .map_ok(|e| describe(&e))
            .try_collect()
            .await
            .unwrap();
        // "two" leaving the selector is a DELETED for this watcher; "other" never matched.
        assert_eq!(events, ["ADDED two", "DELETED two", "DELETED one"]);
    })
    .await;
}

#[tokio::test]
async fn watch_from_now_starts_with_the_current_objects() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        api.create(&PostParams::default(), &labelled("present", "a"))
            .await
            .unwrap();
        let stream = api
            .watch(&WatchParams::default().fields("metadata.name=present"), "0")
            .await
            .unwrap();
        let events: Vec<String> = stream
            .take(1)
            .map_ok(|e| describe(&e))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(events, ["ADDED present"]);
    })
    .await;
}

#[tokio::test]
async fn a_compacted_version_is_410_gone() {
    timed(async {
        let (sandbox, _client) = sandbox();
        sandbox.store().create(&gitops_sandbox::store::ResourceKey::core("configmaps"), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}})).unwrap();
        // A restored snapshot has no history before its resourceVersion, as after a compaction.
        let restored = gitops_sandbox::Sandbox::with_store(gitops_sandbox::store::Store::from_snapshot(sandbox.store().snapshot()));
        let client = kube::Client::new(restored.service(), "default");
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let stream = api.watch(&WatchParams::default(), "1").await.unwrap();
        let events: Vec<String> = stream.take(1).map_ok(|e| describe(&e)).try_collect().await.unwrap();
        assert_eq!(events, ["ERROR 410"]);
    })
    .await;
}

#[tokio::test]
async fn bookmarks_carry_the_resource_version() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let params = WatchParams::default().timeout(1);
        let stream = api.watch(&params, "0").await.unwrap();
        let events: Vec<String> = stream.map_ok(|e| describe(&e)).try_collect().await.unwrap();
        assert_eq!(
            events.last().map(String::as_str),
            Some("BOOKMARK"),
            "{events:?}"
        );
    })
    .await;
}
