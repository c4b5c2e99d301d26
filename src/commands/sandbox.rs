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
