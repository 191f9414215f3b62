//! Text to facts: one pure parser module per front-end. Nothing here reads
//! the disk: `poolcheck-workspace` discovers, reads and decodes every file
//! (included and referenced ones too), and cross-file references resolve
//! through the in-memory lookups it fills.
//!
//! Every front-end exposes `pub fn extract(file: &SourceFile, facts: &mut FileFacts)`
//! that fills the fields of its kind and pushes its diagnostics.

pub mod commands;
pub mod compose;
pub mod deps;
pub mod dockerfile;
pub mod dotenv;
pub mod helm;
pub mod kubernetes;
pub mod kustomize;
pub mod overrides;
pub mod pgbouncer;
pub mod pgconf;
pub mod procfile;
pub mod project;
pub mod python;
pub mod shell;
pub mod supervisord;
pub mod terraform;
pub mod uwsgi;
pub mod yaml;

use poolcheck_core::{FileFacts, FileKind, SourceFile};

/// Extracts one file's facts with the front-ends of its kind. Pure: reads
/// nothing but `file`.
pub fn extract(file: &SourceFile, kind: FileKind) -> FileFacts {
    let mut facts = FileFacts::new(file.path().clone(), kind);
    match kind {
        FileKind::Ini => {
            pgbouncer::extract(file, &mut facts);
            uwsgi::extract(file, &mut facts);
            supervisord::extract(file, &mut facts);
        }
        FileKind::PostgresConf => pgconf::extract(file, &mut facts),
        FileKind::PoolcheckToml => project::extract(file, &mut facts),
        FileKind::PyProject => {
            project::extract(file, &mut facts);
            deps::extract(file, &mut facts);
        }
        FileKind::Requirements
        | FileKind::PoetryLock
        | FileKind::UvLock
        | FileKind::PipfileLock => {
            deps::extract(file, &mut facts);
        }
        FileKind::Procfile => procfile::extract(file, &mut facts),
        FileKind::Dockerfile => dockerfile::extract(file, &mut facts),
        FileKind::Compose => compose::extract(file, &mut facts),
        FileKind::Kubernetes => kubernetes::extract(file, &mut facts),
        FileKind::Shell => shell::extract(file, &mut facts),
        FileKind::DotEnv => dotenv::extract(file, &mut facts),
        FileKind::Python => python::extract(file, &mut facts),
        // A chart is rendered as a whole (`helm::render_chart`), not file by file.
        FileKind::HelmChart | FileKind::HelmValues | FileKind::HelmTemplate => {}
        FileKind::Terraform => terraform::extract(file, &mut facts),
    }
    facts
}

/// Runs `f` on a thread with a 2 MiB stack, the size of the threads the
/// analysis runs on (rayon's and std's default): a recursion without a depth
/// limit overflows it and aborts the test run.
#[cfg(test)]
pub(crate) fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn a test thread")
        .join()
        .expect("the test thread finishes")
}
