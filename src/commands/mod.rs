//! One file per subcommand: glue between the CLI and the library modules.

pub(crate) mod apply;
mod approve;
mod build;
mod history;
pub(crate) mod plan;
mod render;
mod rollback;
mod sandbox;
pub(crate) mod show;
mod unlock;
mod validate;
mod watch;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Run the parsed command line; the `Exit` says how it ended.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Build(args) => build::run(&cli.global, &args),
        Command::Render(args) => render::run(&cli.global, &args),
        Command::Plan(args) => plan::run(&cli.global, &args),
        Command::Show(args) => show::run(&args),
        Command::Validate(args) => validate::run(&cli.global, &args),
        Command::Apply(args) => apply::run(&cli.global, &args),
        Command::History(args) => history::run(&cli.global, &args),
        Command::Rollback(args) => rollback::run(&cli.global, &args),
        Command::Unlock(args) => unlock::run(&cli.global, &args),
        Command::Sandbox(args) => sandbox::run(&cli.global, &args),
        Command::Watch(args) => watch::run(&cli.global, &args),
        Command::Approve(args) => approve::run(&cli.global, &args),
    }
}
