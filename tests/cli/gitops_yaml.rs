//! Bad `gitops.yaml` files and ring names: one clear line naming the file, exit 1, no panic.

use crate::harness::Test;

const TWO_RINGS: &str = "rings:\n  - name: dev\n  - name: qa\n";

/// A ring folder with one ConfigMap, enough for a render to succeed.
fn ring(name: &str) -> (String, String) {
    (
        format!("environments/{name}/kustomization.yaml"),
        format!("resources:\n- configmap.yaml\nnamespace: shop-{name}\n"),
    )
}

fn with_rings(test: Test, names: &[&str]) -> Test {
    names.iter().fold(test, |test, name| {
        let (path, text) = ring(name);
        test.write(path, text).write(
            format!("environments/{name}/configmap.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
        )
    })
}

#[test]
fn a_ring_the_file_lacks_is_named_with_the_file() {
    with_rings(Test::new().write("gitops.yaml", TWO_RINGS), &["dev", "qa"])
        .args(["render", "dev", "staging"])
        .status(1)
        .stdout("")
        .stderr_contains("gitops.yaml` has no ring `staging` (its rings: `dev`, `qa`)")
        .run();
}

#[test]
fn no_gitops_yaml_here_or_above() {
    let test = Test::new();
    // The search climbs past the scratch folder; a stray file above it would be found.
    let stray = test
        .path()
        .ancestors()
        .map(|dir| dir.join("gitops.yaml"))
        .find(|file| file.exists());
    assert!(
        stray.is_none(),
        "remove {stray:?}: this test needs no `gitops.yaml` above the temp folder"
    );
    let out = test
        .create_dir("somewhere/deeper")
        .current_dir("somewhere/deeper")
        .args(["render", "--all"])
        .status(1)
        .run();
    assert!(
        out.stderr.starts_with("error: no `gitops.yaml` in `"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("somewhere/deeper` or any folder above it"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn a_repo_flag_without_gitops_yaml() {
    Test::new()
        .create_dir("not-a-repo")
        .args(["render", "--all", "--repo", "not-a-repo"])
        .status(1)
        .stderr_contains("`not-a-repo/gitops.yaml`: cannot read:")
        .run();
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let out = with_rings(Test::new(), &["dev"])
        .write(
            "gitops.yaml",
            "rings:\n  - name: dev\n    aproval: required\n",
        )
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("gitops.yaml`: line 3")
        .stderr_contains("unknown field `aproval`")
        .run();
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn an_unknown_top_level_key() {
    with_rings(Test::new(), &["dev"])
        .write(
            "gitops.yaml",
            "rings:\n  - name: dev\nhistroy:\n  keep: 3\n",
        )
        .args(["render", "--all"])
        .status(1)
        .stderr_contains("unknown field `histroy`")
        .run();
}

#[test]
fn invalid_yaml_gives_the_line() {
    with_rings(Test::new(), &["dev"])
        .write("gitops.yaml", "rings:\n  - name: dev\n  wait: [5m\n")
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("gitops.yaml`: line ")
        .run();
}

#[test]
fn a_bad_duration_is_quoted() {
    with_rings(Test::new(), &["dev"])
        .write(
            "gitops.yaml",
            "rings:\n  - name: dev\n    soak: ten minutes\n",
        )
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("`ten minutes` is not a duration")
        .run();
}

#[test]
fn a_ring_declared_twice() {
    with_rings(Test::new(), &["dev"])
        .write("gitops.yaml", "rings:\n  - name: dev\n  - name: dev\n")
        .args(["render", "--all"])
        .status(1)
        .stderr_contains("gitops.yaml`: ring `dev` is declared twice")
        .run();
}

#[test]
fn a_ring_path_may_not_leave_the_repo() {
    with_rings(Test::new(), &["dev"])
        .write(
            "repo/gitops.yaml",
            "rings:\n  - name: dev\n    path: ../environments/dev\n",
        )
        .current_dir("repo")
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("ring `dev`: path `../environments/dev` leaves the repo root")
        .run();
}

#[test]
fn a_ring_folder_that_does_not_exist() {
    Test::new()
        .write("gitops.yaml", "rings:\n  - name: dev\n    path: envs/dev\n")
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("envs/dev")
        .run();
}

#[test]
fn neither_a_ring_nor_all() {
    with_rings(Test::new().write("gitops.yaml", TWO_RINGS), &["dev", "qa"])
        .arg("render")
        .status(1)
        .stderr_contains("name the rings to use")
        .stderr_contains("`dev`, `qa`) or pass `--all`")
        .run();
}

#[test]
fn rings_and_all_together_is_a_usage_error() {
    with_rings(Test::new().write("gitops.yaml", TWO_RINGS), &["dev", "qa"])
        .args(["render", "dev", "--all"])
        .status(1)
        .stderr_contains("cannot be used with")
        .run();
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let huge = format!("rings:\n  - name: dev\n# {}\n", "x".repeat(9 * 1024 * 1024));
    with_rings(Test::new(), &["dev"])
        .write("gitops.yaml", &huge)
        .args(["render", "dev"])
        .status(1)
        .stderr_contains(format!(
            "gitops.yaml`: the file is {} bytes, over the limit of 8388608 bytes",
            huge.len()
        ))
        .run();
}

#[test]
fn an_alias_bomb_is_refused() {
    // Eleven levels of ten aliases each: 10^11 nodes if expanded. Refused either by the
    // reader's budget or by the first value of the wrong type, whichever comes first.
    let mut bomb =
        String::from("rings:\n  - name: dev\n    context: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!(
            "  - name: r{level}\n    context: &a{level} [{refs}]\n"
        ));
    }
    let out = with_rings(Test::new(), &["dev"])
        .write("gitops.yaml", bomb)
        .args(["render", "dev"])
        .status(1)
        .stderr_contains("gitops.yaml`: line ")
        .run();
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
