//! A Secret written with `stringData` through `gitops apply` and `gitops plan` against
//! `gitops sandbox` over HTTPS: the API server merges `stringData` into `data` and never returns
//! it (https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data), so a
//! second plan has nothing to change, a changed value is an update, and no value is ever printed.

use base64::Engine as _;

use crate::harness::Test;
use crate::kubeconfig::Sandbox;

const PASSWORD: &str = "s3cret-Pa55word-1";
const NEW_PASSWORD: &str = "n3w-Pa55word-2";

/// The demo repo whose `dev` ring also renders a Secret with `stringData`, planned or applied
/// against `sandbox`.
fn demo_with_secret(sandbox: &Sandbox, password: &str) -> Test {
    let test = Test::demo();
    let kustomization = test.path().join("environments/dev/kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization).expect("the dev kustomization");
    let text = text.replacen(
        "  - namespace.yaml\n",
        "  - namespace.yaml\n  - secret.yaml\n",
        1,
    );
    assert!(
        text.contains("secret.yaml"),
        "the dev kustomization changed shape"
    );
    test.write("environments/dev/kustomization.yaml", text)
        .write(
            "environments/dev/secret.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\nstringData:\n  password: {password}\n"
            ),
        )
        .arg("--kubeconfig")
        .arg(&sandbox.kubeconfig_path)
        .env("HTTPS_PROXY", "")
        .env("https_proxy", "")
}

/// Neither the value nor its base64 appears in `text`.
fn assert_hidden(text: &str, values: &[&str]) {
    for value in values {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        assert!(
            !text.contains(value) && !text.contains(&encoded),
            "a secret value was printed:\n{text}"
        );
    }
}

#[test]
fn string_data_is_merged_on_the_server_so_the_second_plan_is_unchanged_and_values_stay_hidden() {
    let sandbox = Sandbox::start();
    let applied = demo_with_secret(&sandbox, PASSWORD)
        .args(["apply", "dev", "--yes"])
        .run();
    assert_hidden(&(applied.stdout + &applied.stderr), &[PASSWORD]);

    // As on a real cluster: data holds the value, stringData is gone.
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&sandbox.kubeconfig_path)
        .args([
            "get",
            "secret",
            "db-credentials-dev",
            "-n",
            "shop-dev",
            "-o",
            "json",
        ])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        secret["data"]["password"],
        base64::engine::general_purpose::STANDARD.encode(PASSWORD)
    );
    assert!(secret.get("stringData").is_none(), "{secret}");

    let again = demo_with_secret(&sandbox, PASSWORD)
        .args(["plan", "dev", "--detailed-exitcode"])
        .stdout_contains("create 0, update 0, delete 0, unchanged 10")
        .run();
    assert_hidden(&again.stdout, &[PASSWORD]);

    for output in ["text", "json", "markdown"] {
        let changed = demo_with_secret(&sandbox, NEW_PASSWORD)
            .args(["plan", "dev", "--detailed-exitcode", "--output", output])
            .status(2)
            .stdout_contains("db-credentials-dev")
            .run();
        assert_hidden(
            &(changed.stdout + &changed.stderr),
            &[PASSWORD, NEW_PASSWORD],
        );
    }
}
