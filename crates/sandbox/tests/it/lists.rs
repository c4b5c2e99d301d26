//! Lists: label selectors (equality and set-based), field selectors, `limit`/`continue`.
//! https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use super::{api_error, sandbox, timed};

async fn seed(api: &Api<ConfigMap>) {
    for (name, tier) in [
        ("a", "front"),
        ("b", "back"),
        ("c", "db"),
        ("d", "front"),
        ("e", "back"),
    ] {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}}}))
                .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
}

fn names(list: &kube::api::ObjectList<ConfigMap>) -> Vec<String> {
    list.items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn label_and_field_selectors() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        seed(&api).await;
        let set = api
            .list(&ListParams::default().labels("tier in (front,db)"))
            .await
            .unwrap();
        assert_eq!(names(&set), ["a", "c", "d"]);
        let not = api
            .list(&ListParams::default().labels("tier!=front"))
            .await
            .unwrap();
        assert_eq!(names(&not), ["b", "c", "e"]);
        let by_name = api
            .list(&ListParams::default().fields("metadata.name=e"))
            .await
            .unwrap();
        assert_eq!(names(&by_name), ["e"]);
        let bad = api_error(api.list(&ListParams::default().fields("data.k=v")).await);
        assert_eq!(
            (bad.code, bad.message.as_str()),
            (400, "field label not supported: data.k")
        );
    })
    .await;
}

#[tokio::test]
async fn pages_with_limit_and_continue() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        seed(&api).await;
        let first = api.list(&ListParams::default().limit(2)).await.unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.metadata.remaining_item_count, Some(3));
        let token = first.metadata.continue_.clone().unwrap();
        let second = api
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap();
        assert_eq!(names(&second), ["c", "d"]);
        assert_eq!(
            second.metadata.resource_version,
            first.metadata.resource_version
        );
        let last = api
            .list(
                &ListParams::default()
                    .limit(2)
                    .continue_token(second.metadata.continue_.as_deref().unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(names(&last), ["e"]);
        assert_eq!(last.metadata.continue_, None);
    })
    .await;
}
