//! Findings from the deployment model (`poolcheck-model`): one file per
//! rule, selection, suppressions and fix plans. [`analysis::analyze`] is what the CLI and the
//! language server both call.

pub mod analysis;
pub mod context;
pub mod fix_plan;
pub mod registry;
pub mod rules;
pub mod selection;
pub mod suppress;

pub use analysis::{Analysis, analyze};
// The model's modules under their former paths, so that `crate::topology`
// and `poolcheck_rules::workspace` keep naming them.
pub use poolcheck_model::{Workspace, imports, sources, topology, workspace};
