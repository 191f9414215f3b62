//! The typed facts rules read beside the assembled topology: a PgBouncer's
//! settings as the version in use interprets them, what a service's code
//! does at import time, its gunicorn configuration and package names.
//!
//! They are defined next to the parsers that produce them; this module is
//! the one door through which rules reach them, so that `poolcheck-rules`
//! depends on the model only and a parser's internals can move without
//! touching a rule.

pub use poolcheck_extract::deps::normalize_name as normalize_package_name;
pub use poolcheck_extract::pgbouncer::view::{
    PREPARED_STATEMENTS_SINCE, PgBouncerView, PoolMode, PreparedStatements,
    TRACK_EXTRA_PARAMETERS_SINCE,
};
pub use poolcheck_extract::python::{GunicornConfig, ImportTimeConnection};
