//! `gitops sandbox` as a process: it serves with glibc's larger per-thread malloc caches (it
//! re-runs itself with `GLIBC_TUNABLES`, keeping its process id), unless the user set the
//! variable, and the process that answers is the one that was started.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use crate::served::Served;

/// The environment of a running process, as `KEY=VALUE` entries.
fn environment(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read the environment");
    raw.split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

/// `kubectl get namespaces` answers through the started process.
fn answers(served: &Served) {
    let out = served
        .kubectl()
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl get namespaces failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/default"));
}

#[test]
fn the_server_runs_with_larger_malloc_caches_and_keeps_its_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = Served::start_with(&dir.path().join("kubeconfig"), &[], |command| {
        command.env_remove("GLIBC_TUNABLES");
    });
    let env = environment(served.pid());
    assert!(
        env.iter()
            .any(|e| e == "GLIBC_TUNABLES=glibc.malloc.tcache_count=1000"),
        "the served process runs without the larger caches: {env:?}"
    );
    answers(&served);
    served.stop();
}

#[test]
fn glibc_tunables_set_by_the_user_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = Served::start_with(&dir.path().join("kubeconfig"), &[], |command| {
        command.env("GLIBC_TUNABLES", "glibc.malloc.arena_max=2");
    });
    let env = environment(served.pid());
    assert!(
        env.iter()
            .any(|e| e == "GLIBC_TUNABLES=glibc.malloc.arena_max=2"),
        "the user's GLIBC_TUNABLES was replaced: {env:?}"
    );
    answers(&served);
    served.stop();
}
