//! The renderer's integration tests: render cases (folders with an input tree and the
//! output `kubectl kustomize` gave), a differential run against `kubectl kustomize`, and
//! every kind of bad input.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on a broken fixture tree

use std::path::{Path, PathBuf};
use std::process::Command;

use gitops_manifest::yaml;
use gitops_render::{DiskFs, MemFs, RenderError, build};
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Every case: (name, the folder to build).
fn cases() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let sub = std::fs::read_to_string(dir.join("entry")).unwrap_or_else(|_| ".".into());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, dir.join("input").join(sub.trim())));
    }
    out.sort();
    out
}

/// Build `dir` with the repository root at `root`.
fn render(root: &Path, dir: &Path) -> Result<Vec<Value>, RenderError> {
    let fs = DiskFs::new(root).unwrap();
    let root = root.canonicalize().unwrap();
    let rel = dir.canonicalize().unwrap();
    build(&fs, rel.strip_prefix(&root).unwrap())
}

fn parse(text: &str) -> Vec<Value> {
    yaml::parse_documents(text).unwrap()
}

#[test]
fn render_cases_match_the_recorded_kustomize_output() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(
        all.len() >= 5,
        "expected the render cases under {}",
        cases_dir().display()
    );
    for (name, dir) in &all {
        let root = cases_dir().join(name).join("input");
        let expected =
            parse(&std::fs::read_to_string(cases_dir().join(name).join("expected.yaml")).unwrap());
        match render(&root, dir) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "{name}: output differs\n--- expected\n{}\n--- got\n{}",
                yaml::to_documents(&expected).unwrap(),
                yaml::to_documents(&got).unwrap()
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn printed_yaml_reads_back_as_the_same_objects() {
    for (name, dir) in cases() {
        let root = cases_dir().join(&name).join("input");
        let objects = render(&root, &dir).unwrap();
        let text = yaml::to_documents(&objects).unwrap();
        assert_eq!(parse(&text), objects, "{name}");
    }
}

fn kubectl_kustomize(dir: &Path) -> Option<Result<String, String>> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .ok()?;
    Some(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

/// The demo environments of the repository, when present (each is a kustomize directory).
fn demo_environments() -> Vec<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Ok(entries) = std::fs::read_dir(repo.join("environments")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn differential_against_kubectl_kustomize() {
    if kubectl_kustomize(Path::new(".")).is_none() {
        eprintln!(
            "NOTICE: kubectl is not installed; the differential test against `kubectl kustomize` is skipped"
        );
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut runs: Vec<(String, PathBuf, PathBuf)> = cases()
        .into_iter()
        .map(|(name, dir)| {
            let root = cases_dir().join(&name).join("input");
            (name, root, dir)
        })
        .collect();
    for env in demo_environments() {
        runs.push((
            format!(
                "environments/{}",
                env.file_name().unwrap().to_string_lossy()
            ),
            repo.clone(),
            env,
        ));
    }
    let mut failures = Vec::new();
    for (name, root, dir) in &runs {
        let Some(Ok(text)) = kubectl_kustomize(dir) else {
            failures.push(format!("{name}: kubectl kustomize failed"));
            continue;
        };
        match render(root, dir) {
            Ok(got) if got == parse(&text) => {}
            Ok(got) => failures.push(format!(
                "{name}: differs from kubectl kustomize\n--- kubectl\n{text}\n--- gitops\n{}",
                yaml::to_documents(&got).unwrap()
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---- bad input: one-line errors naming the file, never a panic ----

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";

fn err_of(fs: &MemFs, dir: &str) -> String {
    let err = build(fs, Path::new(dir)).expect_err("the build should fail");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "the message should be one line: {msg}");
    msg
}

#[test]
fn a_missing_resource_file_is_named() {
    let fs = MemFs::new().with("app/kustomization.yaml", "resources:\n- nope.yaml\n");
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("app/kustomization.yaml") && msg.contains("nope.yaml"),
        "{msg}"
    );
}

#[test]
fn a_missing_folder_or_one_without_kustomization_is_named() {
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- ../base\n")
        .with("base/x.yaml", DEPLOY);
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("`base`") && msg.contains("no kustomization.yaml"),
        "{msg}"
    );
    let msg = err_of(&MemFs::new().with("a/x.yaml", DEPLOY), "missing");
    assert!(
        msg.contains("missing") && msg.contains("no such directory"),
        "{msg}"
    );
}

#[test]
fn a_cycle_between_kustomizations_is_refused() {
    let fs = MemFs::new()
        .with("a/kustomization.yaml", "resources:\n- ../b\n")
        .with("b/kustomization.yaml", "resources:\n- ../a\n");
    let msg = err_of(&fs, "a");
    assert!(
        msg.contains("cycle") && msg.contains("b/kustomization.yaml"),
        "{msg}"
    );
}

#[test]
fn duplicate_object_ids_are_refused() {
    let fs = MemFs::new()
        .with(
            "app/kustomization.yaml",
            "resources:\n- one.yaml\n- two.yaml\n",
        )
        .with("app/one.yaml", DEPLOY)
        .with("app/two.yaml", DEPLOY);
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("already registered") && msg.contains("web"),
        "{msg}"
    );
}

#[test]
fn invalid_yaml_names_the_file_and_line() {
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- broken.yaml\n")
        .with(
            "app/broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\ndata: {}\n",
        );
    let err = build(&fs, Path::new("app")).unwrap_err();
    match &err {
        RenderError::Yaml { path, line, .. } => {
            assert_eq!(path, Path::new("app/broken.yaml"));
            assert!(line.is_some(), "{err}");
        }
        other => panic!("expected a YAML error, got {other}"),
    }
}

#[test]
fn a_patch_without_target_naming_an_absent_object_is_an_error() {
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- d.yaml\npatches:\n- path: p.yaml\n")
        .with("app/d.yaml", DEPLOY)
        .with("app/p.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\nspec:\n  replicas: 2\n");
    let msg = err_of(&fs, "app");
    assert!(msg.contains("patches[0]") && msg.contains("other"), "{msg}");
}

#[test]
fn a_patch_target_selecting_nothing_is_a_no_op() {
    let fs = MemFs::new()
        .with(
            "app/kustomization.yaml",
            "resources:\n- d.yaml\npatches:\n- target:\n    kind: StatefulSet\n  patch: |-\n    - op: add\n      path: /x\n      value: 1\n",
        )
        .with("app/d.yaml", DEPLOY);
    assert_eq!(build(&fs, Path::new("app")).unwrap().len(), 1);
}

#[test]
fn paths_escaping_the_root_are_refused() {
    let fs = MemFs::new().with("app/kustomization.yaml", "resources:\n- ../../etc/passwd\n");
    let msg = err_of(&fs, "app");
    assert!(msg.contains("outside the repository root"), "{msg}");
    // A file outside the kustomization's folder is refused too (kustomize's load restriction).
    let fs = MemFs::new()
        .with(
            "app/kustomization.yaml",
            "resources:\n- ../shared/cm.yaml\n",
        )
        .with(
            "shared/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        );
    let msg = err_of(&fs, "app");
    assert!(msg.contains("not in or below"), "{msg}");
    assert!(build(&fs, Path::new("../x")).is_err());
}

#[test]
fn oversized_files_and_alias_bombs_are_refused() {
    let big = "a".repeat(gitops_manifest::yaml::MAX_INPUT_BYTES + 1);
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- big.yaml\n")
        .with("app/big.yaml", big);
    let msg = err_of(&fs, "app");
    assert!(msg.contains("big.yaml") && msg.contains("limit"), "{msg}");

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- bomb.yaml\n")
        .with("app/bomb.yaml", bomb);
    let msg = err_of(&fs, "app");
    assert!(msg.contains("bomb.yaml"), "{msg}");
}

#[test]
fn unknown_and_unsupported_kustomization_keys_are_named() {
    let fs = MemFs::new().with("app/kustomization.yaml", "namePrefx: a-\n");
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("app/kustomization.yaml") && msg.contains("namePrefx"),
        "{msg}"
    );
    let fs = MemFs::new().with("app/kustomization.yaml", "vars:\n- name: X\n");
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("`vars`") && msg.contains("not supported"),
        "{msg}"
    );
}

#[test]
fn a_component_listed_as_a_resource_and_a_missing_generator_source_are_errors() {
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "resources:\n- ../comp\n")
        .with(
            "comp/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
        );
    assert!(err_of(&fs, "app").contains("Component"));
    let fs = MemFs::new().with(
        "app/kustomization.yaml",
        "configMapGenerator:\n- name: c\n  files:\n  - missing.json\n",
    );
    let msg = err_of(&fs, "app");
    assert!(
        msg.contains("configMapGenerator[0].files[0]") && msg.contains("missing.json"),
        "{msg}"
    );
}

#[test]
fn merging_into_a_generator_that_does_not_exist_is_an_error() {
    let fs = MemFs::new().with(
        "app/kustomization.yaml",
        "configMapGenerator:\n- name: c\n  behavior: merge\n  literals: [a=b]\n",
    );
    assert!(err_of(&fs, "app").contains("does not exist"));
}
