//! Owner references: background, foreground and orphan deletion, and namespace deletion.
//! https://kubernetes.io/docs/concepts/architecture/garbage-collection/

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Resource as _;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::crud::deployment;
use super::{api_error, sandbox, timed};

async fn owned_replica_set(
    client: &kube::Client,
    name: &str,
) -> (Api<Deployment>, Api<ReplicaSet>) {
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let sets: Api<ReplicaSet> = Api::default_namespaced(client.clone());
    let owner = deployments
        .create(&PostParams::default(), &deployment(name, 1))
        .await
        .unwrap();
    let owner_ref = owner.controller_owner_ref(&()).unwrap();
    let mut rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-rs")},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
    }))
    .unwrap();
    rs.metadata.owner_references = Some(vec![owner_ref]);
    sets.create(&PostParams::default(), &rs).await.unwrap();
    (deployments, sets)
}

#[tokio::test]
async fn background_deletion_collects_dependents() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (deployments, sets) = owned_replica_set(&client, "bg").await;
        deployments
            .delete("bg", &DeleteParams::background())
            .await
            .unwrap();
        assert_eq!(api_error(sets.get("bg-rs").await).code, 404);
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_owner_reference() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (deployments, sets) = owned_replica_set(&client, "or").await;
        deployments
            .delete("or", &DeleteParams::orphan())
            .await
            .unwrap();
        let rs = sets.get("or-rs").await.unwrap();
        assert_eq!(rs.metadata.owner_references, None);
    })
    .await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (deployments, sets) = owned_replica_set(&client, "fg").await;
        // A finalizer on the dependent holds it, and with it the owner.
        let mut rs = sets.get("fg-rs").await.unwrap();
        rs.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        sets.replace("fg-rs", &PostParams::default(), &rs)
            .await
            .unwrap();
        deployments
            .delete("fg", &DeleteParams::foreground())
            .await
            .unwrap();
        let waiting = deployments.get("fg").await.unwrap();
        assert!(waiting.metadata.deletion_timestamp.is_some());
        assert_eq!(
            waiting.metadata.finalizers,
            Some(vec!["foregroundDeletion".to_owned()])
        );
        let mut rs = sets.get("fg-rs").await.unwrap();
        assert!(rs.metadata.deletion_timestamp.is_some());
        rs.metadata.finalizers = None;
        sets.replace("fg-rs", &PostParams::default(), &rs)
            .await
            .unwrap();
        assert_eq!(api_error(sets.get("fg-rs").await).code, 404);
        assert_eq!(
            api_error(deployments.get("fg").await).code,
            404,
            "the owner goes once its dependents are gone"
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
        let created = namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
        assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        namespaces
            .delete("team", &DeleteParams::default())
            .await
            .unwrap();
        assert_eq!(api_error(cms.get("c").await).code, 404);
        assert_eq!(api_error(namespaces.get("team").await).code, 404);
    })
    .await;
}
