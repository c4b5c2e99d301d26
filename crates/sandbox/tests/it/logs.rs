//! `pods/{name}/log`: container, previous, tailLines, and the real server's errors.
//! https://kubernetes.io/docs/concepts/cluster-administration/logging/#basic-logging-in-kubernetes

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;

use super::{api_error, sandbox, timed};

#[tokio::test]
async fn logs_by_container_previous_and_tail() {
    timed(async {
        let (sandbox, client) = sandbox();
        let pods: Api<Pod> = Api::default_namespaced(client);
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "busybox"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let store = sandbox.store();
        for line in ["one", "two", "three"] {
            store.append_log("default", "web", "app", line);
        }
        store.restart_log("default", "web", "app");
        store.append_log("default", "web", "app", "four");

        let app = |previous: bool, tail_lines: Option<i64>| LogParams {
            container: Some("app".into()),
            previous,
            tail_lines,
            ..LogParams::default()
        };
        assert_eq!(pods.logs("web", &app(false, None)).await.unwrap(), "four\n");
        assert_eq!(pods.logs("web", &app(true, None)).await.unwrap(), "one\ntwo\nthree\n");
        assert_eq!(pods.logs("web", &app(true, Some(2))).await.unwrap(), "two\nthree\n");

        let ambiguous = api_error(pods.logs("web", &LogParams::default()).await);
        assert_eq!(ambiguous.code, 400);
        assert_eq!(
            ambiguous.message,
            "a container name must be specified for pod web, choose one of: [app sidecar] or one of the init containers: [init]"
        );
        let never = LogParams { container: Some("sidecar".into()), previous: true, ..LogParams::default() };
        assert_eq!(
            api_error(pods.logs("web", &never).await).message,
            "previous terminated container \"sidecar\" in pod \"web\" not found"
        );
    })
    .await;
}
