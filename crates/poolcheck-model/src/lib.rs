//! The deployment model: the in-memory workspace of files one analysis
//! reads, the services, database servers and PgBouncers assembled from it,
//! the links between them and the budget arithmetic. Rules read this model;
//! they never meet the parsers.

pub mod imports;
pub mod sources;
pub mod topology;
pub mod workspace;

pub use workspace::Workspace;
