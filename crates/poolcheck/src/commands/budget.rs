//! `poolcheck budget`: the deployment model as numbers.

use poolcheck_rules::analysis::{self, Options};

use super::{load_workspace, resolve_target, use_color};
use crate::args::{BudgetArgs, BudgetFormat};
use crate::render;
use crate::{EXIT_CLEAN, EXIT_ERROR};

pub fn run(args: &BudgetArgs) -> Result<u8, String> {
    let target = resolve_target(&args.project)?;
    let workspace = load_workspace(&target)?;
    let analysis = analysis::analyze(&workspace, &Options::default());
    let output = match args.format {
        BudgetFormat::Human => render::budget_human::render(
            &analysis.deployment,
            &analysis.budget,
            &workspace.sources,
            use_color(args.color),
        ),
        BudgetFormat::Json => {
            render::budget_json::render(&analysis.deployment, &analysis.budget, &workspace.sources)
        }
    };
    print!("{output}");
    Ok(if target.failed {
        EXIT_ERROR
    } else {
        EXIT_CLEAN
    })
}
