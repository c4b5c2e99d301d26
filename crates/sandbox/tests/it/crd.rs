//! CustomResourceDefinitions: Established, then served (discovery, CRUD), gone with the CRD.
//! https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::Discovery;
use serde_json::json;

use super::{api_error, sandbox, timed};

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn an_established_crd_serves_its_kind_until_deleted() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let created = crds.create(&PostParams::default(), &widget_crd()).await.unwrap();
        let conditions = created.status.unwrap().conditions.unwrap();
        assert!(conditions.iter().any(|c| c.type_ == "Established" && c.status == "True"));

        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
        let (resource, _) = discovery.resolve_gvk(&gvk).expect("the CRD's kind is discovered");
        let widgets: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &resource);
        let widget: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3},
        }))
        .unwrap();
        let stored = widgets.create(&PostParams::default(), &widget).await.unwrap();
        assert_eq!(stored.metadata.generation, Some(1), "custom resources carry a generation");
        assert_eq!(widgets.list(&Default::default()).await.unwrap().items.len(), 1);

        crds.delete("widgets.example.com", &DeleteParams::default()).await.unwrap();
        let ar = ApiResource::from_gvk(&gvk);
        let gone: Api<DynamicObject> = Api::default_namespaced_with(client, &ar);
        assert_eq!(api_error(gone.get("w1").await).code, 404);
    })
    .await;
}
