//! The shipped pipelines (`examples/*.yml`) and in-cluster manifests (`deploy/`) parse, and
//! every `gitops` command they run exists with the flags they pass, checked against the real
//! clap definitions: renaming a flag without updating the examples fails this test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser as _;
use serde_json::Value;

use crate::cli::{Cli, Command};
use crate::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    gitops_manifest::yaml::parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every shell script of a pipeline: Azure's `script`/`bash`, GitHub's `run`.
fn scripts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("script" | "bash" | "run", Value::String(s)) => out.push(s.clone()),
                    _ => scripts(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| scripts(v, out)),
        _ => {}
    }
}

/// Every string under the key `environment`.
fn environments(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("environment", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => environments(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| environments(v, out)),
        _ => {}
    }
}

/// Split a shell line into words (quotes removed), stopping at the first operator.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    let end = out
        .iter()
        .position(|w| [">", ">>", "|", "||", "&&", ";", "2>&1"].contains(&w.as_str()))
        .unwrap_or(out.len());
    out.truncate(end);
    out
}

/// The `gitops …` command lines of a script (continuation lines joined).
fn gitops_commands(script: &str) -> Vec<Vec<String>> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("gitops "))
        .map(words)
        .collect()
}

/// Parse every `gitops` command of `file` with the real CLI; return them parsed.
fn parsed(file: &str) -> (Vec<Value>, Vec<Cli>) {
    let docs = documents(&root().join(file));
    let mut all = Vec::new();
    scripts(&Value::Array(docs.clone()), &mut all);
    let mut clis = Vec::new();
    for script in &all {
        for argv in gitops_commands(script) {
            let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| {
                panic!(
                    "{file}: `{}` is not a valid gitops command:\n{e}",
                    argv.join(" ")
                )
            });
            clis.push(cli);
        }
    }
    (docs, clis)
}

fn check_pipeline(file: &str) {
    let (docs, clis) = parsed(file);
    let config = Config::load(&root().join("gitops.yaml")).expect("the demo gitops.yaml");
    let rings: Vec<String> = config.rings.iter().map(|r| r.name.clone()).collect();

    let plan = clis.iter().find_map(|c| match &c.command {
        Command::Plan(p) => Some(p),
        _ => None,
    });
    let plan = plan.unwrap_or_else(|| panic!("{file}: no `gitops plan`"));
    assert!(
        plan.select.all && plan.out.is_some() && plan.detailed_exitcode,
        "{file}: plan must be `--all --out FILE --detailed-exitcode`"
    );

    // One `gitops apply RING --plan FILE` per ring, in gitops.yaml order; `approval: required`
    // rings pass `--approve RING` (the CI environment's approval is the approval).
    let applies: Vec<(String, bool)> = clis
        .iter()
        .filter_map(|c| match &c.command {
            Command::Apply(a) => {
                assert!(a.plan.is_some(), "{file}: apply without `--plan`");
                assert_eq!(a.select.rings.len(), 1, "{file}: one ring per stage");
                Some((
                    a.select.rings[0].clone(),
                    a.gate.approve.contains(&a.select.rings[0]),
                ))
            }
            _ => None,
        })
        .collect();
    let mut applied: Vec<String> = applies.iter().map(|(r, _)| r.clone()).collect();
    applied.sort();
    let mut sorted = rings.clone();
    sorted.sort();
    assert_eq!(applied, sorted, "{file}: one apply per ring");
    for (ring, approves) in &applies {
        let required = config
            .ring(ring)
            .is_some_and(|r| r.approval == crate::config::Approval::Required);
        assert_eq!(
            *approves, required,
            "{file}: ring `{ring}`: `--approve` exactly when the ring requires approval"
        );
    }
    // Each ring's stage (job) depends on the previous ring's, the first on the plan: the
    // release follows gitops.yaml order.
    let stages = stages_by_environment(&docs[0]);
    let mut previous = "plan".to_string();
    for ring in &rings {
        let (name, needs) = stages
            .iter()
            .find(|(_, (env, _))| env == ring)
            .map(|(n, (_, needs))| (n.clone(), needs.clone()))
            .unwrap_or_else(|| panic!("{file}: no stage with `environment: {ring}`"));
        assert_eq!(
            needs,
            vec![previous.clone()],
            "{file}: `{name}` must depend on `{previous}` only"
        );
        previous = name;
    }

    let mut envs = BTreeSet::new();
    environments(&Value::Array(docs.clone()), &mut envs);
    assert_eq!(
        envs,
        rings.iter().cloned().collect::<BTreeSet<_>>(),
        "{file}: one environment per ring"
    );

    // The image is built for several platforms by a docker-container builder with QEMU,
    // all set up in the job that builds.
    let text = serde_json::to_string(&docs).expect("json");
    for needle in ["docker-container", "linux/amd64,linux/arm64"] {
        assert!(text.contains(needle), "{file}: lacks {needle}");
    }
    assert!(
        text.contains("binfmt") || text.contains("setup-qemu-action"),
        "{file}: no QEMU/binfmt"
    );

    // Registry passwords go through stdin or an action input, never a command line or echo.
    let mut all = Vec::new();
    scripts(&Value::Array(docs), &mut all);
    for script in &all {
        if script.contains("DOCKER_PASSWORD") {
            assert!(
                script.contains("--password-stdin"),
                "{file}: a script uses DOCKER_PASSWORD without --password-stdin:\n{script}"
            );
            assert!(
                !script.contains("echo \"$DOCKER_PASSWORD")
                    && !script.contains("echo $DOCKER_PASSWORD"),
                "{file}: echoes the password"
            );
        }
    }
}

/// Stage (Azure) or job (GitHub) name → (its environment, what it depends on).
fn stages_by_environment(doc: &Value) -> Vec<(String, (String, Vec<String>))> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    if let Some(stages) = doc["stages"].as_array() {
        for stage in stages {
            let mut envs = BTreeSet::new();
            environments(stage, &mut envs);
            if let (Some(name), Some(env)) = (stage["stage"].as_str(), envs.into_iter().next()) {
                out.push((name.to_string(), (env, list(&stage["dependsOn"]))));
            }
        }
    }
    if let Some(jobs) = doc["jobs"].as_object() {
        for (name, job) in jobs {
            if let Some(env) = job["environment"].as_str() {
                out.push((name.clone(), (env.to_string(), list(&job["needs"]))));
            }
        }
    }
    out
}

#[test]
fn azure_pipeline_commands_exist_with_their_flags() {
    check_pipeline("examples/azure-pipelines.yml");
}

#[test]
fn github_workflow_commands_exist_with_their_flags() {
    check_pipeline("examples/github-actions.yml");
}

#[test]
fn the_in_cluster_deployment_runs_a_valid_watch_with_leader_election() {
    let docs = documents(&root().join("deploy/deployment.yaml"));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut argv = vec!["gitops".to_string()];
    argv.extend(
        container["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("string").to_string()),
    );
    let cli = Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("deploy/deployment.yaml: `{}`:\n{e}", argv.join(" ")));
    let Command::Watch(watch) = cli.command else {
        panic!("deploy/deployment.yaml does not run `gitops watch`");
    };
    assert!(watch.leader_elect, "two replicas need --leader-elect");
    assert!(watch.listen.is_some(), "probes need --listen");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    // The token comes from a Secret, never from the manifest.
    assert!(
        container["env"]
            .as_array()
            .expect("env")
            .iter()
            .all(|e| e.get("value").is_none())
    );
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(
        words(r#"gitops apply dev --plan "$(Pipeline.Workspace)/plan/plan.json" > out.txt"#),
        [
            "gitops",
            "apply",
            "dev",
            "--plan",
            "$(Pipeline.Workspace)/plan/plan.json"
        ]
    );
    assert_eq!(
        words("gitops show 'a b' --output markdown"),
        ["gitops", "show", "a b", "--output", "markdown"]
    );
}
