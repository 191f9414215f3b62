//! PgBouncer configuration: one parsed INI file, and the merged view of a
//! PgBouncer (its root file plus `%include`s, or a compose service configured by
//! environment variables).

use std::collections::BTreeMap;

use crate::facts::ConfigEntry;
use crate::source::{Location, Span};
use crate::value::Sourced;
use crate::version::Version;

/// One INI file as written, before `%include`s are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgBouncerFile {
    /// Span of the `[pgbouncer]` header; `None` in a fragment without one.
    pub pgbouncer_section: Option<Span>,
    /// Entries of every section, in file order, with their section.
    pub entries: Vec<(Section, ConfigEntry)>,
    /// `%include` directives in file order, interleaved with entries by `order`.
    pub includes: Vec<Include>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Databases,
    Users,
    Peers,
    PgBouncer,
    /// A section PgBouncer does not know; its entries are kept for diagnostics.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The path as written, relative to the including file.
    pub path: String,
    pub location: Location,
    /// Index into `entries` before which the include takes effect, so later
    /// lines override what the included file set.
    pub position: usize,
}

/// A `[databases]` or `[users]` line: the name and its `key=value` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDefinition {
    /// Database or user name; `*` is the fallback database.
    pub name: String,
    pub name_location: Location,
    /// Parameters of the connection string (`host`, `pool_size`, `pool_mode`…),
    /// lower-cased keys.
    pub params: BTreeMap<String, ConfigEntry>,
}

/// A PgBouncer as the deployment sees it, after includes or from compose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBouncerConfig {
    /// Display name: the root file's path or the compose service key.
    pub name: String,
    /// The `[pgbouncer]` header or the compose service key.
    pub location: Location,
    /// `[pgbouncer]` settings, lower-cased key → last definition.
    pub settings: BTreeMap<String, ConfigEntry>,
    pub databases: Vec<PoolDefinition>,
    pub users: Vec<PoolDefinition>,
    pub version: Option<Sourced<Version>>,
    pub instances: Option<Sourced<i64>>,
    /// Host names that reach this PgBouncer besides its listen address
    /// (compose service name, network aliases).
    pub host_aliases: Vec<String>,
}
