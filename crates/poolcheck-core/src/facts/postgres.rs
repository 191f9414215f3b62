//! PostgreSQL server settings: one `postgresql.conf`, and the merged view of a
//! server (config file plus includes, or `postgres -c k=v` in a compose command).

use std::collections::BTreeMap;

use crate::facts::ConfigEntry;
use crate::source::Location;
use crate::value::Sourced;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostgresConfFile {
    pub entries: Vec<ConfigEntry>,
    pub includes: Vec<PgInclude>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgIncludeKind {
    Include,
    IncludeIfExists,
    IncludeDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgInclude {
    pub kind: PgIncludeKind,
    pub path: String,
    pub location: Location,
    /// Index into `entries` before which the include takes effect.
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresServer {
    /// Display name: the config path or the compose service key.
    pub name: String,
    pub location: Location,
    /// Lower-cased GUC name → last definition.
    pub settings: BTreeMap<String, ConfigEntry>,
    pub version: Option<Sourced<Version>>,
    /// Host names that reach this server (compose service name, aliases).
    pub host_aliases: Vec<String>,
}
