//! The whole pipeline on a generated project: `arbitrary` drives a
//! generator of files (Python modules with many pools and deep nesting,
//! PgBouncer and postgresql.conf include graphs, compose, Procfile,
//! Dockerfile, scripts, configuration), written to a temporary directory and
//! checked as the CLI checks a directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_fuzz::project::Project;

fuzz_target!(|project: Project| {
    poolcheck_fuzz::project::check(&project);
});
