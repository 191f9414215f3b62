//! PgBouncer configuration: one parsed INI file, and the merged view of a
//! PgBouncer (its root file plus `%include`s, or a compose service configured by
//! environment variables).
//!
//! These are plain data. What the settings mean (types, defaults, versions)
//! lives in the PgBouncer front-end's key table and view, so that every source
//! of a [`PgBouncerConfig`] is interpreted the same way.

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
    /// Entries of every section, in file order, with their section. Entries
    /// written before the file's first header carry [`Section::Other`]: PgBouncer
    /// keeps the section that was open at the `%include` that reads the file, so
    /// only include resolution knows theirs (see `headers`).
    pub entries: Vec<(Section, ConfigEntry)>,
    /// `%include` directives in file order, placed among entries by `position`.
    pub includes: Vec<Include>,
    /// Section headers in file order.
    pub headers: Vec<SectionHeader>,
}

impl PgBouncerFile {
    /// Number of entries written before the first section header.
    pub fn leading_entries(&self) -> usize {
        self.headers
            .first()
            .map_or(self.entries.len(), |header| header.position)
    }

    /// True when the file has a section only PgBouncer uses, so it is a
    /// PgBouncer config (or a fragment of one) rather than another INI file.
    pub fn has_pgbouncer_sections(&self) -> bool {
        self.headers.iter().any(|h| {
            matches!(
                h.section,
                Section::PgBouncer | Section::Databases | Section::Users
            )
        })
    }
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

impl Section {
    /// The section a header names, ignoring case (PgBouncer itself matches
    /// exactly; the front-end reports a header whose case differs).
    pub fn from_name(name: &str) -> Section {
        let name = name.trim();
        if name.eq_ignore_ascii_case("pgbouncer") {
            Section::PgBouncer
        } else if name.eq_ignore_ascii_case("databases") {
            Section::Databases
        } else if name.eq_ignore_ascii_case("users") {
            Section::Users
        } else if name.eq_ignore_ascii_case("peers") {
            Section::Peers
        } else {
            Section::Other
        }
    }

    /// The name PgBouncer expects between the brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Databases => "databases",
            Section::Users => "users",
            Section::Peers => "peers",
            Section::PgBouncer => "pgbouncer",
            Section::Other => "other",
        }
    }
}

/// A `[name]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHeader {
    pub section: Section,
    /// The name between the brackets, as written.
    pub name: String,
    /// The whole header, brackets included.
    pub location: Location,
    /// Index into `entries` of the first entry under this header.
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The path as written, relative to the including file.
    pub path: String,
    /// The whole directive, `%include` through the end of the path.
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
    /// by key as written (PgBouncer matches these names exactly, and they are
    /// all lower-case). A key written twice keeps its last value.
    pub params: BTreeMap<String, ConfigEntry>,
}

/// A PgBouncer as the deployment sees it, after includes or from compose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBouncerConfig {
    /// Display name: the root file's path or the compose service key.
    pub name: String,
    /// The `[pgbouncer]` header or the compose service key.
    pub location: Location,
    /// `[pgbouncer]` settings, key as written (PgBouncer's names are
    /// case-sensitive and lower-case) → last definition.
    pub settings: BTreeMap<String, ConfigEntry>,
    pub databases: Vec<PoolDefinition>,
    pub users: Vec<PoolDefinition>,
    pub version: Option<Sourced<Version>>,
    pub instances: Option<Sourced<i64>>,
    /// Host names that reach this PgBouncer besides its listen address
    /// (compose service name, network aliases).
    pub host_aliases: Vec<String>,
    /// Set for a provider's pooler (Supavisor, Neon's PgBouncer, RDS
    /// Proxy…): its documented settings stand in for PgBouncer's defaults,
    /// and messages name it instead of a file.
    pub provider: Option<crate::facts::providers::PoolerSpec>,
}
