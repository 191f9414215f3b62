//! `poolcheck budget`: the deployment model as numbers.

use poolcheck_rules::analysis::{self, Options};

use super::{load_workspace, use_color};
use crate::EXIT_CLEAN;
use crate::args::{BudgetArgs, BudgetFormat};
use crate::render;

pub fn run(args: &BudgetArgs) -> Result<u8, String> {
    let workspace = load_workspace(&args.project)?;
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
    Ok(EXIT_CLEAN)
}
