//! The `gitops` command line: parse, run, map the outcome to an exit code.

mod apply;
mod cli;
mod cluster;
mod commands;
mod config;
mod duration;
mod exit;
mod history;
mod lock;
mod output;
mod plan;
mod health;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            Exit::Error.into()
        }
    }
}
