//! The deployment model, assembled from the in-memory workspace without
//! touching the disk: services, database servers and PgBouncers, the links
//! between them and the budget arithmetic. Rules read this model and its
//! [`facts`]; they never meet the parsers.

pub mod facts;
pub mod fix_edits;
pub mod topology;

// The workspace the model is assembled from, under the paths the model's
// modules name it by.
pub use poolcheck_workspace::{Workspace, imports, sources, workspace};
