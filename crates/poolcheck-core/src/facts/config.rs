//! `poolcheck.toml` / `[tool.poolcheck]`: what the user declares about the
//! deployment and how the tool should behave.

use crate::diagnostic::Severity;
use crate::source::{FilePath, Location};
use crate::value::Sourced;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectConfig {
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<FilePath>,
    pub exclude: Vec<Sourced<String>>,
    pub select: Option<Vec<Sourced<String>>>,
    pub ignore: Vec<Sourced<String>>,
    /// Per-code (or prefix) severity overrides.
    pub severity: Vec<(Sourced<String>, Severity)>,
    pub fail_on: Option<Sourced<Severity>>,
    /// PC102's free-slot fraction (default 0.1).
    pub headroom: Option<Sourced<f64>>,
    /// `[env]`: the assumed environment of every service.
    pub env: Vec<(String, Sourced<String>)>,
    /// `[database]`: the one server when the repository describes one.
    pub database: Option<DatabaseDecl>,
    /// `[databases.<name>]`: several servers.
    pub databases: Vec<DatabaseDecl>,
    pub pgbouncer: Option<PgBouncerDecl>,
    pub services: Vec<ServiceDecl>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseDecl {
    /// `None` for `[database]`, the table name for `[databases.<name>]`.
    pub name: Option<String>,
    pub location: Option<Location>,
    pub max_connections: Option<Sourced<i64>>,
    pub superuser_reserved_connections: Option<Sourced<i64>>,
    pub reserved_connections: Option<Sourced<i64>>,
    pub other_clients: Option<Sourced<i64>>,
    pub provider_reserve: Option<Sourced<i64>>,
    pub cores: Option<Sourced<i64>>,
    pub spindles: Option<Sourced<i64>>,
    /// Seconds after which something between client and server drops idle connections.
    pub idle_timeout: Option<Sourced<f64>>,
    pub version: Option<Sourced<Version>>,
    pub hosts: Vec<Sourced<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PgBouncerDecl {
    pub location: Option<Location>,
    pub version: Option<Sourced<Version>>,
    pub instances: Option<Sourced<i64>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceDecl {
    pub name: String,
    /// The `[services.<name>]` header, for PC003 when no service has that name.
    pub location: Option<Location>,
    pub replicas: Option<Sourced<i64>>,
    pub paths: Vec<Sourced<String>>,
    pub cpu_count: Option<Sourced<i64>>,
    pub env: Vec<(String, Sourced<String>)>,
}
