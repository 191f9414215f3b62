//! `poolcheck check`: findings in the chosen format, and the exit status.

use poolcheck_core::Severity;
use poolcheck_rules::analysis::{self, Options};
use poolcheck_rules::selection::Overrides;

use super::{load_workspace, use_color};
use crate::args::{CheckArgs, CheckFormat, FailOn};
use crate::render;
use crate::{EXIT_CLEAN, EXIT_FINDINGS};

pub fn run(args: &CheckArgs) -> Result<u8, String> {
    validate_selectors(args.select.iter().flatten().chain(&args.ignore))?;
    let workspace = load_workspace(&args.project)?;
    let analysis = analysis::analyze(
        &workspace,
        &Options {
            overrides: Overrides {
                select: args.select.clone(),
                ignore: args.ignore.clone(),
                severity: Vec::new(),
            },
            no_ignores: args.no_ignores,
        },
    );
    let output = match args.format {
        CheckFormat::Human => render::human::render(
            &analysis.diagnostics,
            &workspace.sources,
            use_color(args.color),
            !args.quiet,
        ),
        CheckFormat::Json => render::json::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Concise => render::concise::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Sarif => render::sarif::render(
            &analysis.diagnostics,
            &workspace.sources,
            std::env::current_dir().ok().as_deref(),
        ),
        CheckFormat::Github => render::github::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Gitlab => render::gitlab::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Junit => render::junit::render(&analysis.diagnostics, &workspace.sources),
    };
    print!("{output}");

    let fail_on = match args.fail_on {
        Some(FailOn::Error) => Severity::Error,
        Some(FailOn::Warning) => Severity::Warning,
        Some(FailOn::Info) => Severity::Info,
        None => workspace
            .config
            .fail_on
            .as_ref()
            .and_then(|f| f.value)
            .unwrap_or(Severity::Warning),
    };
    let failed = analysis.diagnostics.iter().any(|d| d.severity >= fail_on);
    Ok(if failed && !args.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// A selector that names no rule is a usage error, said before any work.
fn validate_selectors<'a>(selectors: impl Iterator<Item = &'a String>) -> Result<(), String> {
    for s in selectors {
        if !poolcheck_rules::registry::selector_is_known(s) {
            return Err(format!(
                "`{s}` matches no rule code (codes look like PC101; prefixes like PC1 select a family; `poolcheck rules` lists them)"
            ));
        }
    }
    Ok(())
}
