//! `poolcheck`: the command line. A library so that two packages build the
//! same binary from it: this crate's, and the repository root's, which is
//! what pre-commit's `cargo install --path .` installs.

mod args;
mod commands;
mod fix;
mod render;

use std::process::ExitCode;

use clap::Parser;

/// Exit statuses: 0 nothing at or above `--fail-on`, 1 findings, 2 usage or
/// internal error.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line, runs the subcommand and returns the exit status.
pub fn run() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with status 0 and usage errors with 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            });
        }
    };
    let result = match cli.command {
        args::Command::Check(a) => commands::check::run(&a),
        args::Command::Budget(a) => commands::budget::run(&a),
        args::Command::Rules(a) => commands::rules::run(&a),
        args::Command::Explain { code } => commands::explain::run(&code),
        args::Command::Lsp(_) => commands::lsp::run(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("poolcheck: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
