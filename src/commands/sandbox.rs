//! `gitops sandbox`: serve the Kubernetes API emulator over HTTPS until SIGINT/SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use gitops_sandbox::faults::FaultConfig;
use gitops_sandbox::session::{Session, SessionOptions, shutdown_signal};
use gitops_sandbox::{clock, kubeconfig, server, tls};

use crate::cli::{GlobalArgs, SandboxArgs};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<Exit> {
    if global.sandbox {
        anyhow::bail!("`gitops sandbox` serves the sandbox; `--sandbox` is for the other commands");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    with_larger_thread_caches();
    let time_scale = clock::parse_scale(&args.time_scale)?;
    let faults = match &args.faults {
        Some(spec) => FaultConfig::parse(spec)?,
        None => FaultConfig::from_env()?,
    };
    let kubeconfig_path = global
        .kubeconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from(kubeconfig::DEFAULT_PATH));
    let runtime = super::apply::runtime()?;
    runtime.block_on(async {
        let listener = server::bind(args.listen).await?;
        let addr = listener
            .local_addr()
            .context("reading the listen address")?;
        let credentials = tls::Credentials::generate()?;
        kubeconfig::write(&kubeconfig_path, addr, &credentials)?;
        let session = Session::start(SessionOptions {
            state: args.state.clone(),
            time_scale,
            faults,
        })?;
        println!("sandbox: serving https://{addr}");
        println!("kubeconfig: {}", kubeconfig_path.display());
        if let Some(state) = &args.state {
            println!("state: {}", state.display());
        }
        println!(
            "try: KUBECONFIG={} kubectl get nodes",
            kubeconfig_path.display()
        );
        server::serve(listener, &credentials, session.service(), shutdown_signal()).await;
        session.shutdown().await?;
        eprintln!("sandbox: stopped");
        Ok(Exit::Success)
    })
}

/// glibc's malloc tunable for the sandbox server: each thread keeps up to this many freed
/// blocks of each small size for reuse (the default is 7).
/// <https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html>
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TUNABLES: &str = "glibc.malloc.tcache_count=1000";

/// Serve with glibc's per-thread caches of freed blocks made larger, by running this same
/// command again with `GLIBC_TUNABLES` set (glibc reads it only when a process starts; the
/// process keeps its id, arguments and standard streams).
///
/// Why: a request to the sandbox builds and drops thousands of small blocks of a few sizes
/// (the JSON maps and strings of an object and of its managed fields). With 7 cached blocks
/// per size, the rest go back to glibc's shared bins and are sorted there again on the next
/// request: a quarter of the server's CPU on a plan of 2,003 unchanged objects
/// (docs/performance.md, Sandbox API). A `GLIBC_TUNABLES` set by the user is left as it is.
/// Nothing else changes: if the new image cannot start, this process serves as before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_larger_thread_caches() {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let failed = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
        .exec();
    tracing::debug!("serving without larger malloc caches: {failed}");
}
