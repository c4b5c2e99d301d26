//! `gitops render RING` against the reference, `kubectl kustomize environments/RING`, on the
//! demo repo: the same objects in the same order, compared as data.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{Test, project_root};

fn kubectl_kustomize(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("kubectl is needed for the differential tests (it is on every machine and in CI): {e}"));
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&String::from_utf8_lossy(&output.stdout))
}

fn parse(text: &str) -> Vec<Value> {
    gitops_manifest::yaml::parse_documents(text).expect("valid YAML")
}

/// Equal, or a panic that shows the first object that differs.
fn assert_same_objects(ring: &str, ours: &[Value], reference: &[Value]) {
    let name = |o: &Value| {
        format!(
            "{}/{}",
            o["kind"].as_str().unwrap_or("?"),
            o["metadata"]["name"].as_str().unwrap_or("?")
        )
    };
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!(
            a == b,
            "{ring}: object {i} differs: gitops gave {}, kubectl kustomize gave {}\n--- gitops:\n{a:#}\n--- kubectl kustomize:\n{b:#}",
            name(a),
            name(b)
        );
    }
    assert_eq!(
        ours.iter().map(name).collect::<Vec<_>>(),
        reference.iter().map(name).collect::<Vec<_>>(),
        "{ring}: different object lists"
    );
}

#[test]
fn every_demo_ring_renders_like_kubectl_kustomize() {
    let root = project_root();
    for ring in ["dev", "qa", "prod-ring1", "prod-ring2"] {
        let reference = kubectl_kustomize(&root.join("environments").join(ring));
        let out = Test::new()
            .args(["render", ring, "--repo"])
            .arg(&root)
            .run();
        assert_same_objects(ring, &parse(&out.stdout), &reference);
    }
}

#[test]
fn a_changed_demo_ring_still_renders_like_kubectl_kustomize() {
    // The same check on an edited copy: a ring that adds its own suffix, replicas and an
    // annotation patch, so the comparison is not only of the checked-in files.
    let test = Test::demo().write(
        "environments/qa/kustomization.yaml",
        std::fs::read_to_string(project_root().join("environments/qa/kustomization.yaml")).unwrap()
            + "replicas:\n  - name: partnumbers\n    count: 2\ncommonAnnotations:\n  team: parts\n",
    );
    let reference = kubectl_kustomize(&test.path().join("environments/qa"));
    let out = test.args(["render", "qa"]).run();
    let ours = parse(&out.stdout);
    assert_same_objects("qa", &ours, &reference);
    assert!(
        ours.iter().any(|o| o["spec"]["replicas"] == 2),
        "the edit took effect"
    );
}
