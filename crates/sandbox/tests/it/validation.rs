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

// A server-side apply that creates the object: its configuration is decoded once, under the
// request's mode, and the object made from it is stored with the server's fields added and the
// unknown fields (Warn, Ignore) left out. The `status` it sends is not applied, but it is
// decoded: an unknown field there is still refused under Strict.
// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
#[tokio::test]
async fn an_apply_that_creates_decodes_its_configuration_once_in_every_mode() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let config = |name: &str, extra: serde_json::Value| {
            let mut c = json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
                "status": {"replicas": 9},
            });
            if let (Some(spec), serde_json::Value::Object(extra)) = (c["spec"].as_object_mut(), extra) {
                spec.extend(extra);
            }
            serde_json::to_vec(&c).unwrap()
        };
        let apply = |name: &str, validation: &str, body: Vec<u8>| {
            let client = client.clone();
            let uri = format!("{URL}/{name}?fieldManager=gitops&fieldValidation={validation}");
            async move {
                let request = http::Request::builder()
                    .method("PATCH")
                    .uri(uri)
                    .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
                    .body(body)
                    .unwrap();
                let response = client.send(request.map(Into::into)).await.unwrap();
                let code = response.status().as_u16();
                let warnings: Vec<String> = response
                    .headers()
                    .get_all("warning")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                (code, warnings, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
            }
        };
        for (i, mode) in ["Strict", "Warn", "Ignore"].into_iter().enumerate() {
            // Clean: created as sent, plus the server's fields and defaults, no warning.
            let name = format!("clean-{i}");
            let (code, warnings, created) = apply(&name, mode, config(&name, json!({}))).await;
            assert_eq!((code, warnings.len()), (201, 0), "{mode}: {created}");
            assert_eq!(created["metadata"]["uid"].as_str().map(str::len), Some(36));
            assert_eq!(created["metadata"]["generation"], 1);
            assert_eq!(created["spec"]["replicas"], 1, "defaulted");
            assert!(created["status"].get("replicas").is_none(), "{created}");
            let owned = &created["metadata"]["managedFields"][0]["fieldsV1"];
            assert!(owned["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:image"].is_object(), "{owned}");
            assert!(owned.get("f:status").is_none(), "{owned}");

            // An unknown field: refused, or dropped with (Warn) or without (Ignore) a warning.
            let name = format!("unknown-{i}");
            let (code, warnings, created) = apply(&name, mode, config(&name, json!({"replicaz": 3}))).await;
            match mode {
                "Strict" => assert_eq!((code, created["reason"].as_str()), (400, Some("BadRequest")), "{created}"),
                _ => {
                    assert_eq!(code, 201, "{created}");
                    assert!(created["spec"].get("replicaz").is_none(), "{created}");
                    let expected: &[&str] = if mode == "Warn" { &["299 - \"unknown field \\\"spec.replicaz\\\"\""] } else { &[] };
                    assert_eq!(warnings, expected);
                }
            }
        }
        let bad_status = serde_json::to_vec(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad-status"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
            "status": {"replicaz": 1},
        }))
        .unwrap();
        let (code, _, body) = apply("bad-status", "Strict", bad_status).await;
        assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("status.replicaz"), "{body}");
    })
    .await;
}
