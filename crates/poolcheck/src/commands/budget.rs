//! `poolcheck budget`: the deployment model as numbers.

use poolcheck_rules::analysis::{self, Options};

use super::{
    load_workspace, output_path, report_unparsed_modules, resolve_target, use_color, write_report,
};
use crate::args::{BudgetArgs, BudgetFormat};
use crate::render;
use crate::{EXIT_CLEAN, EXIT_ERROR};

pub fn run(args: &BudgetArgs) -> Result<u8, String> {
    let output_file = output_path(args.output_file.as_ref());
    let target = resolve_target(&args.project)?;
    let workspace = load_workspace(&target)?;
    let analysis = analysis::analyze(&workspace, &Options::default());
    if args.project.verbose {
        super::check::report_entry_points(&analysis.deployment);
        report_unparsed_modules(&workspace);
    }
    let render_as = |format: BudgetFormat, color: bool| match format {
        BudgetFormat::Human => render::budget_human::render(
            &analysis.deployment,
            &analysis.budget,
            &workspace.sources,
            color,
        ),
        BudgetFormat::Json => {
            render::budget_json::render(&analysis.deployment, &analysis.budget, &workspace.sources)
        }
        BudgetFormat::Markdown => {
            render::markdown::budget(&analysis.deployment, &analysis.budget, &workspace.sources)
        }
    };
    match &output_file {
        Some(path) => {
            write_report(path, &render_as(args.format, false))?;
            print!("{}", render_as(BudgetFormat::Human, use_color(args.color)));
        }
        None => print!("{}", render_as(args.format, use_color(args.color))),
    }
    Ok(if target.failed {
        EXIT_ERROR
    } else {
        EXIT_CLEAN
    })
}
