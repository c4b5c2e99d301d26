//! `dryRun=All` on every kind of write, `deletecollection`, and the `status` subresource, through
//! the API as kubectl and the engine use them.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#collections
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/#object-spec-and-status

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::crud::deployment;
use super::{api_error, sandbox, timed};

fn labelled(name: &str, tier: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"tier": tier}}, "data": {"k": "v"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn every_write_has_a_dry_run_that_stores_nothing() {
    timed(async {
        let (sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        api.create(&PostParams::default(), &labelled("cm", "a"))
            .await
            .unwrap();
        let stored = api.get("cm").await.unwrap();
        let before = sandbox.store().resource_version();
        let dry_post = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let dry_patch = PatchParams {
            dry_run: true,
            ..PatchParams::default()
        };

        // update (PUT)
        let mut changed = stored.clone();
        changed.data = Some([("k".to_owned(), "put".to_owned())].into());
        let result = api.replace("cm", &dry_post, &changed).await.unwrap();
        assert_eq!(
            result.data.unwrap()["k"],
            "put",
            "the result is what would be stored"
        );
        // merge, JSON and strategic merge patch
        for patch in [
            Patch::Merge(json!({"data": {"k": "merge"}})),
            Patch::Strategic(json!({"data": {"k": "merge"}})),
        ] {
            let result = api.patch("cm", &dry_patch, &patch).await.unwrap();
            assert_eq!(result.data.unwrap()["k"], "merge");
        }
        let json_patch: json_patch::Patch =
            serde_json::from_value(json!([{"op": "replace", "path": "/data/k", "value": "json"}]))
                .unwrap();
        let result = api
            .patch("cm", &dry_patch, &Patch::<()>::Json(json_patch))
            .await
            .unwrap();
        assert_eq!(result.data.unwrap()["k"], "json");
        // delete and deletecollection
        let dry_delete = DeleteParams {
            dry_run: true,
            ..DeleteParams::default()
        };
        api.delete("cm", &dry_delete).await.unwrap();
        let listed = api
            .delete_collection(&dry_delete, &ListParams::default())
            .await
            .unwrap();
        let names: Vec<String> = listed
            .left()
            .map(|l| {
                l.items
                    .into_iter()
                    .filter_map(|c| c.metadata.name)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            names,
            ["cm"],
            "the dry-run deletecollection names what it would delete"
        );

        assert_eq!(
            sandbox.store().resource_version(),
            before,
            "nothing was written"
        );
        let after = api.get("cm").await.unwrap();
        assert_eq!(after.data, stored.data);
        assert_eq!(
            after.metadata.resource_version,
            stored.metadata.resource_version
        );
    })
    .await;
}

#[tokio::test]
async fn deletecollection_deletes_what_the_selector_matches() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        for (name, tier) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
            api.create(&PostParams::default(), &labelled(name, tier))
                .await
                .unwrap();
        }
        api.delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=a"),
        )
        .await
        .unwrap();
        let left: Vec<String> = api
            .list(&ListParams::default().labels("tier"))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(left, ["b1"]);
    })
    .await;
}

#[tokio::test]
async fn status_is_written_through_its_subresource_only() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        let created = api
            .create(&PostParams::default(), &deployment("web", 1))
            .await
            .unwrap();

        // A status in a write to the main resource is ignored...
        let ignored = api
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"replicas": 7}})),
            )
            .await
            .unwrap();
        assert_ne!(ignored.status.and_then(|s| s.replicas), Some(7));
        // ...and a write to /status changes nothing but the status, without a new generation.
        let patched = api
            .patch_status(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 5}, "status": {"replicas": 7}})),
            )
            .await
            .unwrap();
        assert_eq!(patched.status.and_then(|s| s.replicas), Some(7));
        assert_eq!(patched.spec.and_then(|s| s.replicas), Some(1));
        assert_eq!(patched.metadata.generation, created.metadata.generation);
        let read = api.get_status("web").await.unwrap();
        assert_eq!(read.status.and_then(|s| s.replicas), Some(7));
        let missing = api_error(api.get_status("nope").await);
        assert_eq!(missing.code, 404);
    })
    .await;
}
