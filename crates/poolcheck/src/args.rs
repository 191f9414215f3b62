//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "poolcheck",
    version,
    about = "Finds PostgreSQL connection-budget overruns and pooling pitfalls in Python deployments",
    long_about = "poolcheck reads SQLAlchemy and Django settings, gunicorn/uvicorn/celery command \
lines, PgBouncer and postgresql.conf, and reports which settings multiply into more connections \
than the database allows, with the arithmetic and every file involved."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a project and report findings.
    Check(CheckArgs),
    /// Show who opens how many connections to which server.
    Budget(BudgetArgs),
    /// List every rule.
    Rules(RulesArgs),
    /// Print a rule's documentation.
    Explain {
        /// A rule code, e.g. PC101.
        code: String,
    },
    /// Run the language server on stdin/stdout (for editors).
    Lsp(LspArgs),
}

#[derive(Debug, Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it; stdin/stdout is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Each finding with its source snippet, related locations and help.
    Human,
    /// One `file:line:col: CODE message` line per finding.
    Concise,
    /// The stable JSON document (see the README, "JSON contracts").
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions annotations (GitHub shows 10 of each type per step).
    Github,
    /// A GitLab Code Quality report.
    Gitlab,
    /// JUnit XML, one test suite per file.
    Junit,
    /// GitHub-flavoured Markdown, for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BudgetFormat {
    /// A table per database with a bar of how its slots are shared.
    Human,
    /// The stable JSON document.
    Json,
    /// GitHub-flavoured Markdown tables, for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Files or directories to check [default: .]
    pub paths: Vec<PathBuf>,
    /// Use this configuration file instead of the nearest poolcheck.toml / pyproject.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also read files that .gitignore and .ignore exclude.
    #[arg(long)]
    pub no_respect_gitignore: bool,
    /// List skipped files (binary, too large) on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// What if: override a configuration key for this run, e.g.
    /// `services.web.replicas=6`, `env.WEB_CONCURRENCY=8`,
    /// `database.max_connections=300`, `services.worker.cpu_count=16`
    /// (repeatable; the keys of poolcheck.toml, dotted).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Write the `--format` output to this file instead, and print the
    /// findings on the terminal as usual (one run: a log and a report).
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// Only these rules (codes or prefixes, comma-separated), replacing the configuration's `select`.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Option<Vec<String>>,
    /// Skip these rules (codes or prefixes, comma-separated), in addition to the configuration's `ignore`.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,
    /// Exit with 1 when a finding has at least this severity [default: warning, or the configuration's `fail-on`].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Exit with 0 even when there are findings.
    #[arg(long)]
    pub exit_zero: bool,
    /// Disregard `poolcheck: ignore[...]` comments.
    #[arg(long)]
    pub no_ignores: bool,
    /// When to use colours in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only the findings, without the summary line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Apply the safe fixes findings offer, then report what remains.
    #[arg(long)]
    pub fix: bool,
    /// With `--fix` or `--diff`, also apply unsafe fixes: those that change
    /// how the application behaves (e.g. `CONN_MAX_AGE = 0`).
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Print the changes `--fix` would make as unified diffs instead of the
    /// findings, writing nothing (even with `--fix`); exit with 1 when there
    /// is something to fix.
    #[arg(long, conflicts_with = "format")]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct BudgetArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BudgetFormat::Human)]
    pub format: BudgetFormat,
    /// Write the `--format` output to this file instead, and print the
    /// human budget on the terminal.
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// When to use colours in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}
