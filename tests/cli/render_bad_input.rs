//! Bad kustomize input through the real binary (issue 2, item 5): every case runs both
//! `gitops render RING` and `gitops build DIR` and must print exactly one line that names the
//! file (and the field or line where there is one), exit 1, print nothing on stdout, and never
//! panic (the harness checks that on every run).
//!
//! The bad `gitops.yaml` cases (unknown key, unknown ring, invalid YAML, oversized, alias bomb)
//! are in `gitops_yaml.rs`.

use crate::harness::Test;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";

/// A repo with one ring, `dev`, whose folder holds `cm.yaml` and the given kustomization.
fn ring_with(kustomization: &str) -> Test {
    Test::new()
        .write("gitops.yaml", "rings:\n  - name: dev\n")
        .write("environments/dev/cm.yaml", CONFIGMAP)
        .write("environments/dev/kustomization.yaml", kustomization)
}

/// `gitops render dev` and `gitops build environments/dev` both fail with exactly `message`
/// (render prefixes the ring), one line on stderr, exit 1, nothing on stdout.
fn both_fail_with(test: impl Fn() -> Test, message: &str) {
    test()
        .args(["render", "dev"])
        .status(1)
        .stdout("")
        .stderr(format!("error: ring `dev`: {message}\n"))
        .run();
    test()
        .args(["build", "environments/dev"])
        .status(1)
        .stdout("")
        .stderr(format!("error: {message}\n"))
        .run();
}

#[test]
fn render_a_missing_resource_file() {
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\n- nope.yaml\n"),
        "`environments/dev/kustomization.yaml`: `resources[1]`: `nope.yaml`: no such file or directory",
    );
}

#[test]
fn render_a_missing_folder() {
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\n- ../../base/frontend\n"),
        "`environments/dev/kustomization.yaml`: `resources[1]`: `../../base/frontend`: no such file or directory",
    );
}

#[test]
fn render_a_folder_without_a_kustomization() {
    both_fail_with(
        || ring_with("resources:\n- ../../base\n").write("base/cm.yaml", CONFIGMAP),
        "`base`: no kustomization.yaml, kustomization.yml or Kustomization in this directory",
    );
}

#[test]
fn render_a_ring_folder_without_a_kustomization() {
    // The ring's own folder exists but holds only manifests.
    let test = || {
        Test::new()
            .write("gitops.yaml", "rings:\n  - name: dev\n")
            .write("environments/dev/cm.yaml", CONFIGMAP)
    };
    both_fail_with(
        test,
        "`environments/dev`: no kustomization.yaml, kustomization.yml or Kustomization in this directory",
    );
}

#[test]
fn render_a_cycle_between_kustomizations() {
    both_fail_with(
        || {
            ring_with("resources:\n- cm.yaml\n- ../../base\n").write(
                "base/kustomization.yaml",
                "resources:\n- ../environments/dev\n",
            )
        },
        "`base/kustomization.yaml`: `resources[0]`: cycle: `environments/dev` is already being built (environments/dev → base → environments/dev)",
    );
}

#[test]
fn render_duplicate_object_ids() {
    both_fail_with(
        || {
            ring_with("resources:\n- cm.yaml\n- ../../base\n")
                .write("base/kustomization.yaml", "resources:\n- cm.yaml\n")
                .write("base/cm.yaml", CONFIGMAP)
        },
        "`environments/dev/kustomization.yaml`: `resources[1]`: may not add resource with an already registered id: ConfigMap.v1 settings",
    );
}

#[test]
fn render_invalid_yaml_in_a_resource_gives_the_line() {
    both_fail_with(
        || {
            ring_with("resources:\n- cm.yaml\n").write(
                "environments/dev/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [settings\ndata: {}\n",
            )
        },
        "`environments/dev/cm.yaml` line 5: invalid YAML: illegal placement of ':' indicator at line 5, column 5",
    );
}

#[test]
fn render_invalid_yaml_in_the_kustomization_gives_the_line() {
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\nnamespace: [shop\n"),
        "`environments/dev/kustomization.yaml` line 3: invalid YAML: unclosed bracket '[' at line 3, column 12",
    );
}

#[test]
fn render_invalid_yaml_in_an_inline_patch_names_the_field() {
    // The parser's line counts from the start of the inline text: the error says so instead
    // of pointing at line 4 of the kustomization.
    both_fail_with(
        || {
            ring_with(
                "resources:\n- cm.yaml\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: [settings\n",
            )
        },
        "`environments/dev/kustomization.yaml`: `patches[0].patch`: invalid YAML (line 4 of the inline text): unclosed bracket '[' at line 4, column 9",
    );
}

#[test]
fn render_a_patch_that_matches_nothing() {
    // A patch without a target patches the object it names; naming one that is not there is
    // an error (kustomize: "no resource matches strategic merge patch").
    both_fail_with(
        || {
            ring_with(
                "resources:\n- cm.yaml\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: setings\n    data:\n      a: c\n",
            )
        },
        "`environments/dev/kustomization.yaml`: `patches[0]`: no resource matches strategic merge patch ConfigMap.v1 setings",
    );
    // The deprecated spelling, from a file.
    both_fail_with(
        || {
            ring_with("resources:\n- cm.yaml\npatchesStrategicMerge:\n- fix.yaml\n").write(
                "environments/dev/fix.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  a: c\n",
            )
        },
        "`environments/dev/kustomization.yaml`: `patchesStrategicMerge[0]`: no resource matches strategic merge patch ConfigMap.v1 other",
    );
}

#[test]
fn render_a_patch_target_selecting_nothing_is_a_no_op_as_in_kustomize() {
    // kustomize v5.5 applies a `target:` patch to what the selector selects, which may be
    // nothing (a Component shared by rings relies on it); `kubectl kustomize` prints the
    // objects unchanged, and so does gitops (the shared conformance case
    // `own__patch-target-matches-nothing-is-noop` checks the same against the oracle).
    ring_with(
        "resources:\n- cm.yaml\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 2\n",
    )
    .args(["render", "dev"])
    .stdout("apiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  name: settings\n")
    .stderr("")
    .run();
}

#[test]
fn render_a_path_escaping_the_repo_root_is_refused() {
    both_fail_with(
        || ring_with("resources:\n- ../../../outside.yaml\n"),
        "`environments/dev/kustomization.yaml`: `resources[0]`: `../../../outside.yaml` is outside the repository root (refused)",
    );
    // A file outside the kustomization's own folder (kustomize's load restriction).
    both_fail_with(
        || ring_with("resources:\n- ../../base/cm.yaml\n").write("base/cm.yaml", CONFIGMAP),
        "`environments/dev/kustomization.yaml`: `resources[0]`: security: file `base/cm.yaml` is not in or below `environments/dev`",
    );
}

#[test]
fn render_a_symbolic_link_out_of_the_repo_is_refused() {
    let outside = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(outside.path().join("cm.yaml"), CONFIGMAP).expect("write");
    let test = || {
        let test = ring_with("resources:\n- linked.yaml\n");
        std::os::unix::fs::symlink(
            outside.path().join("cm.yaml"),
            test.path().join("environments/dev/linked.yaml"),
        )
        .expect("symlink");
        test
    };
    both_fail_with(
        test,
        "`environments/dev/linked.yaml`: is outside the repository root",
    );
}

#[test]
fn render_an_oversized_file_is_refused() {
    let big = format!("# {}\n", "x".repeat(9 * 1024 * 1024));
    both_fail_with(
        || ring_with("resources:\n- big.yaml\n").write("environments/dev/big.yaml", &big),
        &format!(
            "`environments/dev/big.yaml`: is {} bytes, over the limit of 8388608 bytes",
            big.len()
        ),
    );
}

#[test]
fn render_a_yaml_alias_bomb_is_refused_quickly() {
    // Eleven levels of ten aliases: 10^11 nodes if expanded.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let out = ring_with("resources:\n- bomb.yaml\n")
        .write("environments/dev/bomb.yaml", &bomb)
        .args(["render", "dev"])
        .status(1)
        .stdout("")
        .stderr_contains("error: ring `dev`: `environments/dev/bomb.yaml` line ")
        .stderr_contains("the YAML expands beyond the reader's limits")
        .run();
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "refused within a bound, not after expanding: {:?}",
        started.elapsed()
    );
}

#[test]
fn render_an_unknown_kustomization_key_is_named() {
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\nnamePrefx: shop-\n"),
        "`environments/dev/kustomization.yaml`: `namePrefx`: unknown field",
    );
}

#[test]
fn render_an_unknown_key_inside_an_entry_names_the_entry() {
    both_fail_with(
        || {
            ring_with(
                "resources:\n- cm.yaml\nimages:\n- name: nginx\n  newTag: \"1\"\n- name: redis\n  newtag: \"7\"\n",
            )
        },
        "`environments/dev/kustomization.yaml`: `images[1]`: unknown field `newtag`, expected one of `name`, `newName`, `newTag`, `digest`, `tagSuffix`",
    );
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\nnamespace: 5\n"),
        "`environments/dev/kustomization.yaml`: `namespace`: invalid type: integer `5`, expected a string",
    );
    both_fail_with(
        || ring_with("resources: cm.yaml\n"),
        "`environments/dev/kustomization.yaml`: `resources`: invalid type: string \"cm.yaml\", expected a sequence",
    );
}

#[test]
fn render_unsupported_kustomize_features_are_named_never_skipped() {
    both_fail_with(
        || {
            ring_with(
                "resources:\n- cm.yaml\nhelmCharts:\n- name: nginx\n  repo: https://charts.example.com\n  version: 1.0.0\n",
            )
        },
        "`environments/dev/kustomization.yaml`: `helmCharts`: not supported by gitops build",
    );
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\nvars:\n- name: X\n"),
        "`environments/dev/kustomization.yaml`: `vars`: not supported by gitops build",
    );
    both_fail_with(
        || ring_with("resources:\n- https://github.com/example/repo//app?ref=v1\n"),
        "`environments/dev/kustomization.yaml`: `resources[0]`: remote resource `https://github.com/example/repo//app?ref=v1` is not supported",
    );
}

#[test]
fn render_a_number_where_kustomize_wants_a_string_is_refused_not_rewritten() {
    // Unquoted, `1.10` is the number 1.1: kustomize refuses it; a silent `nginx:1.1` or label
    // `1.1` would deploy something else than what the file seems to say.
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\nimages:\n- name: nginx\n  newTag: 1.10\n"),
        "`environments/dev/kustomization.yaml`: `images[0]`: `newTag` must be a string, but the YAML holds the number `1.1`: quote the tag (`newTag: \"...\"`)",
    );
    both_fail_with(
        || ring_with("resources:\n- cm.yaml\ncommonLabels:\n  version: 1.10\n"),
        "`environments/dev/kustomization.yaml`: `commonLabels`: `version`: must be a string, but the YAML holds the number `1.1`: quote it",
    );
}
