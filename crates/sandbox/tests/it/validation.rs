//! Field validation (`Strict`, `Warn`, `Ignore`) and API defaulting as a real server does them.
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
//! https://kubernetes.io/docs/reference/using-api/server-side-apply/ (a dry run shows the defaults)

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{raw, sandbox, timed};

fn with_unknown_field() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicaz": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
    }))
    .unwrap()
}

const URL: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn strict_rejects_unknown_fields() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (code, body) = raw(&client, "POST", &format!("{URL}?fieldValidation=Strict"), "application/json", with_unknown_field()).await;
        assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
        assert_eq!(
            body["message"],
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replicaz\""
        );
    })
    .await;
}

#[tokio::test]
async fn warn_stores_without_the_field_and_sends_a_warning_header() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("{URL}?fieldValidation=Warn"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(with_unknown_field())
            .unwrap();
        let response = client.send(request.map(Into::into)).await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let warnings: Vec<&str> = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(warnings, ["299 - \"unknown field \\\"spec.replicaz\\\"\""]);
        let api: Api<Deployment> = Api::default_namespaced(client);
        let stored = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
        assert!(stored["spec"].get("replicaz").is_none());
    })
    .await;
}

#[tokio::test]
async fn ignore_stores_without_the_field_and_without_a_warning() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("{URL}?fieldValidation=Ignore"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(with_unknown_field())
            .unwrap();
        let response = client.send(request.map(Into::into)).await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        assert!(response.headers().get("warning").is_none());
        let api: Api<Deployment> = Api::default_namespaced(client);
        let stored = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
        assert!(stored["spec"].get("replicaz").is_none());
    })
    .await;
}

#[tokio::test]
async fn missing_required_fields_are_invalid() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let body = serde_json::to_vec(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}),
        )
        .unwrap();
        let (code, status) = raw(&client, "POST", URL, "application/json", body).await;
        assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
        let fields: Vec<&str> = status["details"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"spec.selector"), "{status}");
    })
    .await;
}

#[tokio::test]
async fn a_dry_run_apply_shows_the_server_defaults() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Deployment> = Api::default_namespaced(client);
        let manifest = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
        });
        let result = api.patch("web", &PatchParams::apply("gitops").dry_run(), &Patch::Apply(&manifest)).await.unwrap();
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["spec"]["replicas"], 1);
        assert_eq!(value["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(value["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(value["spec"]["strategy"]["type"], "RollingUpdate");
        let container = &value["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(api.get_opt("web").await.unwrap(), None, "a dry run stores nothing");
    })
    .await;
}

/// A server-side apply body of Deployment `web` with `spec` as given.
fn apply_body(spec: serde_json::Value) -> Vec<u8> {
    let mut full = json!({"selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}});
    if let (Some(full), Some(spec)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(spec.clone());
    }
    serde_json::to_vec(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": full}))
        .unwrap()
}

/// The real server decodes an applied configuration before merging it: with another manager
/// owning `spec.replicas`, an apply that changes it AND has an unknown (Strict) or mistyped field
/// is a 400 naming the field, not a 409 conflict.
/// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
#[tokio::test]
async fn server_side_apply_decodes_before_it_finds_conflicts() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let apply = |manager: &str, validation: &str, body: Vec<u8>| {
            let client = client.clone();
            let uri = format!("{URL}/web?fieldManager={manager}&fieldValidation={validation}");
            async move { raw(&client, "PATCH", &uri, "application/apply-patch+yaml", body).await }
        };
        let (code, _) = apply("kubectl", "Strict", apply_body(json!({"replicas": 3}))).await;
        assert_eq!(code, 201);

        // The control: a well-formed change of another manager's field is a conflict.
        let (code, body) = apply("gitops", "Strict", apply_body(json!({"replicas": 5}))).await;
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")), "{body}");

        let (code, body) = apply("gitops", "Strict", apply_body(json!({"replicas": 5, "replicaz": 5}))).await;
        assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")), "{body}");
        assert_eq!(
            body["message"],
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replicaz\""
        );

        // A wrong type cannot be decoded whatever the validation mode.
        for validation in ["Strict", "Warn"] {
            let (code, body) = apply("gitops", validation, apply_body(json!({"replicas": "five"}))).await;
            assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")), "{validation}: {body}");
            assert!(body["message"].as_str().unwrap().contains("spec.replicas"), "{body}");
        }

        // Warn: the unknown field is dropped with a warning and the conflict stands.
        let (code, body) = apply("gitops", "Warn", apply_body(json!({"replicas": 5, "replicaz": 5}))).await;
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")), "{body}");
    })
    .await;
}
