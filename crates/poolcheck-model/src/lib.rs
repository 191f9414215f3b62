//! The deployment model, assembled from the in-memory workspace without
//! touching the disk. Each front-end's facts are [`lower`]ed into one
//! vocabulary, [`declarations`]; assembly ([`topology`]) builds services,
//! database servers and PgBouncers from those alone, links them and does
//! the budget arithmetic. Rules read this model and its [`facts`]; they
//! never meet the parsers.

pub mod declarations;
pub mod facts;
pub mod fix_edits;
pub mod lower;
pub mod topology;

// The workspace the model is assembled from, under the paths the model's
// modules name it by.
pub use poolcheck_workspace::{Workspace, imports, sources, workspace};
