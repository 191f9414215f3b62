//! The files one analysis reads, loaded up front: discovered, read, decoded
//! and extracted, with every file they reference (includes, imported modules,
//! compose `env_file`s). This is the only crate that reads the disk: the
//! parsers of `poolcheck-extract` get text, the model, the rules and the
//! language server work on the in-memory [`Workspace`], whose file paths are
//! relative to the project root wherever the process runs.

pub mod config;
pub mod discover;
pub mod imports;
pub mod sources;
pub mod workspace;

pub use workspace::Workspace;
