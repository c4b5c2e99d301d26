//! `gitops apply`, `history`, `rollback` and `unlock` (issue 5) as real processes against
//! `gitops sandbox` over HTTPS, each test asserting the cluster afterwards with real `kubectl`:
//! what a user would see in the cluster, not only the exit code.

mod support;

use serde_json::Value;
use tempfile::TempDir;

use support::{FOUR_RINGS, FRONTEND, Repo, Sandbox};

const RINGS: [&str; 4] = ["dev", "qa", "prod-ring1", "prod-ring2"];

/// The frontend image each ring of the demo deploys.
fn demo_image(ring: &str) -> String {
    let tag = match ring {
        "dev" => "1.5.0-ci.412",
        "qa" => "1.5.0-rc.2",
        "prod-ring1" => "1.4.1",
        _ => "1.4.0",
    };
    format!("{FRONTEND}:{tag}")
}

/// `ci-tester@host (pid N)`: the user the tests run `gitops` as.
fn is_tester(who: &Value) -> bool {
    who.as_str()
        .is_some_and(|w| w.starts_with("ci-tester@") && w.contains("(pid "))
}

#[test]
fn apply_all_approved_deploys_every_ring_in_order_and_records_one_revision_each() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    let commit = repo.git(&["rev-parse", "HEAD"]);

    let out = repo
        .gitops(&["apply", "--all", "--approve", "all"])
        .expect(0);
    for (i, ring) in RINGS.iter().enumerate() {
        let line = format!("✓ {ring}: succeeded (revision 1)");
        let at = out.stdout.find(&line);
        assert!(at.is_some(), "no {line:?}\n{}", out.report());
        // The report lists the rings in gitops.yaml order.
        if i > 0 {
            let before = out.stdout.find(&format!("✓ {}:", RINGS[i - 1]));
            assert!(before < at, "rings out of order\n{}", out.report());
        }
    }

    for ring in RINGS {
        let ns = format!("shop-{ring}");
        sandbox.wait_rolled_out(ring, &demo_image(ring));
        assert!(sandbox.exists("deployment", &format!("partnumbers-{ring}"), &ns));
        assert!(sandbox.exists("service", &format!("frontend-{ring}"), &ns));
        assert_eq!(
            sandbox
                .field(
                    "pvc",
                    &format!("frontend-data-{ring}"),
                    &ns,
                    "{.status.phase}"
                )
                .as_deref(),
            Some("Bound")
        );
        // Every object carries the ApplySet label, so kubectl sees the inventory.
        let members = sandbox
            .kubectl(&[
                "get",
                "deployments,services,configmaps",
                "-n",
                &ns,
                "-l",
                "applyset.kubernetes.io/part-of",
                "-o",
                "name",
            ])
            .expect(0);
        assert_eq!(members.stdout.lines().count(), 6, "{}", members.report());
        // The lock is released at the end.
        assert!(!sandbox.exists("lease", &format!("gitops-lock-{ring}"), "gitops-system"));

        let revisions = repo.history(ring);
        assert_eq!(revisions.len(), 1, "{revisions:?}");
        let r = &revisions[0];
        assert_eq!(r["number"], 1);
        assert_eq!(r["commit"], commit.as_str());
        assert_eq!(r["outcome"], "succeeded");
        assert_eq!(r["trigger"], "apply");
        assert!(is_tester(&r["who"]), "{r}");
        let seconds = r["durationSeconds"].as_f64().unwrap_or(0.0);
        assert!(seconds > 0.0 && seconds < 240.0, "{r}");

        let text = repo.gitops(&["history", ring]).expect(0);
        let lines: Vec<&str> = text.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{}", text.report());
        for column in ["REVISION", "TIME", "COMMIT", "WHO", "OUTCOME", "DURATION"] {
            assert!(lines[0].contains(column), "{}", text.report());
        }
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row[0], "1", "{}", text.report());
        assert_eq!(row[2], &commit[..12], "{}", text.report());
        assert!(row[3].starts_with("ci-tester@"), "{}", text.report());
        assert!(lines[1].contains(" succeeded "), "{}", text.report());
        assert!(
            row.iter()
                .any(|c| c.ends_with('s') && c[..c.len() - 1].parse::<f64>().is_ok()),
            "no duration\n{}",
            text.report()
        );
    }
}

#[test]
fn an_approval_required_ring_without_approve_is_blocked_with_its_plan_and_left_untouched() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);

    // stdin is not a terminal: nobody can be asked.
    repo.gitops(&["apply", "--all"])
        .expect(4)
        .says("✓ dev: succeeded (revision 1)")
        .says("✓ qa: succeeded (revision 1)")
        .says("✗ prod-ring1: blocked: ring `prod-ring1` requires approval: pass `--approve prod-ring1`")
        .says("- prod-ring2: not-run")
        // The plan the approver needs, printed.
        .says("+ create apps/Deployment shop-prod-ring1/frontend-prod-ring1");

    sandbox.wait_rolled_out("dev", &demo_image("dev"));
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    for ring in ["prod-ring1", "prod-ring2"] {
        assert!(!sandbox.exists("namespace", &format!("shop-{ring}"), ""));
        assert!(!sandbox.exists("pv", &format!("frontend-disk-{ring}"), ""));
        assert!(repo.history(ring).is_empty());
    }
    assert!(!sandbox.exists("lease", "gitops-lock-prod-ring1", "gitops-system"));

    // Approving only prod-ring1 applies it; prod-ring2 stays blocked.
    repo.gitops(&["apply", "--all", "--approve", "prod-ring1"])
        .expect(4)
        .says("✓ prod-ring1: succeeded (revision 1)")
        .says("✗ prod-ring2: blocked");
    sandbox.wait_rolled_out("prod-ring1", &demo_image("prod-ring1"));
    assert!(!sandbox.exists("namespace", "shop-prod-ring2", ""));
}

/// A Lease held by someone else, written with kubectl, as another machine's run leaves it.
fn foreign_lease(ring: &str, acquired_seconds_ago: i64) -> String {
    let now = chrono::Utc::now();
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: gitops-lock-{ring}\n  namespace: gitops-system\nspec:\n  holderIdentity: bob@build-agent-7 (pid 4242)\n  leaseDurationSeconds: 3600\n  acquireTime: {}\n  renewTime: {}\n",
        at(now - chrono::Duration::seconds(acquired_seconds_ago)),
        at(now),
    )
}

/// The age printed after `prefix` (`2m30s`, as kubectl prints ages) is at least `at_least`
/// seconds and, however slow the machine, less than ten minutes more.
fn assert_age(text: &str, prefix: &str, at_least: u64) {
    let age = text
        .split(prefix)
        .nth(1)
        .and_then(|rest| rest.split([',', ' ', '\n']).next())
        .unwrap_or_else(|| panic!("no age after {prefix:?} in {text}"));
    let (minutes, seconds) = age
        .strip_suffix('s')
        .and_then(|a| a.split_once('m'))
        .unwrap_or_else(|| panic!("age {age:?} is not like 2m30s in {text}"));
    let total =
        minutes.parse::<u64>().expect("minutes") * 60 + seconds.parse::<u64>().expect("seconds");
    assert!(
        (at_least..at_least + 600).contains(&total),
        "age {age:?} in {text}"
    );
}

#[test]
fn a_lock_held_by_another_holder_blocks_with_holder_and_age_until_unlock() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    let lease = dir.path().join("lease.yaml");
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: gitops-system\n---\n";
    std::fs::write(&lease, format!("{namespace}{}", foreign_lease("qa", 150))).unwrap();
    sandbox
        .kubectl(&["apply", "-f", lease.to_str().unwrap()])
        .expect(0);

    let blocked = repo
        .gitops(&["apply", "qa"])
        .expect(4)
        .says("✗ qa: blocked: ring `qa` is locked by bob@build-agent-7 (pid 4242), for ")
        .says("run `gitops unlock qa`");
    let held = "locked by bob@build-agent-7 (pid 4242), for ";
    assert_age(&blocked.stdout, held, 150);
    assert!(
        !sandbox.exists("namespace", "shop-qa", ""),
        "{}",
        blocked.report()
    );
    assert_eq!(
        sandbox
            .field(
                "lease",
                "gitops-lock-qa",
                "gitops-system",
                "{.spec.holderIdentity}"
            )
            .as_deref(),
        Some("bob@build-agent-7 (pid 4242)"),
        "the other holder's lock is left alone"
    );
    assert!(repo.history("qa").is_empty());

    let unlocked = repo
        .gitops(&["unlock", "qa"])
        .expect(0)
        .says("removed the lock of ring `qa` held by bob@build-agent-7 (pid 4242), for ");
    assert_age(
        &unlocked.stdout,
        "held by bob@build-agent-7 (pid 4242), for ",
        150,
    );
    assert!(!sandbox.exists("lease", "gitops-lock-qa", "gitops-system"));
    repo.gitops(&["unlock", "qa"])
        .expect(0)
        .says("ring `qa` is not locked");

    repo.gitops(&["apply", "qa"])
        .expect(0)
        .says("✓ qa: succeeded (revision 1)");
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    assert!(!sandbox.exists("lease", "gitops-lock-qa", "gitops-system"));
}

#[test]
fn a_second_gitops_process_is_blocked_by_the_first_ones_lock() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    // A long soak keeps the first run (and its lock) going.
    let repo = Repo::new(
        &dir,
        &sandbox,
        "rings:\n  - name: dev\n    wait: 120s\n    soak: 10m\n",
    );
    let mut first = repo.spawn(dir.path(), &["apply", "dev"]);
    let pid = first.id();
    sandbox.wait_for("the first run's lock", |s| {
        s.field(
            "lease",
            "gitops-lock-dev",
            "gitops-system",
            "{.spec.holderIdentity}",
        )
        .is_some_and(|h| h.contains(&format!("(pid {pid})")))
    });
    repo.gitops(&["apply", "dev"])
        .expect(4)
        .says("ring `dev` is locked by ci-tester@")
        .says(&format!("(pid {pid}), for "));
    // SIGTERM: the first run stops, records the run as interrupted and releases its lock.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = std::time::Instant::now() + support::WAIT;
    let code = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = first.kill();
            panic!("the first run did not stop after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(code, Some(1), "an interrupted run is not a success");
    assert!(!sandbox.exists("lease", "gitops-lock-dev", "gitops-system"));
    let revisions = repo.history("dev");
    assert_eq!(revisions.len(), 1, "{revisions:?}");
    assert_eq!(revisions[0]["outcome"], "interrupted");
}

#[test]
fn a_crash_looping_image_in_qa_is_diagnosed_and_rolled_back_and_later_rings_are_untouched() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    repo.gitops(&["apply", "dev", "qa", "prod-ring1", "--approve", "all"])
        .expect(0);
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    let prod_generation = || {
        sandbox.field(
            "deployment",
            "frontend-prod-ring1",
            "shop-prod-ring1",
            "{.metadata.generation}",
        )
    };
    let prod_before = prod_generation();

    // One commit: qa gets a crash-looping frontend, prod-ring1 a new one.
    let crashing = format!("{FRONTEND}:1.6.0-crashloop");
    repo.set_frontend_tag("qa", "1.6.0-crashloop");
    repo.set_frontend_tag("prod-ring1", "1.6.0");
    repo.commit("frontend 1.6.0");
    let out = repo
        .gitops(&["apply", "--all", "--approve", "all"])
        .expect(3)
        .says("✓ dev: ")
        .says("✗ qa: rolled-back (revision 2): the health gate failed")
        .says("apps/Deployment shop-qa/frontend-qa")
        .says("rolled back to the objects before the run, healthy")
        .says("- prod-ring1: not-run")
        .says("- prod-ring2: not-run");
    // The diagnosis: the failing container, its state and the previous run's log lines.
    let text = &out.stdout;
    let diagnosis = text
        .split("  diagnosis:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no diagnosis\n{}", out.report()));
    assert!(
        diagnosis.contains("container frontend: ") && diagnosis.contains("CrashLoopBackOff"),
        "{}",
        out.report()
    );
    // The log lines of the run that crashed come from `logs --previous`: a kubelet restarts a
    // container at once after its first crash and backs off only from the second, so a
    // container in CrashLoopBackOff has restarted and its crashed run is the previous one
    // (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts).
    assert!(
        diagnosis.contains("lines (logs --previous):"),
        "{}",
        out.report()
    );
    assert!(
        diagnosis.contains(&format!(
            "| fatal: frontend exited: the image tag of \"{crashing}\" ends in -crashloop"
        )),
        "{}",
        out.report()
    );
    assert!(text.contains("  rollback:\n"), "{}", out.report());

    // qa is back on its earlier image, rolled out; prod-ring1 was not touched.
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    assert_eq!(
        sandbox.frontend_image("prod-ring1"),
        Some(demo_image("prod-ring1"))
    );
    assert_eq!(prod_generation(), prod_before);
    assert_eq!(repo.history("prod-ring1").len(), 1);
    assert!(!sandbox.exists("namespace", "shop-prod-ring2", ""));
    let qa = repo.history("qa");
    assert_eq!(qa.len(), 2, "{qa:?}");
    assert_eq!(qa[1]["outcome"], "rolled-back");

    // --no-rollback: the ring is left crash-looping, the record says so, and the JSON report
    // carries the diagnosis.
    let out = repo
        .gitops(&["apply", "qa", "--no-rollback", "--output", "json"])
        .expect(3);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", out.report()));
    let ring = &report["rings"][0];
    assert_eq!(ring["ring"], "qa", "{}", out.report());
    assert_eq!(ring["status"], "failed", "{}", out.report());
    assert_eq!(ring["revision"], 3, "{}", out.report());
    assert!(
        ring["message"]
            .as_str()
            .is_some_and(|m| m.contains("left as it is (--no-rollback)")),
        "{}",
        out.report()
    );
    assert!(ring.get("rollback").is_none(), "{}", out.report());
    let failing = failing_containers(&ring["diagnosis"]);
    let frontend = failing
        .iter()
        .find(|c| c["name"] == "frontend")
        .unwrap_or_else(|| panic!("no failing frontend container\n{}", out.report()));
    assert!(
        frontend["restartCount"].as_i64().unwrap_or(0) >= 1,
        "{frontend}"
    );
    assert_eq!(frontend["logSource"], "previous", "{frontend}");
    assert!(
        frontend["lastTermination"]
            .as_str()
            .is_some_and(|t| t.contains("exit code 1")),
        "{frontend}"
    );
    assert!(
        frontend["logs"].as_array().is_some_and(|l| l
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("ends in -crashloop")))),
        "{frontend}"
    );
    assert_eq!(sandbox.frontend_image("qa"), Some(crashing.clone()));
    let record = sandbox.record("qa", 3);
    assert_eq!(record["outcome"], "failed");
    assert!(
        record["message"]
            .as_str()
            .is_some_and(|m| m.contains("left as it is (--no-rollback)")),
        "{}",
        record["message"]
    );
    assert!(record.get("rollback").is_none());
    assert!(!failing_containers(&record["diagnosis"]).is_empty());
    assert_eq!(repo.history("qa")[2]["outcome"], "failed");
    assert_eq!(prod_generation(), prod_before);
}

#[test]
fn a_failing_init_container_is_diagnosed_by_name_with_its_log_and_rolled_back() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    repo.gitops(&["apply", "qa"]).expect(0);
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    let init_image = |s: &Sandbox| {
        s.field(
            "deployment",
            "frontend-qa",
            "shop-qa",
            "{.spec.template.spec.initContainers[0].image}",
        )
    };
    let busybox = "mcr.microsoft.com/azurelinux/busybox";
    assert_eq!(init_image(&sandbox), Some(format!("{busybox}:1.36")));

    // The config-copying init container of qa's frontend starts failing.
    let file = repo.path.join("environments/qa/kustomization.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen(
        "images:\n",
        &format!("images:\n  - name: {busybox}\n    newTag: 1.36-crashloop\n"),
        1,
    );
    assert_ne!(changed, text, "the qa kustomization changed shape");
    std::fs::write(&file, changed).unwrap();
    repo.commit("a broken init container");
    let out = repo
        .gitops(&["apply", "qa"])
        .expect(3)
        .says("✗ qa: rolled-back (revision 2): the health gate failed")
        .says("init container init-copy-config: ")
        .says(&format!(
            "| fatal: init-copy-config exited: the image tag of \"{busybox}:1.36-crashloop\" ends in -crashloop"
        ));
    assert!(out.stdout.contains("  diagnosis:\n"), "{}", out.report());

    // Rolled back: the init container runs its earlier image again and the frontend is up.
    sandbox.wait_rolled_out("qa", &demo_image("qa"));
    assert_eq!(init_image(&sandbox), Some(format!("{busybox}:1.36")));
    let record = sandbox.record("qa", 2);
    assert_eq!(record["outcome"], "rolled-back");
    let failing = failing_containers(&record["diagnosis"]);
    assert!(
        failing
            .iter()
            .any(|c| c["name"] == "init-copy-config" && c["init"] == true),
        "{}",
        record["diagnosis"]
    );
}

/// The containers a diagnosis marks as failing.
fn failing_containers(diagnosis: &Value) -> Vec<Value> {
    diagnosis
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["pods"].as_array().cloned().unwrap_or_default())
        .flat_map(|p| p["containers"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["failing"] == true)
        .collect()
}

#[test]
fn rollback_to_an_earlier_revision_redeploys_its_image_as_a_new_revision() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.gitops(&["apply", "dev"]).expect(0);
    repo.set_frontend_tag("dev", "1.6.0");
    repo.commit("frontend 1.6.0");
    repo.gitops(&["apply", "dev"])
        .expect(0)
        .says("✓ dev: succeeded (revision 2)");
    sandbox.wait_rolled_out("dev", &format!("{FRONTEND}:1.6.0"));

    // Run where only LOGNAME names the user (cron, `su -`): the record still says who.
    repo.gitops_env(
        &["rollback", "dev", "--to", "1"],
        &[("USER", None), ("LOGNAME", Some("release-bot"))],
    )
    .expect(0)
    .says("✓ dev: succeeded (revision 3)");
    sandbox.wait_rolled_out("dev", &demo_image("dev"));

    let revisions = repo.history("dev");
    assert_eq!(revisions.len(), 3, "{revisions:?}");
    let third = &revisions[2];
    assert_eq!(third["number"], 3);
    assert_eq!(third["outcome"], "succeeded");
    assert_eq!(third["trigger"], "rollback --to 1");
    assert_eq!(third["commit"], first.as_str(), "revision 1's commit");
    assert!(
        third["who"]
            .as_str()
            .is_some_and(|w| w.starts_with("release-bot@")),
        "{third}"
    );
    assert!(is_tester(&revisions[1]["who"]), "{revisions:?}");
    let text = repo.gitops(&["history", "dev"]).expect(0);
    let row = text.stdout.lines().nth(3).unwrap_or_default();
    assert!(
        row.starts_with("3 ") && row.contains(" succeeded ") && row.ends_with("rollback --to 1"),
        "{}",
        text.report()
    );
    // An unknown revision is one clear error, and nothing changes.
    repo.gitops(&["rollback", "dev", "--to", "9"]).expect(1);
    assert_eq!(repo.history("dev").len(), 3);
    assert_eq!(sandbox.frontend_image("dev"), Some(demo_image("dev")));
}

#[test]
fn a_saved_plan_is_refused_after_kubectl_changed_a_bound_object() {
    let dir = TempDir::new().unwrap();
    let sandbox = Sandbox::start(dir.path());
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    repo.gitops(&["apply", "dev"]).expect(0);
    sandbox.wait_rolled_out("dev", &demo_image("dev"));
    repo.set_frontend_tag("dev", "1.7.0");
    repo.commit("frontend 1.7.0");
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    repo.gitops(&["plan", "dev", "--out", plan_arg]).expect(0);

    // Someone edits the Deployment by hand between plan and apply.
    sandbox
        .kubectl(&[
            "annotate",
            "deployment",
            "frontend-dev",
            "-n",
            "shop-dev",
            "hotfix=by-hand",
        ])
        .expect(0);
    repo.gitops(&["apply", "--plan", plan_arg])
        .expect(1)
        .says("the plan is stale, re-run `gitops plan`")
        .says("`apps/Deployment shop-dev/frontend-dev` changed since the plan");
    assert_eq!(sandbox.frontend_image("dev"), Some(demo_image("dev")));
    assert_eq!(
        sandbox
            .field(
                "deployment",
                "frontend-dev",
                "shop-dev",
                "{.metadata.annotations.hotfix}"
            )
            .as_deref(),
        Some("by-hand")
    );
    assert_eq!(repo.history("dev").len(), 1, "nothing recorded");
    assert!(!sandbox.exists("lease", "gitops-lock-dev", "gitops-system"));

    // A fresh plan goes through, exactly as planned.
    repo.gitops(&["plan", "dev", "--out", plan_arg]).expect(0);
    repo.gitops(&["apply", "--plan", plan_arg])
        .expect(0)
        .says("✓ dev: succeeded (revision 2)");
    sandbox.wait_rolled_out("dev", &format!("{FRONTEND}:1.7.0"));
}

#[test]
fn a_failed_apply_call_is_rolled_back_recorded_as_such_and_exits_1_not_3() {
    let dir = TempDir::new().unwrap();
    let state = dir.path().join("sandbox-state.json");
    let state_arg = state.to_str().unwrap();
    let sandbox = Sandbox::start_with(dir.path(), &["--state", state_arg]);
    let repo = Repo::new(&dir, &sandbox, FOUR_RINGS);
    repo.gitops(&["apply", "dev"]).expect(0);
    sandbox.wait_rolled_out("dev", &demo_image("dev"));
    let configmaps = |s: &Sandbox| {
        let out = s
            .kubectl(&["get", "configmaps", "-n", "shop-dev", "-o", "name"])
            .expect(0);
        let mut names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        names.sort();
        names
    };
    let before = configmaps(&sandbox);

    // A new image and new settings (a new hashed ConfigMap the Deployment points to), planned
    // while the API is healthy.
    repo.set_frontend_tag("dev", "1.8.0");
    let settings = repo.path.join("environments/dev/appsettings.json");
    let text = std::fs::read_to_string(&settings).unwrap();
    let changed = text.replace("\"Ring\": \"dev\"", "\"Ring\": \"dev-1.8\"");
    assert_ne!(changed, text, "the demo settings changed shape");
    std::fs::write(&settings, changed).unwrap();
    repo.commit("frontend 1.8.0");
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.to_str().unwrap();
    repo.gitops(&["plan", "dev", "--out", plan_arg])
        .expect(0)
        .says("+ create ConfigMap shop-dev/frontend-appsettings-dev-");

    // The same cluster comes back with every Deployment write failing (HTTP 500).
    sandbox.stop();
    let sandbox = Sandbox::start_with(
        dir.path(),
        &[
            "--state",
            state_arg,
            "--faults",
            "verb=patch,resource=deployments,error=1,status=500",
        ],
    );
    let out = repo
        .gitops(&["apply", "--plan", plan_arg])
        .expect(1)
        .says("✗ dev: error-rolled-back (revision 2): ")
        .says("apps/Deployment shop-dev/frontend-dev")
        .says("rolled back to the objects before the run, healthy");
    assert!(out.stdout.contains("  rollback:\n"), "{}", out.report());

    // Back as before: the old image, rolled out; the ConfigMap this run created deleted again.
    sandbox.wait_rolled_out("dev", &demo_image("dev"));
    assert_eq!(configmaps(&sandbox), before, "{}", out.report());
    let revisions = repo.history("dev");
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[1]["outcome"], "error-rolled-back");
    let record = sandbox.record("dev", 2);
    assert_eq!(record["outcome"], "error-rolled-back");
    assert!(
        record["rollback"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
            && record["rollback"].get("errors").is_none(),
        "{}",
        record["rollback"]
    );
    assert!(
        record["diagnosis"].is_null(),
        "no gate failed, nothing to diagnose"
    );
    // `gitops rollback` goes back from what is deployed (revision 1): nothing before it.
    repo.gitops(&["rollback", "dev"])
        .expect(1)
        .says("no successful revision before the current one");
}
