//! Files to facts: discovery (walk, classify, prefilter) and one module per
//! front-end. Extraction is pure per file; cross-file references are recorded
//! and resolved by the rules crate when it assembles the deployment.
//!
//! Every front-end exposes `pub fn extract(file: &SourceFile, facts: &mut FileFacts)`
//! that fills the fields of its kind and pushes its diagnostics.

pub mod commands;
pub mod compose;
pub mod deps;
pub mod discover;
pub mod dockerfile;
pub mod dotenv;
pub mod pgbouncer;
pub mod pgconf;
pub mod procfile;
pub mod project;
pub mod python;
pub mod shell;
pub mod uwsgi;
