//! `poolcheck check`: findings in the chosen format, and the exit status.

use poolcheck_core::Severity;
use poolcheck_rules::analysis::{self, Options};
use poolcheck_rules::fix_plan::FixMode;
use poolcheck_rules::selection::Overrides;

use poolcheck_rules::workspace::Workspace;

use super::{
    Target, load_workspace, load_workspace_quietly, output_path, report_load,
    report_unparsed_modules, resolve_target, show_from_cwd, use_color, write_report,
};
use crate::args::{CheckArgs, CheckFormat, FailOn};
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use crate::{fix, render};

pub fn run(args: &CheckArgs) -> Result<u8, String> {
    validate_selectors(args.select.iter().flatten().chain(&args.ignore))?;
    let options = Options {
        overrides: Overrides {
            select: args.select.clone(),
            ignore: args.ignore.clone(),
            severity: Vec::new(),
        },
        no_ignores: args.no_ignores,
    };
    let output_file = output_path(args.output_file.as_ref());
    let target = resolve_target(&args.project)?;
    let status = check(args, &options, &target, output_file.as_deref())?;
    Ok(if target.failed { EXIT_ERROR } else { status })
}

fn check(
    args: &CheckArgs,
    options: &Options,
    target: &Target,
    output_file: Option<&std::path::Path>,
) -> Result<u8, String> {
    if args.diff {
        return Ok(diff(args, options, load_workspace(target)?));
    }
    let (mut workspace, mut analysis, fixed) = if args.fix {
        let (workspace, analysis, outcome) = fix::fix(
            || load_workspace_quietly(&target.project),
            options,
            fix_mode(args),
            |warning| eprintln!("poolcheck: warning: {warning}"),
        )?;
        report_load(target, &workspace);
        if outcome.gave_up {
            eprintln!(
                "poolcheck: warning: fixes were still being found after {} rounds; run `poolcheck check --fix` again or report the rule that keeps firing",
                fix::MAX_ROUNDS
            );
        }
        (workspace, analysis, Some(outcome))
    } else {
        let workspace = load_workspace(target)?;
        let analysis = analysis::analyze(&workspace, options);
        (workspace, analysis, None)
    };
    show_from_cwd(target, &mut analysis.diagnostics, &mut workspace.sources);
    if args.project.verbose {
        report_entry_points(&analysis.deployment);
        report_unparsed_modules(&workspace);
    }
    // Machine-readable formats keep stdout to the document; the fix count
    // goes to stderr there.
    let fixed_line = fixed
        .filter(|o| o.fixed > 0 && !args.quiet)
        .map(|o| o.summary());
    if args.format != CheckFormat::Human && output_file.is_none() {
        if let Some(line) = &fixed_line {
            eprintln!("{line}");
        }
    }
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
    let render_as = |format: CheckFormat, color: bool| match format {
        CheckFormat::Human => {
            let mut closing = Vec::new();
            if !args.quiet {
                closing.extend(fixed_line.clone());
                closing.push(render::human::summary_line(&analysis.diagnostics));
                closing.extend(render::human::fixable_line(
                    &analysis.diagnostics,
                    args.fix,
                    args.unsafe_fixes,
                ));
            }
            render::human::render(&analysis.diagnostics, &workspace.sources, color, &closing)
        }
        CheckFormat::Json => render::json::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Concise => render::concise::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Sarif => render::sarif::render(
            &analysis.diagnostics,
            &workspace.sources,
            std::env::current_dir().ok().as_deref(),
        ),
        CheckFormat::Github => render::github::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Gitlab => render::gitlab::render(&analysis.diagnostics, &workspace.sources),
        CheckFormat::Junit => {
            render::junit::render(&analysis.diagnostics, &workspace.sources, fail_on)
        }
        CheckFormat::Markdown => render::markdown::check(&analysis.diagnostics, &workspace.sources),
    };
    match output_file {
        // The chosen format goes to the file, and the terminal still gets
        // the findings, so one CI step can both log and upload a report.
        Some(path) => {
            write_report(path, &render_as(args.format, false))?;
            if args.format != CheckFormat::Human || !args.quiet {
                print!("{}", render_as(CheckFormat::Human, use_color(args.color)));
            }
        }
        None => print!("{}", render_as(args.format, use_color(args.color))),
    }

    let failed = analysis.diagnostics.iter().any(|d| d.severity >= fail_on);
    Ok(if failed && !args.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// `--diff`: the unified diffs of what `--fix` would write, on stdout, and
/// how many findings that fixes, on stderr. Exits 1 when there is a change.
fn diff(args: &CheckArgs, options: &Options, workspace: Workspace) -> u8 {
    let preview = fix::preview(workspace, options, fix_mode(args), |warning| {
        eprintln!("poolcheck: warning: {warning}");
    });
    for (file, change) in &preview.changes {
        print!("{}", fix::unified_diff(file, change));
    }
    if !args.quiet {
        if preview.changes.is_empty() {
            eprintln!("No fixes to apply.");
        } else {
            eprintln!(
                "Would fix {}.",
                fix::problems_in_files(preview.fixed, preview.changes.len())
            );
        }
    }
    if preview.changes.is_empty() || args.exit_zero {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    }
}

fn fix_mode(args: &CheckArgs) -> FixMode {
    if args.unsafe_fixes {
        FixMode::IncludeUnsafe
    } else {
        FixMode::SafeOnly
    }
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

/// Which code each service was charged for, and which compose files were
/// left out, on stderr with `--verbose`.
pub(crate) fn report_entry_points(deployment: &poolcheck_rules::topology::Deployment) {
    for file in &deployment.test_compose_files {
        eprintln!(
            "poolcheck: left out {file}: a compose file for test runs, so its services are not counted"
        );
    }
    for service in &deployment.services {
        match (&service.entry, &service.runs_all_code) {
            (Some(entry), _) => eprintln!(
                "poolcheck: service `{}` runs the code `{entry}` imports",
                service.name
            ),
            (None, Some(reason)) => eprintln!(
                "poolcheck: service `{}` runs all service code ({reason})",
                service.name
            ),
            (None, None) => {}
        }
    }
}
