//! Bad input gets the status code, reason and Status body a real server gives.
//! https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/

use serde_json::json;

use super::{raw, sandbox, timed};

fn cm_body(name: &str, data: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": data}})).unwrap()
}

#[tokio::test]
async fn create_in_a_missing_namespace_is_not_found() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (code, body) = raw(
            &client,
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            "application/json",
            cm_body("a", "b"),
        )
        .await;
        assert_eq!(code, 404);
        assert_eq!(
            body,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "namespaces \"nope\" not found", "reason": "NotFound",
                "details": {"name": "nope", "kind": "namespaces"}, "code": 404})
        );
    })
    .await;
}

#[tokio::test]
async fn a_name_that_is_not_dns_1123_is_invalid() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let (code, body) = raw(&client, "POST", "/api/v1/namespaces/default/configmaps", "application/json", cm_body("Bad_Name", "b")).await;
        assert_eq!(code, 422);
        assert_eq!(body["reason"], "Invalid");
        assert_eq!(body["details"]["kind"], "ConfigMap");
        assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn malformed_bodies_and_wrong_content_types() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let url = "/api/v1/namespaces/default/configmaps";
        let (code, body) = raw(
            &client,
            "POST",
            url,
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
        assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
        let (code, body) = raw(&client, "POST", url, "text/plain", cm_body("a", "b")).await;
        assert_eq!(
            (code, body["reason"].as_str()),
            (415, Some("UnsupportedMediaType"))
        );
        let (code, body) = raw(
            &client,
            "POST",
            url,
            "application/json",
            br#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
        )
        .await;
        assert_eq!(code, 400);
        assert_eq!(
            body["message"],
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
        let (code, body) = raw(
            &client,
            "GET",
            "/apis/example.com/v1/widgets",
            "application/json",
            Vec::new(),
        )
        .await;
        assert_eq!(
            (code, body["message"].as_str()),
            (
                404,
                Some("the server could not find the requested resource")
            )
        );
    })
    .await;
}

/// A body over 3 MiB is refused before it is read (413); a ConfigMap's or Secret's data over
/// 1 MiB and annotations over 256 KiB fail validation (422); an object that passes validation
/// but is over etcd's 1.5 MiB request limit gets etcd's error as a 500 without a reason, except
/// in a dry run, which never reaches etcd. https://kubernetes.io/docs/concepts/configuration/configmap/#motivation
#[tokio::test]
async fn oversized_bodies_data_annotations_and_objects() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let url = "/api/v1/namespaces/default/configmaps";
        let (code, body) = raw(
            &client,
            "POST",
            url,
            "application/json",
            cm_body("huge", &"x".repeat(4 << 20)),
        )
        .await;
        assert_eq!(code, 413);
        assert_eq!(
            body["message"],
            "Request entity too large: limit is 3145728"
        );
        assert_eq!(body["reason"], "RequestEntityTooLarge");

        let (code, body) = raw(&client, "POST", url, "application/json", cm_body("big", &"x".repeat((1 << 20) + 1))).await;
        assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")), "{body}");
        assert_eq!(
            body["message"],
            "ConfigMap \"big\" is invalid: []: Too long: may not be more than 1048576 bytes"
        );
        assert_eq!(body["details"]["causes"][0]["reason"], "FieldValueTooLong");
        // Exactly 1 MiB is allowed.
        let (code, _) = raw(&client, "POST", url, "application/json", cm_body("full", &"x".repeat(1 << 20))).await;
        assert_eq!(code, 201);

        let secret = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "big"},
            "stringData": {"k": "x".repeat((1 << 20) + 1)}})).unwrap();
        let (code, body) = raw(&client, "POST", "/api/v1/namespaces/default/secrets", "application/json", secret).await;
        assert_eq!(code, 422, "{body}");
        assert_eq!(
            body["message"],
            "Secret \"big\" is invalid: data: Too long: may not be more than 1048576 bytes"
        );

        let annotated = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "noted", "annotations": {"a": "x".repeat(256 << 10)}}})).unwrap();
        let (code, body) = raw(&client, "POST", url, "application/json", annotated).await;
        assert_eq!(code, 422, "{body}");
        assert_eq!(
            body["message"],
            "ConfigMap \"noted\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"
        );

        // A valid pod of 1.6 MiB: etcd refuses it, a dry run does not get that far.
        let pod = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
            "spec": {"containers": [{"name": "app", "image": "nginx", "args": ["x".repeat(1600 << 10)]}]}})).unwrap();
        let pods = "/api/v1/namespaces/default/pods";
        let (code, body) = raw(&client, "POST", pods, "application/json", pod.clone()).await;
        assert_eq!(code, 500, "{body}");
        assert_eq!(
            body,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "etcdserver: request is too large", "code": 500})
        );
        let (code, _) = raw(&client, "POST", &format!("{pods}?dryRun=All"), "application/json", pod).await;
        assert_eq!(code, 201);
        let (code, _) = raw(&client, "GET", &format!("{pods}/big"), "application/json", Vec::new()).await;
        assert_eq!(code, 404, "neither write stored the pod");
    })
    .await;
}
