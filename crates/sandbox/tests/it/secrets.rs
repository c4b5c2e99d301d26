//! Secret `stringData` is write-only: merged into `data` (base64) on every write, overwriting
//! keys of `data`, never stored or returned.
//! https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{raw, sandbox, timed};

const URL: &str = "/api/v1/namespaces/default/secrets";

fn data(secret: &Value) -> Value {
    secret["data"].clone()
}

#[tokio::test]
async fn create_merges_string_data_into_data_and_never_returns_it() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"user": "b2xk", "host": "ZGI="}, "stringData": {"user": "admin", "password": "hunter2"}});
        let (code, created) = raw(&client, "POST", URL, "application/json", serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(code, 201, "{created}");
        let expected = json!({"user": "YWRtaW4=", "host": "ZGI=", "password": "aHVudGVyMg=="});
        assert_eq!(data(&created), expected);
        assert!(created.get("stringData").is_none(), "{created}");
        let (_, read) = raw(&client, "GET", &format!("{URL}/db"), "application/json", Vec::new()).await;
        assert_eq!(data(&read), expected);
        assert!(read.get("stringData").is_none(), "{read}");
        let (_, list) = raw(&client, "GET", URL, "application/json", Vec::new()).await;
        assert!(list["items"][0].get("stringData").is_none());
    })
    .await;
}

#[tokio::test]
async fn update_and_merge_patch_overwrite_data_keys_from_string_data() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Secret> = Api::default_namespaced(client.clone());
        let secret: Secret = serde_json::from_value(
            json!({"metadata": {"name": "s"}, "data": {"a": "YQ==", "b": "Yg=="}}),
        )
        .unwrap();
        let mut stored = api.create(&PostParams::default(), &secret).await.unwrap();
        stored.string_data = Some([("a".to_string(), "new".to_string())].into());
        let replaced = serde_json::to_value(
            api.replace("s", &PostParams::default(), &stored)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data(&replaced), json!({"a": "bmV3", "b": "Yg=="}));
        assert!(replaced.get("stringData").is_none());
        let patched = api
            .patch(
                "s",
                &PatchParams::default(),
                &Patch::Merge(json!({"stringData": {"c": "see"}})),
            )
            .await
            .unwrap();
        let patched = serde_json::to_value(patched).unwrap();
        assert_eq!(
            data(&patched),
            json!({"a": "bmV3", "b": "Yg==", "c": "c2Vl"})
        );
        assert!(patched.get("stringData").is_none());
    })
    .await;
}

#[tokio::test]
async fn server_side_apply_of_string_data_is_unchanged_the_second_time() {
    timed(async {
        let (_sandbox, client) = sandbox();
        let api: Api<Secret> = Api::default_namespaced(client);
        let applied = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"},
            "type": "Opaque", "stringData": {"password": "hunter2"}});
        let params = PatchParams::apply("gitops").force();
        let first = serde_json::to_value(
            api.patch("app", &params, &Patch::Apply(&applied))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data(&first), json!({"password": "aHVudGVyMg=="}));
        assert!(first.get("stringData").is_none());
        // What `gitops plan` does next time: a dry run of the same configuration equals the live object.
        let dry = serde_json::to_value(
            api.patch("app", &params.clone().dry_run(), &Patch::Apply(&applied))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data(&dry), data(&first));
        assert!(dry.get("stringData").is_none());
        assert_eq!(
            dry["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]
        );
        // A changed value replaces the old one.
        let changed = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"},
            "type": "Opaque", "stringData": {"password": "correct horse"}});
        let second = serde_json::to_value(
            api.patch("app", &params, &Patch::Apply(&changed))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data(&second), json!({"password": "Y29ycmVjdCBob3JzZQ=="}));
    })
    .await;
}
