//! `build_with_origins`: the same objects as `build`, each with the file (and line) it was
//! declared in — resource files, generators in kustomizations, plugin configurations —
//! whatever prefixes, suffixes and hashes the build added to its name.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on a broken fixture tree

use std::path::{Path, PathBuf};

use gitops_render::{DiskFs, MemFs, Origin, build, build_with_origins};
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn origin(file: &str, line: u64) -> Option<Origin> {
    Some(Origin {
        file: PathBuf::from(file),
        line: Some(line),
    })
}

/// (kind, name) → origin of every object of the build of `dir`.
fn origins(fs: &MemFs, dir: &str) -> Vec<(String, String, Option<Origin>)> {
    build_with_origins(fs, Path::new(dir))
        .unwrap()
        .into_iter()
        .map(|b| {
            (
                b.object["kind"].as_str().unwrap().to_string(),
                b.object["metadata"]["name"].as_str().unwrap().to_string(),
                b.origin,
            )
        })
        .collect()
}

const BASE_KUSTOMIZATION: &str = "\
resources:
- app.yaml
configMapGenerator:
- name: settings
  literals: [a=1]
";

const APP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web
";

#[test]
fn objects_name_their_file_and_the_line_of_their_declared_name() {
    let fs = MemFs::new()
        .with("base/kustomization.yaml", BASE_KUSTOMIZATION)
        .with("base/app.yaml", APP)
        .with(
            "prod/kustomization.yaml",
            "\
namePrefix: prod-
resources:
- ../base
- extra.yaml
configMapGenerator:
- name: settings
  behavior: merge
  literals: [b=2]
secretGenerator:
- name: creds
  literals: [password=x]
generators:
- |-
  apiVersion: builtin
  kind: ConfigMapGenerator
  metadata:
    name: inline-gen
  literals: [c=3]
",
        )
        .with(
            "prod/extra.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: robot\n",
        );
    let got = origins(&fs, "prod");
    let find = |kind: &str, prefix: &str| {
        got.iter()
            .find(|(k, n, _)| k == kind && n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {kind} {prefix}* in {got:?}"))
            .2
            .clone()
    };
    assert_eq!(find("Deployment", "prod-web"), origin("base/app.yaml", 4));
    assert_eq!(find("Service", "prod-web"), origin("base/app.yaml", 15));
    assert_eq!(
        find("ServiceAccount", "prod-robot"),
        origin("prod/extra.yaml", 7)
    );
    // Generator output: the kustomization that declared the generator, at its `name:`; a
    // merge keeps the object where it was first declared.
    assert_eq!(
        find("ConfigMap", "prod-settings-"),
        origin("base/kustomization.yaml", 4)
    );
    assert_eq!(
        find("Secret", "prod-creds-"),
        origin("prod/kustomization.yaml", 10)
    );
    assert_eq!(
        find("ConfigMap", "prod-inline-gen-"),
        origin("prod/kustomization.yaml", 17)
    );
}

#[test]
fn a_replacing_generator_declares_the_object_anew() {
    let fs = MemFs::new()
        .with("base/kustomization.yaml", BASE_KUSTOMIZATION)
        .with("base/app.yaml", APP)
        .with(
            "prod/kustomization.yaml",
            "resources:\n- ../base\nconfigMapGenerator:\n- name: settings\n  behavior: replace\n  literals: [b=2]\n",
        );
    let got = origins(&fs, "prod");
    let cm = got.iter().find(|(k, _, _)| k == "ConfigMap").unwrap();
    assert_eq!(cm.2, origin("prod/kustomization.yaml", 4));
}

#[test]
fn a_generator_configured_in_a_file_is_declared_there() {
    let fs = MemFs::new()
        .with("app/kustomization.yaml", "generators:\n- gen.yaml\n")
        .with(
            "app/gen.yaml",
            "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: token\nliterals: [t=1]\n",
        );
    let got = origins(&fs, "app");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2, origin("app/gen.yaml", 4));
}

/// Every render case: the objects are exactly `build`'s, and each has an origin in an
/// existing file of the case.
#[test]
fn every_render_case_builds_the_same_objects_each_with_an_origin() {
    let mut checked = 0;
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let case = entry.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        let sub = std::fs::read_to_string(case.join("entry")).unwrap_or_else(|_| ".".into());
        let root = case.join("input");
        let fs = DiskFs::new(&root).unwrap();
        let dir = Path::new(sub.trim());
        let plain: Vec<Value> = build(&fs, dir).unwrap();
        let built = build_with_origins(&fs, dir).unwrap();
        let objects: Vec<Value> = built.iter().map(|b| b.object.clone()).collect();
        assert_eq!(objects, plain, "{}", case.display());
        for b in &built {
            let origin = b
                .origin
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no origin for {}", case.display(), b.object));
            assert!(
                root.join(&origin.file).is_file(),
                "{}: {origin:?}",
                case.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} objects checked");
}
