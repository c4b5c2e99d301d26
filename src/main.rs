//! The `gitops` command line: parse, run, map the outcome to an exit code.

mod apply;
mod cli;
mod cluster;
mod commands;
mod config;
mod duration;
mod exit;
mod health;
mod history;
mod lock;
mod output;
#[cfg(test)]
mod pipeline_examples;
mod plan;
mod validate;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Exit;

fn main() -> ExitCode {
    // clap exits 2 on a usage error, but 2 means "changes present" here (DESIGN.md §2):
    // a bad command line is bad input, exit 1. Help and version are not errors.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Error
            } else {
                Exit::Success
            }
            .into();
        }
    };
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            Exit::Error.into()
        }
    }
}
