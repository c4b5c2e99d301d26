//! Create, get, update, delete with the server-owned metadata a real server writes.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#api-verbs

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::{api_error, sandbox, timed};

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn create_get_update_delete_a_config_map() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let created = api
            .create(&PostParams::default(), &config_map("settings"))
            .await
            .unwrap();
        let meta = &created.metadata;
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        assert!(
            meta.uid.is_some()
                && meta.creation_timestamp.is_some()
                && meta.resource_version.is_some()
        );
        assert_eq!(meta.generation, None, "ConfigMaps carry no generation");

        let mut changed = api.get("settings").await.unwrap();
        changed
            .data
            .as_mut()
            .unwrap()
            .insert("k".into(), "w".into());
        let replaced = api
            .replace("settings", &PostParams::default(), &changed)
            .await
            .unwrap();
        assert_eq!(replaced.data.unwrap()["k"], "w");
        assert_ne!(
            replaced.metadata.resource_version,
            created.metadata.resource_version
        );
        assert_eq!(replaced.metadata.uid, created.metadata.uid);

        api.delete("settings", &DeleteParams::default())
            .await
            .unwrap();
        let gone = api_error(api.get("settings").await);
        assert_eq!((gone.code, gone.reason.as_str()), (404, "NotFound"));
        assert_eq!(gone.message, "configmaps \"settings\" not found");
    })
    .await;
}

#[tokio::test]
async fn generation_moves_with_spec_only_and_stale_updates_conflict() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        let created = api.create(&PostParams::default(), &deployment("web", 1)).await.unwrap();
        assert_eq!(created.metadata.generation, Some(1));

        let mut labelled = created.clone();
        labelled.metadata.labels.get_or_insert_default().insert("team".into(), "a".into());
        let labelled = api.replace("web", &PostParams::default(), &labelled).await.unwrap();
        assert_eq!(labelled.metadata.generation, Some(1), "a label is not a spec change");

        let mut scaled = created.clone();
        scaled.spec.as_mut().unwrap().replicas = Some(3);
        let stale = api_error(api.replace("web", &PostParams::default(), &scaled).await);
        assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            stale.message,
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
        );

        scaled.metadata.resource_version = labelled.metadata.resource_version;
        let scaled = api.replace("web", &PostParams::default(), &scaled).await.unwrap();
        assert_eq!(scaled.metadata.generation, Some(2));
    })
    .await;
}

#[tokio::test]
async fn dry_run_create_stores_nothing() {
    timed(async {
        let (sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let before = sandbox.store().resource_version();
        let params = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let result = api.create(&params, &config_map("dry")).await.unwrap();
        assert!(
            result.metadata.uid.is_some(),
            "the result is what would be stored"
        );
        assert_eq!(result.metadata.resource_version, None);
        assert_eq!(sandbox.store().resource_version(), before);
        assert_eq!(api_error(api.get("dry").await).code, 404);
    })
    .await;
}

#[tokio::test]
async fn create_twice_is_already_exists() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        api.create(&PostParams::default(), &config_map("once"))
            .await
            .unwrap();
        let twice = api_error(
            api.create(&PostParams::default(), &config_map("once"))
                .await,
        );
        assert_eq!((twice.code, twice.reason.as_str()), (409, "AlreadyExists"));
        assert_eq!(twice.message, "configmaps \"once\" already exists");
    })
    .await;
}
