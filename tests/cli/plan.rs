//! `gitops plan`, `show` and `validate` on the demo repo against the in-process sandbox.

use crate::harness::Test;

const MISSPELLED: &str = "spec.template.spec.containers[0].imagePullPolicyy";

/// The demo repo with a misspelled field in the frontend Deployment.
fn demo_with_misspelled_field() -> Test {
    let test = Test::demo();
    let file = test.path().join("base/frontend/deployment.yaml");
    let text = std::fs::read_to_string(&file).expect("the demo Deployment");
    let text = text.replacen(
        "        - name: frontend\n",
        "        - name: frontend\n          imagePullPolicyy: Always\n",
        1,
    );
    assert!(
        text.contains("imagePullPolicyy"),
        "the demo Deployment changed shape"
    );
    test.write("base/frontend/deployment.yaml", text)
}

#[test]
fn plan_all_against_the_sandbox_creates_every_object_of_every_ring() {
    let out = Test::demo()
        .args(["plan", "--all", "--sandbox"])
        .stdout_contains("ring `dev` (in-process sandbox)")
        .stdout_contains("ring `prod-ring2` (in-process sandbox)")
        .stdout_contains(
            "+ create apps/Deployment shop-dev/frontend-dev (from base/frontend/deployment.yaml)",
        )
        .stdout_contains("Plan: 38 to create, 0 to update, 0 to delete, 0 unchanged.")
        .run();
    assert!(
        !out.stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_0_without() {
    Test::demo()
        .args(["plan", "dev", "--sandbox", "--detailed-exitcode"])
        .status(2)
        .run();
    let applied = Test::demo()
        .args(["apply", "dev", "--sandbox", "--yes"])
        .run();
    // Same repo, same sandbox state: nothing left to change.
    let again = Test::demo();
    crate::harness::copy(&applied.path(".gitops"), &again.path().join(".gitops"));
    again
        .args(["plan", "dev", "--sandbox", "--detailed-exitcode"])
        .stdout_contains("create 0, update 0, delete 0, unchanged 9")
        .status(0)
        .run();
}

#[test]
fn plan_files_are_private_and_show_prints_them_as_plan_did() {
    let out = Test::demo()
        .args(["plan", "qa", "--sandbox", "--out", "plan.json"])
        .run();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(out.path("plan.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let plan: serde_json::Value = serde_json::from_str(&out.read("plan.json")).unwrap();
    assert_eq!(plan["schemaVersion"], 1);
    assert_eq!(
        plan["rings"][0]["rendered"].as_array().map(Vec::len),
        Some(9),
        "plan files hold the objects to apply"
    );
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["show", "plan.json"])
        .current_dir(out.dir.path())
        .output()
        .unwrap();
    assert!(shown.status.success());
    assert_eq!(String::from_utf8_lossy(&shown.stdout), out.stdout);
}

#[test]
fn json_output_is_the_documented_schema_without_rendered_objects() {
    let out = Test::demo()
        .args(["plan", "dev", "--sandbox", "--output", "json"])
        .run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["schemaVersion"], 1);
    let ring = &plan["rings"][0];
    assert_eq!(ring["ring"], "dev");
    assert_eq!(ring["summary"]["create"], 9);
    assert!(ring.get("rendered").is_none());
    assert_eq!(ring["changes"][0]["op"], "create");
}

#[test]
fn azure_devops_gets_output_variables_groups_and_a_summary() {
    let test = Test::demo();
    let agent = test.path().join("agent-tmp");
    let out = test
        .args(["plan", "dev", "--sandbox"])
        .env("TF_BUILD", "True")
        .env("AGENT_TEMPDIRECTORY", &agent)
        .stdout_contains("##vso[task.setvariable variable=hasChanges;isOutput=true]true\n")
        .stdout_contains("##vso[task.setvariable variable=changedRings;isOutput=true]dev\n")
        .stdout_contains("##[group]+ create Namespace shop-dev")
        .stdout_contains("##[endgroup]")
        .run();
    assert!(out.stdout.contains(&format!(
        "##vso[task.uploadsummary]{}",
        agent.join("gitops-plan.md").display()
    )));
    assert!(
        out.read("agent-tmp/gitops-plan.md")
            .starts_with("## gitops plan\n")
    );
}

#[test]
fn github_actions_gets_step_outputs_and_a_summary() {
    let out = Test::demo()
        .args(["plan", "dev", "--sandbox"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", "gh-output")
        .env("GITHUB_STEP_SUMMARY", "gh-summary")
        .run();
    assert_eq!(
        out.read("gh-output"),
        "has-changes=true\nchanged-rings=dev\n"
    );
    assert!(out.read("gh-summary").contains("| dev | 9 | 0 | 0 | 0 |"));
}

#[test]
fn a_misspelled_field_fails_plan_and_validate_naming_the_same_field() {
    let needle = format!(
        "`apps/Deployment shop-dev/frontend-dev` (from `base/frontend/deployment.yaml`): unknown field \"{MISSPELLED}\""
    );
    // The server decodes the dry-run apply (400, naming the field) before admission finds the
    // namespace, created by this plan, missing: its message is the one shown.
    demo_with_misspelled_field()
        .args(["plan", "dev", "--sandbox"])
        .status(1)
        .stderr_contains(format!(
            "`apps/Deployment shop-dev/frontend-dev` (from `base/frontend/deployment.yaml`): dry-run apply rejected by the server (400 BadRequest): Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"{MISSPELLED}\""
        ))
        .run();
    demo_with_misspelled_field()
        .args(["validate", "dev"])
        .status(1)
        .stderr_contains(&needle)
        .run();
    let out = demo_with_misspelled_field()
        .args(["validate", "--all"])
        .env("GITHUB_ACTIONS", "true")
        .status(1)
        .run();
    assert!(
        out.stdout
            .contains("::error file=base/frontend/deployment.yaml,line="),
        "{}",
        out.stdout
    );
}

#[test]
fn validate_passes_on_the_demo_repo() {
    Test::demo()
        .args(["validate", "--all"])
        .stdout_contains("ring `prod-ring2`: 10 objects valid\n")
        .run();
}

const UNREACHABLE: &str = "apiVersion: v1\nkind: Config\ncurrent-context: aks-dev\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: aks-dev\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t0ps3cr3t-token}\n";

#[test]
fn an_unreachable_cluster_is_one_line_and_exit_1() {
    let out = Test::demo()
        .write("kubeconfig", UNREACHABLE)
        .args(["plan", "qa", "--kubeconfig", "kubeconfig"])
        .status(1)
        .stderr_contains(
            "error: ring `qa`: cannot reach the cluster at https://127.0.0.1:1 (context `aks-dev`)",
        )
        .run();
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(!out.stderr.contains("t0ps3cr3t"));
}

#[test]
fn a_context_missing_from_the_kubeconfig_is_named() {
    Test::demo()
        .write("kubeconfig", UNREACHABLE)
        .args([
            "plan",
            "qa",
            "--kubeconfig",
            "kubeconfig",
            "--context",
            "aks-prod",
        ])
        .status(1)
        .stderr_contains(
            "context `aks-prod` is not in the kubeconfig `kubeconfig` (it has: aks-dev)",
        )
        .run();
}

/// The demo repo with a misspelled field in the partnumbers Deployment, an object whose name
/// an overlay's patches also declare (so no scan of the repository could tell the files apart).
fn demo_with_misspelled_partnumbers_field() -> Test {
    let test = Test::demo();
    let file = test.path().join("base/partnumbers/deployment.yaml");
    let text = std::fs::read_to_string(&file).expect("the demo Deployment");
    let text = text.replacen(
        "        - name: partnumbers\n",
        "        - name: partnumbers\n          imagePullPolicyy: Always\n",
        1,
    );
    assert!(
        text.contains("imagePullPolicyy") && text.contains("\n  name: partnumbers\n"),
        "the demo Deployment changed shape"
    );
    test.write("base/partnumbers/deployment.yaml", text)
}

#[test]
fn objects_name_the_file_they_were_declared_in_even_generated_or_patched_elsewhere() {
    let out = Test::demo()
        .args(["plan", "dev", "--sandbox"])
        .stdout_contains(
            "+ create apps/Deployment shop-dev/partnumbers-dev (from base/partnumbers/deployment.yaml)\n",
        )
        .run();
    // Generated ConfigMaps (name hashed, suffixed) come from the ring's kustomization.
    let generated: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("+ create ConfigMap shop-dev/"))
        .collect();
    assert_eq!(generated.len(), 2, "{}", out.stdout);
    for line in generated {
        assert!(
            line.ends_with(" (from environments/dev/kustomization.yaml)"),
            "{line}"
        );
    }
    // An error names the file and the line of the object's `name:` (line 4), in plan and validate.
    let plan = demo_with_misspelled_partnumbers_field()
        .args(["plan", "dev", "--sandbox"])
        .env("GITHUB_ACTIONS", "true")
        .status(1)
        .stderr_contains(
            "`apps/Deployment shop-dev/partnumbers-dev` (from `base/partnumbers/deployment.yaml`): dry-run apply rejected by the server",
        )
        .run();
    assert!(
        plan.stdout
            .contains("::error file=base/partnumbers/deployment.yaml,line=4::"),
        "{}",
        plan.stdout
    );
    let validate = demo_with_misspelled_partnumbers_field()
        .args(["validate", "dev"])
        .env("TF_BUILD", "True")
        .status(1)
        .stderr_contains(format!(
            "`apps/Deployment shop-dev/partnumbers-dev` (from `base/partnumbers/deployment.yaml`): unknown field \"{MISSPELLED}\""
        ))
        .run();
    assert!(
        validate.stdout.contains(
            "##vso[task.logissue type=error;sourcepath=base/partnumbers/deployment.yaml;linenumber=4]"
        ),
        "{}",
        validate.stdout
    );
}
