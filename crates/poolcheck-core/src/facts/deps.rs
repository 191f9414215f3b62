//! Pinned versions of the libraries whose behaviour the rules depend on.

use crate::source::Location;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyPin {
    /// Normalised package name (`psycopg-pool`, `sqlalchemy`).
    pub package: String,
    /// The version when the pin names one exactly or a lock file resolves it.
    pub version: Option<Version>,
    /// The requirement as written (`>=2.0,<2.1`).
    pub spec: String,
    /// Normalised extras (`psycopg[binary,pool]` → `binary`, `pool`): `pool`
    /// brings psycopg_pool, `asyncio` SQLAlchemy's greenlet.
    pub extras: Vec<String>,
    pub location: Location,
}
