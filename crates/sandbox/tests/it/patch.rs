//! PATCH in its four forms, dry run, and the scale subresource.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
//! https://kubernetes.io/docs/reference/using-api/server-side-apply/

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::crud::deployment;
use super::{api_error, raw, sandbox, timed};

fn applied(name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
    })
}

#[tokio::test]
async fn apply_creates_then_records_the_manager() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        let created = api
            .patch(
                "web",
                &PatchParams::apply("gitops"),
                &Patch::Apply(applied("web", 2)),
            )
            .await
            .unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        let managers: Vec<(String, String)> = created
            .metadata
            .managed_fields
            .unwrap()
            .into_iter()
            .map(|m| (m.manager.unwrap(), m.operation.unwrap()))
            .collect();
        assert_eq!(managers, [("gitops".to_owned(), "Apply".to_owned())]);
        let again = api
            .patch(
                "web",
                &PatchParams::apply("gitops"),
                &Patch::Apply(applied("web", 2)),
            )
            .await
            .unwrap();
        assert_eq!(
            again.metadata.resource_version, created.metadata.resource_version,
            "an unchanged apply writes nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn dry_run_apply_returns_the_result_and_stores_nothing() {
    timed(async {
        let (sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        api.patch(
            "web",
            &PatchParams::apply("gitops"),
            &Patch::Apply(applied("web", 2)),
        )
        .await
        .unwrap();
        let before = sandbox.store().resource_version();
        let dry = api
            .patch(
                "web",
                &PatchParams::apply("gitops").dry_run(),
                &Patch::Apply(applied("web", 5)),
            )
            .await
            .unwrap();
        assert_eq!(dry.spec.unwrap().replicas, Some(5));
        assert_eq!(
            dry.metadata.generation,
            Some(2),
            "the dry run shows the generation a write would give"
        );
        assert_eq!(sandbox.store().resource_version(), before);
        assert_eq!(
            api.get("web").await.unwrap().spec.unwrap().replicas,
            Some(2)
        );
    })
    .await;
}

#[tokio::test]
async fn another_managers_field_conflicts_unless_forced() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        api.patch("web", &PatchParams::apply("gitops"), &Patch::Apply(applied("web", 2))).await.unwrap();
        let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let conflict = api_error(api.patch("web", &PatchParams::apply("hpa"), &Patch::Apply(&scale)).await);
        assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
        assert_eq!(conflict.message, "Apply failed with 1 conflict: conflict with \"gitops\": .spec.replicas");
        let cause = &conflict.details.as_ref().unwrap().causes[0];
        assert_eq!((cause.reason.as_str(), cause.field.as_str()), ("FieldManagerConflict", ".spec.replicas"));
        let forced = api.patch("web", &PatchParams::apply("hpa").force(), &Patch::Apply(&scale)).await.unwrap();
        assert_eq!(forced.spec.unwrap().replicas, Some(3));
    })
    .await;
}

#[tokio::test]
async fn apply_without_field_manager_is_invalid() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let body = serde_json::to_vec(&applied("web", 1)).unwrap();
        let (code, status) =
            raw(&client, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "application/apply-patch+yaml", body).await;
        assert_eq!(code, 422);
        assert_eq!(status["message"], "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
    })
    .await;
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client.clone());
        api.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
        let sidecar = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}});
        let patched = api.patch("web", &PatchParams::default(), &Patch::Strategic(sidecar)).await.unwrap();
        let names: Vec<String> = patched.spec.unwrap().template.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["sidecar", "app"], "containers merge by name");

        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        let merged = cms.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": null, "c": "3"}}))).await.unwrap();
        assert_eq!(merged.data.unwrap().keys().cloned().collect::<Vec<_>>(), ["b", "c"]);
        let ops: json_patch::Patch = serde_json::from_value(json!([{"op": "test", "path": "/data/b", "value": "nope"}])).unwrap();
        let failed = api_error(cms.patch("c", &PatchParams::default(), &Patch::<()>::Json(ops)).await);
        assert_eq!(failed.code, 422);
    })
    .await;
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        api.create(&PostParams::default(), &deployment("web", 1))
            .await
            .unwrap();
        let scale = api.get_scale("web").await.unwrap();
        assert_eq!(scale.spec.unwrap().replicas, Some(1));
        assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
        let scaled = api
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 0}})),
            )
            .await
            .unwrap();
        assert_eq!(scaled.spec.unwrap().replicas, Some(0));
        let deployment = api.get("web").await.unwrap();
        assert_eq!(deployment.spec.unwrap().replicas, Some(0));
        assert_eq!(deployment.metadata.generation, Some(2));
    })
    .await;
}
