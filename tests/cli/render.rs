//! `gitops render`: the rings of `gitops.yaml`, built and printed or written per ring.

use serde_json::Value;

use crate::harness::Test;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";

/// A repo with rings dev and qa, each a namespace around one ConfigMap.
fn two_rings() -> Test {
    Test::new()
        .write(
            "gitops.yaml",
            "rings:\n  - name: dev\n  - name: qa\n    approval: required\n",
        )
        .write("base/configmap.yaml", CONFIGMAP)
        .write("base/kustomization.yaml", "resources:\n- configmap.yaml\n")
        .write(
            "environments/dev/kustomization.yaml",
            "namespace: shop-dev\nresources:\n- ../../base\n",
        )
        .write(
            "environments/qa/kustomization.yaml",
            "namespace: shop-qa\nresources:\n- ../../base\n",
        )
}

fn rendered(namespace: &str) -> String {
    format!(
        "apiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {namespace}\n"
    )
}

fn documents(text: &str) -> Vec<Value> {
    gitops_manifest::yaml::parse_documents(text).expect("gitops printed valid YAML")
}

fn field<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {object}"))
}

#[test]
fn prints_one_ring_as_yaml() {
    two_rings()
        .args(["render", "dev"])
        .stdout(rendered("shop-dev"))
        .stderr("")
        .run();
}

#[test]
fn all_rings_in_release_order_one_stream_each() {
    let expected = format!("{}---\n{}", rendered("shop-dev"), rendered("shop-qa"));
    two_rings()
        .args(["render", "--all"])
        .stdout(expected.clone())
        .run();
    // The order is the release order of gitops.yaml, not the order on the command line.
    two_rings()
        .args(["render", "qa", "dev"])
        .stdout(expected)
        .run();
}

#[test]
fn finds_gitops_yaml_above_the_current_folder() {
    two_rings()
        .current_dir("environments/qa")
        .args(["render", "qa"])
        .stdout(rendered("shop-qa"))
        .run();
}

#[test]
fn the_repo_flag_points_at_the_repo_from_elsewhere() {
    Test::new()
        .write("elsewhere/.keep", "")
        .write(
            "repo/gitops.yaml",
            "rings:\n  - name: dev\n    path: deploy/dev\n",
        )
        .write(
            "repo/deploy/dev/kustomization.yaml",
            "namespace: team\nresources:\n- cm.yaml\n",
        )
        .write("repo/deploy/dev/cm.yaml", CONFIGMAP)
        .current_dir("elsewhere")
        .args(["render", "dev", "--repo", "../repo"])
        .stdout(rendered("team"))
        .run();
}

#[test]
fn out_writes_one_file_per_ring() {
    let out = two_rings()
        .args(["render", "--all", "--out", "rendered"])
        .stdout("")
        .run();
    assert_eq!(out.read("rendered/dev.yaml"), rendered("shop-dev"));
    assert_eq!(out.read("rendered/qa.yaml"), rendered("shop-qa"));
    assert!(out.stderr.contains("rendered/dev.yaml"), "{}", out.stderr);
    let mut names: Vec<_> = std::fs::read_dir(out.path("rendered"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dev.yaml", "qa.yaml"]);
}

#[test]
fn a_broken_ring_writes_nothing_and_names_the_file() {
    let out = two_rings()
        .write(
            "environments/qa/kustomization.yaml",
            "namespace: shop-qa\nresources:\n- ../../base\n- missing.yaml\n",
        )
        .args(["render", "--all", "--out", "rendered"])
        .status(1)
        .stderr_contains("missing.yaml")
        .run();
    assert!(
        out.stderr.contains("`qa`"),
        "the error names the ring: {}",
        out.stderr
    );
    assert!(
        !out.path("rendered/dev.yaml").exists(),
        "no partial output when a ring fails"
    );
}

#[test]
fn the_demo_repo_gives_each_ring_its_own_disk() {
    let out = Test::demo().args(["render", "--all", "--out", "out"]).run();
    let mut volumes = Vec::new();
    for ring in ["dev", "qa", "prod-ring1", "prod-ring2"] {
        let objects = documents(&out.read(format!("out/{ring}.yaml")));
        let of_kind =
            |kind: &'static str| objects.iter().filter(move |o| field(o, "/kind") == kind);
        let pv = of_kind("PersistentVolume")
            .next()
            .expect("a PersistentVolume");
        let pvc = of_kind("PersistentVolumeClaim")
            .next()
            .expect("a PersistentVolumeClaim");
        assert_eq!(field(pv, "/spec/csi/driver"), "disk.csi.azure.com");
        assert!(
            field(pv, "/spec/csi/volumeHandle").ends_with(&format!("/disks/frontend-data-{ring}"))
        );
        assert_eq!(
            field(pvc, "/spec/volumeName"),
            field(pv, "/metadata/name"),
            "{ring}: the claim binds its own disk"
        );
        assert_eq!(field(pvc, "/metadata/namespace"), format!("shop-{ring}"));
        volumes.push(field(pv, "/metadata/name").to_string());

        let frontend = of_kind("Deployment")
            .find(|d| field(d, "/metadata/name").starts_with("frontend"))
            .unwrap();
        let init = &frontend["spec"]["template"]["spec"]["initContainers"][0];
        assert_eq!(init["name"], "init-copy-config");
        let image = field(frontend, "/spec/template/spec/containers/0/image");
        assert!(
            image.starts_with("myregistry.azurecr.io/frontend:"),
            "{image}"
        );
        // The ConfigMap the init container copies from is the ring's own, by its hashed name.
        let source = field(frontend, "/spec/template/spec/volumes/0/configMap/name");
        let configmap = of_kind("ConfigMap")
            .find(|c| field(c, "/metadata/name") == source)
            .expect("the referenced ConfigMap");
        assert!(
            field(configmap, "/data/appsettings.json").contains(&format!("\"Ring\": \"{ring}\""))
        );
    }
    volumes.sort();
    volumes.dedup();
    assert_eq!(
        volumes.len(),
        4,
        "PersistentVolumes are cluster-scoped: one name per ring: {volumes:?}"
    );
}
