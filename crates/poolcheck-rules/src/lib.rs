//! Facts to findings: assembly of the deployment model, the budget arithmetic
//! and one file per rule. [`analysis::analyze`] is what the CLI and the
//! language server both call.

pub mod analysis;
pub mod context;
pub mod fix_plan;
pub mod imports;
pub mod registry;
pub mod rules;
pub mod selection;
pub mod sources;
pub mod suppress;
pub mod topology;
pub mod workspace;

pub use analysis::{Analysis, analyze};
pub use workspace::Workspace;
