//! Discovery as kube's `Discovery` (and kubectl) read it.
//! https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api

use kube::discovery::{Discovery, Scope, verbs};

use super::{sandbox, timed};

#[tokio::test]
async fn discovery_finds_the_built_in_kinds_with_scope_and_verbs() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let discovery = Discovery::new(client).run().await.unwrap();
        let gvk = kube::api::GroupVersionKind::gvk("apps", "v1", "Deployment");
        let (resource, caps) = discovery
            .resolve_gvk(&gvk)
            .expect("apps/v1 Deployment is served");
        assert_eq!(resource.plural, "deployments");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(caps.supports_operation(verbs::WATCH) && caps.supports_operation(verbs::PATCH));
        assert!(
            caps.subresources
                .iter()
                .any(|(r, _)| r.plural == "deployments/scale" || r.plural == "scale")
        );
        let ns = kube::api::GroupVersionKind::gvk("", "v1", "Namespace");
        assert_eq!(discovery.resolve_gvk(&ns).unwrap().1.scope, Scope::Cluster);
        for (group, kind) in [
            ("networking.k8s.io", "Ingress"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("policy", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("storage.k8s.io", "StorageClass"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("batch", "CronJob"),
        ] {
            assert!(
                discovery.groups().any(|g| g.name() == group),
                "{group} is discovered"
            );
            let found = discovery
                .get(group)
                .unwrap()
                .recommended_resources()
                .into_iter()
                .any(|(r, _)| r.kind == kind);
            assert!(found, "{group} serves {kind}");
        }
    })
    .await;
}

#[tokio::test]
async fn version_and_resource_list_documents() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let version = client.apiserver_version().await.unwrap();
        assert_eq!(
            (version.major.as_str(), version.minor.as_str()),
            ("1", "33")
        );
        let core = client.list_core_api_resources("v1").await.unwrap();
        let pods = core.resources.iter().find(|r| r.name == "pods").unwrap();
        assert_eq!(pods.short_names.as_deref(), Some(&["po".to_owned()][..]));
        assert!(pods.namespaced);
        assert!(core.resources.iter().any(|r| r.name == "pods/log"));
    })
    .await;
}
